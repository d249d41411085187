/* netlab wipe: remove nodes' disks, so that they boot fresh next time. */
#include "cmd.h"
#include "state.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "[NODE...]: remove nodes' disks (all without NODE)", entries, &argc, &argv,
                    &t, error))
    return -1;
  const char *labdir = t.labdir;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  if (nl_state_exists(st)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "lab '%s' is up: its VMs use their disks (`netlab down --wipe` stops it and "
                "removes them)",
                labdir);
    return -1;
  }
  return nl_cmd_wipe_disks(labdir, argv + 1, error);
}

const NlCmd nl_cmd_wipe = {"wipe", NULL, "remove nodes' disks (a fresh start)",
                           .target = NL_TARGET_DIR, .run = run};
