/* netlab down: stop a lab's VMs and switches and remove its state. Safe to
 * repeat, and after an `up` that crashed or was killed. */
#include <stdio.h>

#include "cmd.h"
#include "disk.h"
#include "run.h"
#include "state.h"
#include "util.h"

/* How long a node's .shutdown scripts may run before down kills them. */
#define SHUTDOWN_TIMEOUT_S 10

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  gboolean wipe = FALSE;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"},
      {"wipe", 0, 0, G_OPTION_ARG_NONE, &wipe, "Also remove the nodes' disks", NULL},
      {NULL}};
  if (!nl_cmd_parse("down", "stop a lab", entries, &argc, &argv, error)) return -1;
  const char *given = nl_cmd_labdir_arg(d, argc, argv, error);
  if (!given) return -1;
  g_autoptr(GError) missing = NULL;
  g_autofree char *labdir = nl_realpath(given, &missing);
  if (!labdir) {
    /* A lab can outlive its directory (a test's temporary copy, removed
     * after a crash): its state is then found from the path as given. */
    g_autofree char *canon = g_canonicalize_filename(given, NULL);
    g_autoptr(NlState) gone = nl_state_for(canon, NULL);
    if (!gone || !nl_state_exists(gone)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s", missing->message);
      return -1;
    }
    labdir = g_steal_pointer(&canon);
  }
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  if (!nl_state_exists(st)) {
    fprintf(stderr, "netlab: lab '%s' is not up\n", labdir);
  } else {
    if (!nl_state_lock(st, TRUE, error)) return -1;
    g_autoptr(GPtrArray) notes = nl_run_shutdown_scripts(st, SHUTDOWN_TIMEOUT_S);
    for (guint i = 0; i < notes->len; i++)
      fprintf(stderr, "netlab: warning: %s\n", (char *)notes->pdata[i]);
    if (!nl_run_down(st, &nl_cmd_say, error)) return -1;
    fprintf(stderr, "lab '%s' is down\n", labdir);
  }
  return wipe ? nl_cmd_wipe_disks(labdir, NULL, error) : 0;
}

const NlCmd nl_cmd_down = {"down", NULL, "stop a lab and remove its state", run};
