/* netlab tmux: a tmux session with one window per VM's console, as the
 * seed's lab had with screen. */
#include "attach.h"
#include "cmd.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"}, {NULL}};
  if (!nl_cmd_parse("tmux", "[LABDIR]: a tmux window on each VM's console", entries, &argc, &argv,
                    error))
    return -1;
  g_autofree char *labdir = nl_cmd_labdir(d, argc, argv, error);
  if (!labdir) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  return nl_tmux_open(labdir, st, error) ? 0 : -1;
}

const NlCmd nl_cmd_tmux = {"tmux", NULL, "open a tmux session with a window per VM console", run};
