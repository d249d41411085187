#include "tmux.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "lab.h"
#include "util.h"
#include "vm.h"

gboolean nl_tmux(const char *const *argv, GError **error) {
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_strv_builder_add(b, "tmux");
  g_strv_builder_addv(b, (const char **)argv);
  g_auto(GStrv) full = g_strv_builder_end(b);
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;
  if (!g_spawn_sync(NULL, full, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                    NULL, &err, &status, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot run tmux: %s", local->message);
    return FALSE;
  }
  if (g_spawn_check_wait_status(status, NULL)) return TRUE;
  g_strstrip(err);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "tmux %s: %s", argv[0], *err ? err : "failed");
  return FALSE;
}

gboolean nl_tmux_open(const char *labdir, const NlState *st, const NlProgress *say,
                      GError **error) {
  g_autoptr(GPtrArray) vms = nl_vm_names(st);
  if (!nl_state_exists(st) || vms->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", labdir);
    return FALSE;
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
    /* Kathará's num_terms and shell, from the lab as it is now. */
    g_autoptr(NlLab) lab = nl_lab_load(labdir, NULL, NULL);
    gboolean created = FALSE;
    for (guint i = 0; i < vms->len; i++) {
      const char *vm = vms->pdata[i];
      const NlNode *node = lab ? nl_lab_find_node(lab, vm) : NULL;
      int terms = node && node->num_terms >= 0 ? node->num_terms : 1;
      for (int t = 0; t < terms; t++) {
        /* A refused attach (another console has the VM) stays readable.
         * The console is one client at a time: the other terminals are
         * shells through the agent. */
        g_autofree char *cmd =
            t == 0 ? g_strdup_printf("%s console -d %s %s", qself, qlab, vm)
                   : g_strdup_printf("%s exec -t --dir %s %s -- %s", qself, qlab, vm,
                                     node && node->shell ? node->shell : "bash");
        g_autofree char *shown =
            g_strconcat(cmd, " || read -r -p 'netlab: press Enter to close' _", NULL);
        g_autofree char *name = t == 0 ? g_strdup(vm) : g_strdup_printf("%s-%d", vm, t + 1);
        const char *create[] = {"new-session", "-d", "-s", session, "-n", name, shown, NULL};
        const char *add[] = {"new-window", "-d", "-t", next, "-n", name, shown, NULL};
        if (!nl_tmux(created ? add : create, error)) return FALSE;
        created = TRUE;
      }
    }
    if (!created) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "every node of '%s' has num_terms=0: no terminal to open", labdir);
      return FALSE;
    }
  }
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    nl_say(say, NL_SAY_PROGRESS, "tmux session '%s' has a window per VM: tmux attach -t %s",
           session, session);
    return TRUE;
  }
  fflush(stdout);
  const char *attach[] = {"tmux", g_getenv("TMUX") ? "switch-client" : "attach-session", "-t",
                          exact, NULL};
  execvp(attach[0], (char **)attach);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot run tmux: %s", g_strerror(errno));
  return FALSE;
}
