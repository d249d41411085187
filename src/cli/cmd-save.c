/* netlab save: write nodes' changed files back into the lab's <node>/
 * directories, so that a configuration made by hand is part of the lab. */
#include <stdio.h>
#include <sys/stat.h>

#include "cmd.h"
#include "disk.h"
#include "save.h"
#include "state.h"
#include "layout.h"
#include "util.h"

static void note(const char *line, gpointer data) { fprintf(stderr, "%s\n", line); }

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  NlSaveOptions o = {0};
  const GOptionEntry entries[] = {{"all", 'a', 0, G_OPTION_ARG_NONE, &o.all,
                                   "Every changed file, not only /etc and what <node>/ has", NULL},
                                  {"force", 'f', 0, G_OPTION_ARG_NONE, &o.force,
                                   "Overwrite lab files changed since the node booted", NULL},
                                  {NULL}};
  if (!nl_cmd_parse(g, "[NODE...]: write nodes' changed files into LABDIR/<node>/", entries, &argc,
                    &argv, &t, error))
    return -1;
  const char *labdir = t.labdir;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab) return -1;
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  for (int i = 1; i < argc; i++) {
    if (!nl_lab_find_node(lab, argv[i])) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "the lab has no node '%s'", argv[i]);
      return -1;
    }
    g_ptr_array_add(names, argv[i]);
  }
  for (guint i = 0; argc < 2 && i < lab->nodes->len; i++)
    g_ptr_array_add(names, ((NlNode *)lab->nodes->pdata[i])->name);
  g_ptr_array_add(names, NULL);

  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  gboolean up = nl_state_exists(st);
  /* A lab up: files edited after `up` are the ones to protect. */
  struct stat lab_st;
  g_autofree char *up_file = nl_layout_key(st->dir, "lab");
  o.up_since = up && stat(up_file, &lab_st) == 0 ? lab_st.st_mtime : 0;
  guint written = 0, usable = 0;
  g_autoptr(GError) local = NULL;
  gboolean ok =
      nl_save_nodes(labdir, (char **)names->pdata, &o, note, NULL, &written, &usable, &local);
  if (ok && !usable) {
    if (up)
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "nothing to save: the VMs of lab '%s' do not answer and have no disks", labdir);
    else
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "nothing to save: lab '%s' is not up and no node has a disk, so no node's "
                  "changes are kept (save while the lab is up, or give nodes a disk with "
                  "r1[disk]=\"1g\" or LAB_DISK=\"1g\")",
                  labdir);
    return -1;
  }
  fprintf(stderr, "%u file(s) written into '%s'\n", written, labdir);
  if (!ok) {
    g_propagate_error(error, g_steal_pointer(&local));
    return -1;
  }
  return 0;
}

const NlCmd nl_cmd_save = {"save", NULL, "write nodes' changed files into the lab",
                           .target = NL_TARGET_DIR, .run = run};
