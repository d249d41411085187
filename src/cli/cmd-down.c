/* netlab down: stop a lab's VMs and switches and remove its state. Safe to
 * repeat, and after an `up` that crashed or was killed. */
#include <stdio.h>

#include "cmd.h"
#include "events.h"
#include "disk.h"
#include "run.h"
#include "state.h"
#include "util.h"

/* How long a node's .shutdown scripts may run before down kills them. */
#define SHUTDOWN_TIMEOUT_S 10

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean wipe = FALSE;
  const GOptionEntry entries[] = {
      {"wipe", 0, 0, G_OPTION_ARG_NONE, &wipe, "Also remove the nodes' disks", NULL}, {NULL}};
  if (!nl_cmd_parse(g, "stop a lab", entries, &argc, &argv, &t, error)) return -1;
  const char *labdir = t.labdir;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  /* Never "not up" while the lab's processes run, wherever its state is. */
  g_autofree char *running = nl_state_exists(st) ? NULL : nl_state_find_running(st);
  if (running) {
    g_free(st->dir);
    st->dir = g_steal_pointer(&running);
  }
  if (!nl_state_exists(st)) {
    fprintf(stderr, "netlab: lab '%s' is not up\n", labdir);
  } else {
    if (!nl_state_lock(st, TRUE, error)) return -1;
    /* Before the state directory, and the log in it, are gone. */
    nl_event_emit(st->dir, labdir, "lab", "state", "down", NULL);
    g_autoptr(GPtrArray) notes = nl_run_shutdown_scripts(st, SHUTDOWN_TIMEOUT_S);
    for (guint i = 0; i < notes->len; i++)
      fprintf(stderr, "netlab: warning: %s\n", (char *)notes->pdata[i]);
    if (!nl_run_down(st, &nl_cmd_say, error)) return -1;
    fprintf(stderr, "lab '%s' is down\n", labdir);
  }
  return wipe ? nl_cmd_wipe_disks(labdir, NULL, error) : 0;
}

const NlCmd nl_cmd_down = {"down", NULL, "stop a lab and remove its state", .target = NL_TARGET_LAB,
                           .run = run};
