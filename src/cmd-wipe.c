/* netlab wipe: remove nodes' disks, so that they boot fresh next time. */
#include "cmd.h"
#include "state.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"}, {NULL}};
  if (!nl_cmd_parse("wipe", "[NODE...]: remove nodes' disks (all without NODE)", entries, &argc,
                    &argv, error))
    return -1;
  g_autofree char *labdir = nl_cmd_vm_labdir(d, error);
  if (!labdir) return -1;
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

const NlCmd nl_cmd_wipe = {"wipe", NULL, "remove nodes' disks (a fresh start)", run};
