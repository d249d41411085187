/* Small helpers every module shares: the error domain and file utilities. */
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(netlab-error-quark, nl_error)

gboolean nl_write_file(const char *path, const char *contents, gssize len,
                       int mode, GError **error) {
  g_autoptr(GError) local = NULL;

  /* CONSISTENT: readers see the old file or the new one, never half of it. */
  if (!g_file_set_contents_full(path, contents, len,
                                G_FILE_SET_CONTENTS_CONSISTENT, mode, &local)) {
    /* Re-raised in our domain: main derives the exit code from NL_ERROR codes,
     * and a G_FILE_ERROR code would be misread as one of them. */
    g_set_error_literal(error, NL_ERROR, NL_ERROR_FAILED, local->message);
    return FALSE;
  }
  return TRUE;
}

char *nl_realpath(const char *path, GError **error) {
  char *resolved = realpath(path, NULL);

  if (!resolved) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot resolve '%s': %s",
                path, g_strerror(saved));
    return NULL;
  }
  /* g_malloc() is malloc() (GLib >= 2.46), so the caller may g_free() it. */
  return resolved;
}

char *nl_cache_dir(GError **error) {
  g_autofree char *dir =
      g_build_filename(g_get_user_cache_dir(), "netlab", NULL);

  if (g_mkdir_with_parents(dir, 0700) != 0) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s': %s",
                dir, g_strerror(saved));
    return NULL;
  }
  return g_steal_pointer(&dir);
}

int nl_strv_cmp(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char *nl_find_beside_self(const char *name, const char *installed, GError **error) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
  g_autofree char *beside = dir ? g_build_filename(dir, name, NULL) : NULL;
  if (beside && g_file_test(beside, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&beside);
  if (g_file_test(installed, G_FILE_TEST_IS_REGULAR)) return g_strdup(installed);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s is neither beside netlab nor at %s", name,
              installed);
  return NULL;
}

gboolean nl_set_errno(GError **error, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s", what, g_strerror(err));
  return FALSE;
}
