/* Small helpers every module shares: the error domain and file utilities. */
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

G_DEFINE_QUARK(netlab - error - quark, nl_error)

gboolean nl_write_file(const char *path, const char *contents, gssize len, int mode,
                       GError **error) {
  g_autoptr(GError) local = NULL;

  /* CONSISTENT: readers see the old file or the new one, never half of it. */
  if (!g_file_set_contents_full(path, contents, len, G_FILE_SET_CONTENTS_CONSISTENT, mode,
                                &local)) {
    /* Re-raised in our domain: main derives the exit code from NL_ERROR codes,
     * and a G_FILE_ERROR code would be misread as one of them. */
    g_set_error_literal(error, NL_ERROR, NL_ERROR_FAILED, local->message);
    return FALSE;
  }
  return TRUE;
}

gboolean nl_monitor_child(const char *labdir, const char *node, const char *command, char **out,
                          GError **error) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", error);
  if (!self) return FALSE;
  const char *argv[] = {self, "monitor", "-d", labdir, node, "--", command, NULL};
  g_autofree char *err = NULL;
  int status = 0;
  fflush(stdout);
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, out ? &err : NULL,
                    &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status(status, NULL) || (out && *g_strstrip(*out))) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s: %s", node, command,
                out && **out ? *out
                : err        ? g_strstrip(err)
                             : "failed");
    return FALSE;
  }
  return TRUE;
}

char *nl_realpath(const char *path, GError **error) {
  char *resolved = realpath(path, NULL);

  if (!resolved) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot resolve '%s': %s", path,
                g_strerror(saved));
    return NULL;
  }
  /* g_malloc() is malloc() (GLib >= 2.46), so the caller may g_free() it. */
  return resolved;
}

char *nl_cache_dir(GError **error) {
  g_autofree char *dir = g_build_filename(g_get_user_cache_dir(), "netlab", NULL);

  return nl_mkdir(dir, 0700, error) ? g_steal_pointer(&dir) : NULL;
}

int nl_strv_cmp(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The prefix this program is installed in, from where it runs: its
 * directory less the bindir or libexecdir under the prefix. NULL when it
 * runs from elsewhere (the build tree). A staged install (DESTDIR) runs from
 * its own copy of the prefix, so that it finds its own files. */
static char *running_prefix(const char *dir) {
  const char *const subdirs[] = {NETLAB_BINDIR, NETLAB_LIBEXECDIR};
  for (guint i = 0; i < G_N_ELEMENTS(subdirs); i++) {
    g_autofree char *tail = g_strconcat("/", subdirs[i], NULL);
    if (!g_path_is_absolute(subdirs[i]) && g_str_has_suffix(dir, tail))
      return g_strndup(dir, strlen(dir) - strlen(tail));
  }
  return NULL;
}

/* INSTALLED (a path under the configured prefix) under the prefix this
 * program runs from, or NULL. */
static char *relocated(const char *dir, const char *installed) {
  g_autofree char *prefix = running_prefix(dir);
  gsize n = strlen(NETLAB_PREFIX);
  if (!prefix || strncmp(installed, NETLAB_PREFIX, n) != 0 || installed[n] != '/') return NULL;
  return g_strconcat(prefix, installed + n, NULL);
}

char *nl_find_beside_self(const char *name, const char *installed, GError **error) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
  g_autofree char *beside = dir ? g_build_filename(dir, name, NULL) : NULL;
  if (beside && g_file_test(beside, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&beside);
  g_autofree char *moved = dir ? relocated(dir, installed) : NULL;
  if (moved && g_file_test(moved, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&moved);
  if (g_file_test(installed, G_FILE_TEST_IS_REGULAR)) return g_strdup(installed);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s is neither beside netlab nor at %s", name,
              installed);
  return NULL;
}

char *nl_data_path(const char *name) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
  g_autofree char *source = g_build_filename(NETLAB_SOURCE_ROOT, name, NULL);
  /* The build tree's programs (and its tests, in subdirectories). */
  if (dir && (strcmp(dir, NETLAB_BUILD_ROOT) == 0 || g_str_has_prefix(dir, NETLAB_BUILD_ROOT "/")))
    return g_steal_pointer(&source);
  g_autofree char *installed = g_build_filename(NETLAB_DATADIR, name, NULL);
  g_autofree char *moved = dir ? relocated(dir, installed) : NULL;
  if (moved && g_file_test(moved, G_FILE_TEST_EXISTS)) return g_steal_pointer(&moved);
  /* A copy of the build's programs elsewhere still finds the source tree. */
  if (!g_file_test(installed, G_FILE_TEST_EXISTS) && g_file_test(source, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&source);
  return g_steal_pointer(&installed);
}

int nl_open_regular(const char *path, int flags, struct stat *st, const char *what,
                    GError **error) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | flags);
  if (fd < 0 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s '%s': %s", what, path,
                fd < 0 ? g_strerror(errno) : "not a regular file");
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* A limit rounded for messages: "16 MiB", "512 KiB". */
static char *size_text(gsize n) {
  return n >= 1 << 20 && n % (1 << 20) == 0 ? g_strdup_printf("%zu MiB", n >> 20)
                                            : g_strdup_printf("%zu KiB", n >> 10);
}

gboolean nl_read_file_max(const char *path, gsize max, char **contents, gsize *len,
                          GError **error) {
  return nl_read_file_flags(path, 0, max, contents, len, error);
}

gboolean nl_read_file_flags(const char *path, int flags, gsize max, char **contents, gsize *len,
                            GError **error) {
  /* O_NONBLOCK: opening a FIFO with no writer must not wait for one. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | flags);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot read '%s': %s", path,
                g_strerror(e));
    return FALSE;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not a regular file", path);
    return FALSE;
  }
  if ((guint64)st.st_size > max) {
    g_autofree char *limit = size_text(max);
    close(fd);
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                "%s: too large (%lld bytes; netlab reads at most %s of it)", path,
                (long long)st.st_size, limit);
    return FALSE;
  }
  /* The file may grow while read: never more than MAX + 1 bytes. */
  gsize cap = MIN((gsize)st.st_size, max) + 1, got = 0;
  g_autofree char *buf = g_malloc(cap + 1);
  for (;;) {
    if (got == cap) {
      if (cap > max) break;
      cap = MIN(cap * 2, max + 1);
      buf = g_realloc(buf, cap + 1);
    }
    ssize_t n = read(fd, buf + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot read '%s': %s", path,
                  g_strerror(e));
      return FALSE;
    }
    if (n == 0) break;
    got += n;
  }
  close(fd);
  if (got > max) {
    g_autofree char *limit = size_text(max);
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                "%s: too large (netlab reads at most %s of it)", path, limit);
    return FALSE;
  }
  buf[got] = '\0';
  *len = got;
  *contents = g_steal_pointer(&buf);
  return TRUE;
}

gboolean nl_set_errno(GError **error, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s", what, g_strerror(err));
  return FALSE;
}

static gboolean mine(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0 && sb.st_uid == geteuid() && (sb.st_mode & 022) == 0;
}

gboolean nl_owned_by_me(const char *path) {
  /* A built tree's vmlinux-gdb.py is a link into the source tree: what gdb
   * would run is the file it leads to, in that file's directory. */
  g_autofree char *real = realpath(path, NULL);
  g_autofree char *dir = real ? g_path_get_dirname(real) : NULL;
  return real && mine(real) && mine(dir);
}

const void *nl_load_module(const char *file, const char *installed, const char *symbol,
                           GError **error) {
  g_autofree char *path = nl_find_beside_self(file, installed, error);
  if (!path) return NULL;
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  const void *sym = h ? dlsym(h, symbol) : NULL;
  if (!sym) g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot load '%s': %s", path, dlerror());
  return sym;
}

void nl_sha256(const char *text, guint8 digest[32]) {
  g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
  gsize len = 32;

  g_checksum_update(sha, (const guchar *)text, -1);
  g_checksum_get_digest(sha, digest, &len);
}

gboolean nl_mkdir(const char *path, int mode, GError **error) {
  if (g_mkdir_with_parents(path, mode) == 0) return TRUE;
  return nl_set_errno(error, errno, "cannot create '%s'", path);
}

gboolean nl_write_all(int fd, const void *data, gsize len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return FALSE;
    p += w;
    len -= w;
  }
  return TRUE;
}

int nl_unix_connect(const char *path, GError **error) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_autofree char *via = NULL;
  int dirfd = -1;
  if (strlen(path) >= sizeof sa.sun_path) {
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
      int err = errno;
      nl_set_errno(error, err, "cannot open '%s'", dir);
      errno = err;
      return -1;
    }
    via = g_strdup_printf("/proc/self/fd/%d/%s", dirfd, base);
  }
  const char *target = via ? via : path;
  int fd = -1, rc = -1, err = ENAMETOOLONG;
  if (strlen(target) < sizeof sa.sun_path) {
    memcpy(sa.sun_path, target, strlen(target) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof sa);
    err = errno;
  }
  if (dirfd >= 0) close(dirfd);
  if (rc != 0) {
    if (fd >= 0) close(fd);
    nl_set_errno(error, err, "cannot connect to '%s'", path);
    errno = err;
    return -1;
  }
  return fd;
}

gboolean nl_wait_until(gboolean (*cond)(gpointer data), gpointer data, guint timeout_ms,
                       guint interval_ms) {
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  for (;;) {
    if (cond(data)) return TRUE;
    if (g_get_monotonic_time() >= deadline) return FALSE;
    g_usleep((gulong)interval_ms * 1000);
  }
}

void nl_say(const NlProgress *p, NlSayLevel level, const char *fmt, ...) {
  if (!p || !p->say) return;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  p->say(level, msg, p->data);
}

gboolean nl_rel_path_ok(const char *rel) {
  if (!*rel || *rel == '/') return FALSE;
  g_auto(GStrv) comps = g_strsplit(rel, "/", -1);
  for (char **c = comps; *c; c++)
    if (!**c || strcmp(*c, ".") == 0 || strcmp(*c, "..") == 0) return FALSE;
  return TRUE;
}

gboolean nl_name_ok(const char *name) {
  gsize len = strlen(name);
  if (!len || len > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return FALSE;
  for (const char *c = name; *c; c++)
    if (*c == '/' || !g_ascii_isgraph(*c)) return FALSE;
  return TRUE;
}
