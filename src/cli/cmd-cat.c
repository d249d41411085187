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
  g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  for (int i = 1; i < argc; i++) {
    char *node = NULL, *path = NULL;
    if (!nl_node_path_parse(argv[i], &node, &path)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "cat: '%s' is not NODE:PATH", argv[i]);
      return -1;
    }
    g_ptr_array_add(nodes, node);
    g_ptr_array_add(paths, path);
  }
  g_ptr_array_add(nodes, NULL);
  g_ptr_array_add(paths, NULL);
  /* One child, one appliance launch for all the files of stopped nodes. */
  fflush(stdout);
  if (!nl_node_cat(t.labdir, (char **)nodes->pdata, (char **)paths->pdata, 1, error)) return -1;
  return 0;
}

const NlCmd nl_cmd_cat = {"cat", NULL, "print a file of a node, running or stopped",
                          .target = NL_TARGET_DIR, .run = run};
