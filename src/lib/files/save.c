/* netlab save (see save.h). The names and contents come from the guest and
 * are untrusted: a name is only ever used one component at a time, below
 * LABDIR/NODE, through openat() with O_NOFOLLOW, and "..", "." or empty
 * components are refused. */
#include "save.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

gboolean nl_save_skipped(const char *path) {
  /* The first stage writes these from the node's name at every boot. */
  return strcmp(path, "/etc/hostname") == 0 || strcmp(path, "/etc/hosts") == 0;
}

static gboolean bad_component(const char *c) {
  return !*c || strcmp(c, ".") == 0 || strcmp(c, "..") == 0;
}

/* The directory of REL (its components but the last) below DIRFD, made as
 * needed, each opened with O_NOFOLLOW: a symlink anywhere fails with ELOOP
 * or ENOTDIR instead of leading elsewhere. Returns a new fd, or -1. */
static int open_parent(int dirfd, char **comps, guint n, GError **error, const char *what) {
  int fd = dup(dirfd);
  for (guint i = 0; fd >= 0 && i + 1 < n; i++) {
    if (mkdirat(fd, comps[i], 0755) != 0 && errno != EEXIST) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create a directory for '%s': %s", what,
                  g_strerror(errno));
      close(fd);
      return -1;
    }
    int next = openat(fd, comps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    close(fd);
    if (next < 0) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "refusing to write '%s': '%s' on its way is not a plain directory (%s)", what,
                  comps[i], g_strerror(saved));
      return -1;
    }
    fd = next;
  }
  return fd;
}

static gboolean same_content(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0 || sa.st_size != sb.st_size) return FALSE;
  char ba[65536], bb[65536];
  for (off_t off = 0; off < sa.st_size;) {
    ssize_t na = pread(a, ba, sizeof ba, off);
    ssize_t nb = pread(b, bb, sizeof bb, off);
    if (na <= 0 || na != nb || memcmp(ba, bb, na) != 0) return FALSE;
    off += na;
  }
  return TRUE;
}

static gboolean copy_fd(int from, int to) {
  char buf[65536];
  off_t off = 0;
  ssize_t n;
  while ((n = pread(from, buf, sizeof buf, off)) > 0) {
    if (write(to, buf, n) != n) return FALSE;
    off += n;
  }
  return n == 0;
}

typedef enum { SAVE_WRITTEN, SAVE_SAME, SAVE_CONFLICT } SaveResult;

/* Writes CONTENT as COMPS (below NODEFD) by a rename over whatever is there:
 * a symlink put in the lab is replaced, never followed. */
static int save_file(int nodefd, char **comps, guint n, const char *rel, int content, guint32 mode,
                     const NlSaveOptions *o, gboolean *existed, GError **error) {
  int dir = open_parent(nodefd, comps, n, error, rel);
  if (dir < 0) return -1;
  const char *name = comps[n - 1];
  int old = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  *existed = old >= 0 || errno == ELOOP;
  if (old >= 0 && fstat(old, &st) == 0 && S_ISREG(st.st_mode)) {
    gboolean same = same_content(old, content);
    close(old);
    if (same) {
      close(dir);
      return SAVE_SAME;
    }
    if (!o->force && st.st_mtime > o->since) {
      close(dir);
      return SAVE_CONFLICT;
    }
  } else if (old >= 0) {
    close(old);
  }
  g_autofree char *tmp = g_strdup_printf(".%s.netlab-save", name);
  unlinkat(dir, tmp, 0);
  /* Readable by all, executable if it was: no setuid bit from a guest into
   * the lab, and QEMU's user, which shares the lab with the nodes, must read
   * it for the next boot to copy it in (frr.conf is 0640 in a node). */
  int out =
      openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode & 0111) | 0644);
  /* Dated back to the boot, so that only a later edit in the lab counts as
   * a change since then. */
  struct timespec when[2] = {{o->since, 0}, {o->since, 0}};
  gboolean ok = out >= 0 && copy_fd(content, out) && futimens(out, when) == 0 && fsync(out) == 0;
  int saved = errno;
  if (out >= 0) close(out);
  if (ok && renameat(dir, tmp, dir, name) != 0) {
    ok = FALSE;
    saved = errno;
  }
  if (!ok) {
    unlinkat(dir, tmp, 0);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write '%s': %s", rel, g_strerror(saved));
  }
  close(dir);
  return ok ? SAVE_WRITTEN : -1;
}

/* Whether LABDIR/NODE has something at REL already (checked without
 * following links: a link there counts, and is replaced). */
static gboolean lab_has(int nodefd, const char *rel) {
  struct stat st;
  return fstatat(nodefd, rel + 1, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

gboolean nl_save_node(const char *labdir, const char *node, NlNodeFiles *f, const NlSaveOptions *o,
                      NlSaveNote note, gpointer data, guint *written, GError **error) {
  g_autoptr(GPtrArray) changes = nl_node_files_changes(f, error);
  if (!changes) return FALSE;
  int labfd = open(labdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (labfd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot open '%s': %s", labdir,
                g_strerror(errno));
    return FALSE;
  }
  if (mkdirat(labfd, node, 0755) != 0 && errno != EEXIST) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s/%s': %s", labdir, node,
                g_strerror(errno));
    close(labfd);
    return FALSE;
  }
  int nodefd = openat(labfd, node, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close(labfd);
  if (nodefd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "refusing to save into '%s/%s': %s", labdir, node,
                g_strerror(errno));
    return FALSE;
  }
  guint conflicts = 0;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < changes->len; i++) {
    const NlChange *c = changes->pdata[i];
    const char *rel = c->path;
    g_auto(GStrv) comps = g_strsplit(rel + 1, "/", -1);
    guint n = g_strv_length(comps);
    gboolean bad = rel[0] != '/' || n == 0;
    for (guint k = 0; k < n; k++) bad = bad || bad_component(comps[k]);
    if (bad) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' reported a bad path: '%s'", node, rel);
      ok = FALSE;
      break;
    }
    gboolean wanted = o->all || g_str_has_prefix(rel, "/etc/") || lab_has(nodefd, rel);
    if (!wanted || nl_save_skipped(rel) || c->type == 'd') continue;
    g_autofree char *line = NULL;
    if (c->kind == NL_CHANGE_DELETED) {
      line = g_strdup_printf("%s: %s: deleted in the node, not saved", node, rel);
    } else if (c->type != 'f') {
      line = g_strdup_printf("%s: %s: not a regular file, not saved", node, rel);
    } else {
      int content = memfd_create("netlab-save", MFD_CLOEXEC);
      if (content < 0 || !nl_node_files_read_upper(f, rel, content, error)) {
        if (content >= 0)
          close(content);
        else
          g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "memfd_create: %s", g_strerror(errno));
        ok = FALSE;
        break;
      }
      gboolean existed = FALSE;
      int r = save_file(nodefd, comps, n, rel, content, c->mode, o, &existed, error);
      close(content);
      if (r < 0) {
        ok = FALSE;
        break;
      }
      if (r == SAVE_WRITTEN) (*written)++;
      if (r == SAVE_CONFLICT) conflicts++;
      line = g_strdup_printf("%s: %s -> %s%s (%s)", node, rel, node, rel,
                             r == SAVE_SAME       ? "unchanged"
                             : r == SAVE_CONFLICT ? "NOT saved: the lab's copy changed since the "
                                                    "node booted; --force overwrites it"
                             : existed            ? "updated"
                                                  : "new");
    }
    note(line, data);
  }
  close(nodefd);
  if (ok && conflicts) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "%u file(s) of '%s' not saved: changed in the lab since the node booted "
                "(--force overwrites them)",
                conflicts, node);
    ok = FALSE;
  }
  return ok;
}
