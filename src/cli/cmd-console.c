/* netlab console: the terminal on a VM's serial console, which runs a root
 * shell; or, with --log, what that console printed, as `docker logs` does. */
#include "attach.h"
#include "cmd.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean force = FALSE, log = FALSE, follow = FALSE;
  const GOptionEntry entries[] = {
      {"force", 0, 0, G_OPTION_ARG_NONE, &force,
       "Take the console over from another netlab console", NULL},
      {"log", 0, 0, G_OPTION_ARG_NONE, &log, "Print the console log (kept after the lab is down)",
       NULL},
      {"follow", 'f', 0, G_OPTION_ARG_NONE, &follow, "With --log: keep printing", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "VM: attach to a VM's console (Ctrl-] detaches)", entries, &argc, &argv, &t,
                    error))
    return -1;
  if (argc != 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "console: usage: netlab console [-d LABDIR] [--force | --log [-f]] VM");
    return -1;
  }
  if (follow && !log) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "console: -f goes with --log");
    return -1;
  }
  const char *labdir = t.labdir;
  if (log) return nl_console_log(labdir, argv[1], follow, error) ? 0 : -1;

  g_autoptr(NlVm) vm = nl_vm_find(labdir, argv[1], error);
  if (!vm) return -1;
  return nl_console_attach(vm, force, &nl_cmd_say, error) ? 0 : -1;
}

const NlCmd nl_cmd_console = {"console", "connect", "attach to a VM's serial console",
                              .target = NL_TARGET_DIR, .run = run};
