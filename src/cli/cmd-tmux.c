/* netlab tmux: a tmux session with one window per VM's console, as the
 * seed's lab had with screen. */
#include "attach.h"
#include "cmd.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "[LABDIR]: a tmux window on each VM's console", entries, &argc, &argv, &t,
                    error))
    return -1;
  const char *labdir = t.labdir;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  return nl_tmux_open(labdir, st, &nl_cmd_say, error) ? 0 : -1;
}

const NlCmd nl_cmd_tmux = {"tmux", NULL, "open a tmux session with a window per VM console",
                           .target = NL_TARGET_LAB, .run = run};
