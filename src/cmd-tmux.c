/* netlab tmux: a tmux session with one window per VM, each attached to that
 * VM's console; made once per lab, then attached (or switched to, inside
 * tmux). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "attach.h"
#include "cmd.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"}, {NULL}};
  if (!nl_cmd_parse("tmux", "[LABDIR]: a tmux window on each VM's console", entries, &argc,
                    &argv, error))
    return -1;
  g_autofree char *labdir = nl_cmd_labdir(d, argc, argv, error);
  if (!labdir) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  g_autoptr(GPtrArray) vms = nl_vm_names(st);
  if (!nl_state_exists(st) || vms->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", labdir);
    return -1;
  }
  /* tmux takes '.' and ':' in a target as window and pane separators; the
   * lab id has neither. */
  g_autofree char *session = g_strconcat("netlab-", st->id, NULL);
  g_autofree char *exact = g_strconcat("=", session, NULL);
  if (!nl_tmux((const char *[]){"has-session", "-t", exact, NULL}, NULL)) {
    /* The windows run this very netlab, wherever it was started from. */
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *qself = g_shell_quote(self ? self : "netlab");
    g_autofree char *qlab = g_shell_quote(labdir);
    g_autofree char *next = g_strconcat(session, ":", NULL);
    for (guint i = 0; i < vms->len; i++) {
      const char *vm = vms->pdata[i];
      /* A refused attach (another console has the VM) stays readable. */
      g_autofree char *cmd = g_strdup_printf(
          "%s console -d %s %s || read -r -p 'netlab: press Enter to close' _", qself, qlab,
          vm);
      const char *create[] = {"new-session", "-d", "-s", session, "-n", vm, cmd, NULL};
      const char *add[] = {"new-window", "-d", "-t", next, "-n", vm, cmd, NULL};
      if (!nl_tmux(i == 0 ? create : add, error)) return -1;
    }
  }
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    printf("tmux session '%s' has a window per VM: tmux attach -t %s\n", session, session);
    return 0;
  }
  const char *attach[] = {"tmux", g_getenv("TMUX") ? "switch-client" : "attach-session",
                          "-t", exact, NULL};
  execvp(attach[0], (char **)attach);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot run tmux: %s", g_strerror(errno));
  return -1;
}

const NlCmd nl_cmd_tmux = {"tmux", NULL, "open a tmux session with a window per VM console",
                           run};
