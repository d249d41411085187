/* netlab down: stop a lab's VMs and switches and remove its state. Safe to
 * repeat, and after an `up` that crashed or was killed. */
#include <stdio.h>

#include "cmd.h"
#include "run.h"
#include "state.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"}, {NULL}};
  if (!nl_cmd_parse("down", "stop a lab", entries, &argc, &argv, error)) return -1;
  g_autofree char *labdir = nl_cmd_labdir(d, argc, argv, error);
  if (!labdir && argc <= 2 && !(d && argc > 1)) {
    /* A lab can outlive its directory (a test's temporary copy, removed
     * after a crash): its state is then found from the path as given. */
    g_autofree char *canon = g_canonicalize_filename(d ? d : argc > 1 ? argv[1] : ".", NULL);
    g_autoptr(NlState) gone = nl_state_for(canon, NULL);
    if (gone && nl_state_exists(gone)) {
      g_clear_error(error);
      labdir = g_steal_pointer(&canon);
    }
  }
  if (!labdir) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  if (!nl_state_exists(st)) {
    fprintf(stderr, "netlab: lab '%s' is not up\n", labdir);
    return 0;
  }
  if (!nl_state_lock(st, TRUE, error) || !nl_run_down(st, error)) return -1;
  fprintf(stderr, "lab '%s' is down\n", labdir);
  return 0;
}

const NlCmd nl_cmd_down = {"down", NULL, "stop a lab and remove its state", run};
