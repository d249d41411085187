/* netlab ls: every lab this user has up, with its nodes and how long it
 * has been up; with NODE:PATH, a directory of a node, running or stopped. */
#include <stdio.h>

#include "cmd.h"
#include "nodefile.h"
#include "state.h"
#include "util.h"

static char *age(gint64 secs) {
  if (secs < 60) return g_strdup_printf("%" G_GINT64_FORMAT "s", secs);
  if (secs < 3600)
    return g_strdup_printf("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", secs / 60, secs % 60);
  if (secs < 86400)
    return g_strdup_printf("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m", secs / 3600,
                           secs % 3600 / 60);
  return g_strdup_printf("%" G_GINT64_FORMAT "d%02" G_GINT64_FORMAT "h", secs / 86400,
                         secs % 86400 / 3600);
}

/* NODE:PATH, through the agent or the node's disk. */
static int ls_node(const char *labdir, const char *node, const char *path, gboolean json,
                   GError **error) {
  fflush(stdout);
  return nl_node_ls(labdir, node, path, json, 1, error) ? 0 : -1;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json,
       "With NODE:PATH: one JSON object, its entries with type, mode and size", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "[NODE:PATH]: list the labs that are up, or a node's directory", entries,
                    &argc, &argv, &t, error))
    return -1;
  g_autofree char *node = NULL, *path = NULL;
  if (argc == 2 && nl_node_path_parse(argv[1], &node, &path))
    return ls_node(t.labdir, node, path, json, error);
  if (argc > 1) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "ls: unexpected argument '%s' (NODE:PATH lists "
                "a node's directory)",
                argv[1]);
    return -1;
  }
  if (json) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "ls: --json lists a node's directory: NODE:PATH");
    return -1;
  }
  g_autoptr(GPtrArray) labs = nl_state_list(error);
  if (!labs) return -1;
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  if (labs->len) printf("%-40s %-8s %s\n", "LAB", "UP", "NODES");
  for (guint i = 0; i < labs->len; i++) {
    NlLabUp *l = labs->pdata[i];
    g_ptr_array_add(l->nodes, NULL);
    g_autofree char *nodes = g_strjoinv(" ", (char **)l->nodes->pdata);
    g_autofree char *up = age(MAX(0, now - l->since));
    printf("%-40s %-8s %s\n", l->lab, up, nodes);
  }
  return 0;
}

const NlCmd nl_cmd_ls = {"ls", NULL,
                         "list the labs that are up, or with NODE:PATH a node's directory",
                         .target = NL_TARGET_DIR, .run = run};
