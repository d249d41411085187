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
  g_autoptr(GPtrArray) files = nl_node_files_open_all(labdir, (char **)names->pdata, FALSE, error);
  if (!files) return -1;
  guint usable = 0, written = 0;
  for (guint i = 0; i < files->len; i++) usable += nl_node_files_usable(files->pdata[i]);
  if (!usable) {
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
  /* A lab up: files edited after `up` are the ones to protect. */
  struct stat lab_st;
  g_autofree char *up_file = nl_layout_key(st->dir, "lab");
  gint64 up_time = up && stat(up_file, &lab_st) == 0 ? lab_st.st_mtime : 0;
  gboolean ok = TRUE;
  for (guint i = 0; i < files->len; i++) {
    NlNodeFiles *f = files->pdata[i];
    const char *node = names->pdata[i];
    if (!nl_node_files_usable(f)) {
      fprintf(stderr, "%s: not running and no disk: nothing to save\n", node);
      continue;
    }
    o.since = up ? up_time : nl_disk_booted(labdir, node);
    g_autoptr(GError) local = NULL;
    if (!nl_save_node(labdir, node, f, &o, note, NULL, &written, &local)) {
      fprintf(stderr, "netlab: %s\n", local->message);
      ok = FALSE;
    }
  }
  fprintf(stderr, "%u file(s) written into '%s'\n", written, labdir);
  if (!ok) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "some files were not saved");
    return -1;
  }
  return 0;
}

const NlCmd nl_cmd_save = {"save", NULL, "write nodes' changed files into the lab",
                           .target = NL_TARGET_DIR, .run = run};
