/* netlab cp: copy a file out of a node or into one, through the agent while
 * its VM runs, else through its disk. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "nodefile.h"
#include "util.h"

static int copy_out(const char *labdir, const char *node, const char *path, const char *dest,
                    GError **error) {
  g_autofree char *target = NULL;
  if (g_file_test(dest, G_FILE_TEST_IS_DIR)) {
    g_autofree char *base = g_path_get_basename(path);
    target = g_build_filename(dest, base, NULL);
  } else {
    target = g_strdup(dest);
  }
  /* Into a new file beside the target, renamed over it once complete: a
   * path that turns out missing leaves DEST as it was. */
  g_autofree char *dir = g_path_get_dirname(target);
  g_autofree char *tmp = g_build_filename(dir, ".netlab-cp-XXXXXX", NULL);
  int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write in '%s': %s", dir,
                g_strerror(errno));
    return -1;
  }
  gboolean ok = nl_node_copy_out(labdir, node, path, fd, error);
  close(fd);
  if (ok && rename(tmp, target) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write '%s': %s", target,
                g_strerror(errno));
    ok = FALSE;
  }
  if (!ok) g_unlink(tmp);
  return ok ? 0 : -1;
}

static int copy_in(const char *labdir, const char *src, const char *node, const char *path,
                   gboolean into_dir, GError **error) {
  g_autofree char *target = NULL;
  if (into_dir) {
    g_autofree char *base = g_path_get_basename(src);
    target = g_build_filename(path, base, NULL);
  } else {
    target = g_strdup(path);
  }
  struct stat st;
  int fd = nl_open_regular(src, 0, &st, "cannot read", error);
  if (fd < 0) return -1;
  gboolean ok = nl_node_copy_in(labdir, fd, node, target, st.st_mode, error);
  close(fd);
  return ok ? 0 : -1;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "NODE:PATH DEST | SRC NODE:PATH: copy a file out of or into a node", entries,
                    &argc, &argv, &t, error))
    return -1;
  if (argc != 3) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "cp: expected NODE:PATH DEST or SRC NODE:PATH");
    return -1;
  }
  const char *labdir = t.labdir;
  g_autofree char *node = NULL, *path = NULL;
  if (nl_node_path_parse(argv[1], &node, &path)) {
    g_autofree char *n2 = NULL, *p2 = NULL;
    if (nl_node_path_parse(argv[2], &n2, &p2)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "cp: one side must be a host path");
      return -1;
    }
    return copy_out(labdir, node, path, argv[2], error);
  }
  if (!nl_node_path_parse(argv[2], &node, &path)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "cp: one side must be NODE:PATH");
    return -1;
  }
  return copy_in(labdir, argv[1], node, path, g_str_has_suffix(argv[2], "/"), error);
}

const NlCmd nl_cmd_cp = {"cp", NULL, "copy a file out of a node or into one",
                         .target = NL_TARGET_DIR, .run = run};
