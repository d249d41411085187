/* netlab cat: print a file of a node, running or stopped. */
#include <stdio.h>

#include "cmd.h"
#include "nodefile.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "NODE:PATH...: print files of a node", entries, &argc, &argv, &t, error))
    return -1;
  if (argc < 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "cat: expected NODE:PATH");
    return -1;
  }
  const char *labdir = t.labdir;
  g_autoptr(NlNodeFiles) f = NULL;
  g_autofree char *open_node = NULL;
  for (int i = 1; i < argc; i++) {
    g_autofree char *node = NULL, *path = NULL;
    if (!nl_node_path_parse(argv[i], &node, &path)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "cat: '%s' is not NODE:PATH", argv[i]);
      return -1;
    }
    /* One appliance launch for all the files of a stopped node. */
    if (!f || g_strcmp0(open_node, node) != 0) {
      g_clear_pointer(&f, nl_node_files_close);
      f = nl_node_files_open(labdir, node, FALSE, error);
      if (!f) return -1;
      g_free(open_node);
      open_node = g_strdup(node);
    }
    fflush(stdout);
    if (!nl_node_files_read(f, path, 1, error)) return -1;
  }
  return 0;
}

const NlCmd nl_cmd_cat = {"cat", NULL, "print a file of a node, running or stopped",
                          .target = NL_TARGET_DIR, .run = run};
