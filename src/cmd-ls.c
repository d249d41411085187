/* netlab ls: list a directory of a node, running or stopped. */
#include <stdio.h>

#include "cmd.h"
#include "nodefile.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"}, {NULL}};
  if (!nl_cmd_parse("ls", "NODE:PATH: list a directory of a node", entries, &argc, &argv, error))
    return -1;
  g_autofree char *node = NULL, *path = NULL;
  if (argc != 2 || !nl_node_path_parse(argv[1], &node, &path)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "ls: expected NODE:PATH");
    return -1;
  }
  g_autofree char *labdir = nl_cmd_vm_labdir(d, error);
  if (!labdir) return -1;
  g_autoptr(NlNodeFiles) f = nl_node_files_open(labdir, node, FALSE, error);
  if (!f) return -1;
  g_autofree char *text = nl_node_files_ls(f, path, error);
  if (!text) return -1;
  fputs(text, stdout);
  return 0;
}

const NlCmd nl_cmd_ls = {"ls", NULL, "list a directory of a node, running or stopped", run};
