/* netlab diff: what a node changed against the host's root (its overlay's
 * upper layer), with -p the content diffs. */
#include <stdio.h>

#include "cmd.h"
#include "nodefile.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean patch = FALSE;
  const GOptionEntry entries[] = {
      {"patch", 'p', 0, G_OPTION_ARG_NONE, &patch, "Show the content diffs of files", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "NODE: what a node changed against the host's root", entries, &argc, &argv,
                    &t, error))
    return -1;
  if (argc != 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "diff: expected NODE");
    return -1;
  }
  fflush(stdout);
  if (!nl_node_diff(t.labdir, argv[1], patch, 1, error)) return -1;
  return 0;
}

const NlCmd nl_cmd_diff = {"diff", NULL, "show what a node changed against the host's root",
                           .target = NL_TARGET_DIR, .run = run};
