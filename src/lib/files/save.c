/* netlab save (see save.h). The names and contents come from the guest and
 * are untrusted: they are read in a child with the QEMU user's rights
 * (nodefile.h) and come back as records, bounded; here a name is only ever
 * used one component at a time, below LABDIR/NODE, through openat() with
 * O_NOFOLLOW, "..", "." or empty components are refused, and every
 * directory on the way must be the user's own and writable by nobody else. */
#include "save.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "util.h"

gboolean nl_save_skipped(const char *path) {
  /* The first stage writes these from the node's name at every boot. */
  return strcmp(path, "/etc/hostname") == 0 || strcmp(path, "/etc/hosts") == 0;
}

static gboolean bad_component(const char *c) {
  return !*c || strcmp(c, ".") == 0 || strcmp(c, "..") == 0;
}

/* Whether the directory FD (NAME, for the message) is the user's own and
 * writable by nobody else: one a VM made, or could change, is refused. */
static gboolean dir_is_mine(int fd, const char *name, GError **error) {
  struct stat st;
  if (fstat(fd, &st) != 0) return nl_set_errno(error, errno, "cannot stat '%s'", name);
  if (st.st_uid == geteuid() && !(st.st_mode & 022)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "refusing to write into '%s': it is owned by uid %u, mode %04o (a directory of "
              "the user's own that nobody else can write is required: a VM may have made it)",
              name, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
  return FALSE;
}

/* The directory of REL (its components but the last) below DIRFD, made as
 * needed, each opened with O_NOFOLLOW: a symlink anywhere fails with ELOOP
 * or ENOTDIR instead of leading elsewhere; each must pass dir_is_mine().
 * Returns a new fd, or -1. */
static int open_parent(int dirfd, const char *node, char **comps, guint n, GError **error,
                       const char *what) {
  int fd = dup(dirfd);
  g_autoptr(GString) at = g_string_new(node);
  for (guint i = 0; fd >= 0 && i + 1 < n; i++) {
    g_string_append_printf(at, "/%s", comps[i]);
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
    if (!dir_is_mine(fd, at->str, error)) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

static gboolean same_content(int a, const guint8 *content, gsize len) {
  struct stat sa;
  if (fstat(a, &sa) != 0 || (gsize)sa.st_size != len) return FALSE;
  char ba[65536];
  for (gsize off = 0; off < len;) {
    ssize_t na = pread(a, ba, MIN(sizeof ba, len - off), off);
    if (na <= 0 || memcmp(ba, content + off, na) != 0) return FALSE;
    off += na;
  }
  return TRUE;
}

typedef enum { SAVE_WRITTEN, SAVE_SAME, SAVE_CONFLICT } SaveResult;

/* Writes CONTENT as COMPS (below NODEFD) by a rename over whatever is there:
 * a symlink put in the lab is replaced, never followed. */
static int save_file(int nodefd, const char *node, char **comps, guint n, const char *rel,
                     const guint8 *content, gsize len, guint32 mode, const NlSaveOptions *o,
                     gint64 since, gboolean *existed, GError **error) {
  int dir = open_parent(nodefd, node, comps, n, error, rel);
  if (dir < 0) return -1;
  const char *name = comps[n - 1];
  int old = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  *existed = old >= 0 || errno == ELOOP;
  if (old >= 0 && fstat(old, &st) == 0 && S_ISREG(st.st_mode)) {
    gboolean same = same_content(old, content, len);
    close(old);
    if (same) {
      close(dir);
      return SAVE_SAME;
    }
    if (!o->force && st.st_mtime > since) {
      close(dir);
      return SAVE_CONFLICT;
    }
  } else if (old >= 0) {
    close(old);
  }
  g_autofree char *tmp = g_strdup_printf(".%s.netlab-save", name);
  unlinkat(dir, tmp, 0);
  /* netlab's modes, not the guest's: 0644, or 0755 when its owner could
   * run it. Never setuid or setgid; readable by QEMU's user, which must
   * copy it into the node at the next boot (frr.conf is 0640 in a node). */
  int want = mode & 0100 ? 0755 : 0644;
  int out = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, want);
  /* Dated back to the boot, so that only a later edit in the lab counts as
   * a change since then. */
  struct timespec when[2] = {{since, 0}, {since, 0}};
  gboolean ok = out >= 0 && fchmod(out, want) == 0 && nl_write_all(out, content, len) &&
                futimens(out, when) == 0 && fsync(out) == 0;
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

/* The files LABDIR/NODE has ("/etc/frr/frr.conf"; links count, and are
 * replaced), walked without following links, at most MAX_LAB_FILES. */
#define MAX_LAB_FILES 100000
static void lab_files(int fd, const char *prefix, GHashTable *into) {
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) && g_hash_table_size(into) < MAX_LAB_FILES) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *rel = g_strconcat(prefix, "/", e->d_name, NULL);
    g_hash_table_add(into, rel);
    int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) lab_files(sub, rel, into);
  }
  closedir(d);
}

typedef struct {
  const NlSaveOptions *o;
  GHashTable **has; /* per node: lab_files() */
} SaveWork;

static gboolean bad_path(const char *rel) {
  g_auto(GStrv) comps = g_strsplit(rel + 1, "/", -1);
  gboolean bad = rel[0] != '/' || !comps[0];
  for (char **c = comps; *c; c++) bad = bad || bad_component(*c);
  return bad;
}

/* In the child: for each node a 'B' record (its name), then 'U' (not
 * reachable: why), 'E' (an error: the rest of the node is not saved), 'X'
 * (a file that could not be read, too large say), 'N' (a note) or 'F'
 * records (a file: its path, mode and content). */
static gboolean save_work(NlNodeFiles **files, guint n, int out, gpointer data, GError **error) {
  SaveWork *w = data;
  for (guint i = 0; i < n; i++) {
    NlNodeFiles *f = files[i];
    const char *node = nl_node_files_node(f);
    if (!nl_record_put(out, 'B', 0, node, NULL, 0, error)) return FALSE;
    if (!nl_node_files_usable(f)) {
      const char *why = nl_node_files_unusable_why(f);
      if (!nl_record_put(out, 'U', 0, "", why, strlen(why), error)) return FALSE;
      continue;
    }
    g_autoptr(GError) e = NULL;
    g_autoptr(GPtrArray) changes = nl_node_files_changes(f, &e);
    for (guint k = 0; changes && k < changes->len && !e; k++) {
      const NlChange *c = changes->pdata[k];
      const char *rel = c->path;
      if (bad_path(rel)) {
        g_set_error(&e, NL_ERROR, NL_ERROR_FAILED, "'%s' reported a bad path: '%s'", node, rel);
        break;
      }
      gboolean wanted =
          w->o->all || g_str_has_prefix(rel, "/etc/") || g_hash_table_contains(w->has[i], rel);
      if (!wanted || nl_save_skipped(rel) || c->type == 'd') continue;
      if (c->kind == NL_CHANGE_DELETED || c->type != 'f') {
        g_autofree char *line = g_strdup_printf(
            "%s: %s: %s, not saved", node, rel,
            c->kind == NL_CHANGE_DELETED ? "deleted in the node" : "not a regular file");
        if (!nl_record_put(out, 'N', 0, rel, line, strlen(line), error)) return FALSE;
        continue;
      }
      int content = memfd_create("netlab-save", MFD_CLOEXEC);
      if (content < 0) return nl_set_errno(error, errno, "memfd_create");
      g_autoptr(GError) one = NULL;
      gboolean ok =
          nl_node_files_read_upper(f, rel, content, &one)
              ? nl_record_put_fd(out, 'F', c->mode, rel, content, error)
              : nl_record_put(out, 'X', 0, rel, one->message, strlen(one->message), error);
      close(content);
      if (!ok) return FALSE;
    }
    if (e && !nl_record_put(out, 'E', 0, "", e->message, strlen(e->message), error)) return FALSE;
  }
  return TRUE;
}

/* LABDIR/NODE, made if needed, checked with LABDIR. */
static int open_node_dir(const char *labdir, const char *node, GError **error) {
  int labfd = open(labdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (labfd < 0 || fstat(labfd, &st) != 0) {
    nl_set_errno(error, errno, "cannot open '%s'", labdir);
    if (labfd >= 0) close(labfd);
    return -1;
  }
  /* The lab directory itself: the user's, not writable by all. (`up`
   * grants the QEMU user an ACL entry on it; what lies below is checked
   * strictly.) */
  if (st.st_uid != geteuid() || (st.st_mode & S_IWOTH)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "refusing to save into '%s': it is owned by uid %u, mode %04o", labdir,
                (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    close(labfd);
    return -1;
  }
  if (mkdirat(labfd, node, 0755) != 0 && errno != EEXIST) {
    nl_set_errno(error, errno, "cannot create '%s/%s'", labdir, node);
    close(labfd);
    return -1;
  }
  int nodefd = openat(labfd, node, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close(labfd);
  if (nodefd < 0) {
    nl_set_errno(error, errno, "refusing to save into '%s/%s'", labdir, node);
    return -1;
  }
  if (!dir_is_mine(nodefd, node, error)) {
    close(nodefd);
    return -1;
  }
  return nodefd;
}

/* The changes of NODES, read in a child as the QEMU user (save_work): the
 * records of every node, or NULL. */
static GBytes *read_changes(const char *labdir, char **nodes, const NlSaveOptions *o,
                            GError **error) {
  guint n = g_strv_length(nodes);
  g_autofree GHashTable **has = g_new0(GHashTable *, n);
  for (guint i = 0; i < n; i++) {
    has[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *dir = g_build_filename(labdir, nodes[i], NULL);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) lab_files(fd, "", has[i]);
  }
  SaveWork w = {.o = o, .has = has};
  GBytes *got =
      nl_node_files_run(labdir, nodes, FALSE, save_work, &w, NL_NODE_OP_MAX, NULL, NULL, error);
  for (guint i = 0; i < n; i++) g_hash_table_unref(has[i]);
  return got;
}

/* The records of the child, written into the lab one node after another. */
typedef struct {
  const char *labdir;
  const NlSaveOptions *o;
  NlSaveNote note;
  gpointer data;
  char *node; /* the node of the records now, its directory in the lab */
  int nodefd;
  gint64 since;
  gboolean skip; /* the rest of this node's records */
  guint conflicts, failed, written, usable;
} Saver;

/* An 'F' record into the lab; the line that says what became of it. */
static char *save_record_file(Saver *sv, const NlRecord *r, GError **error) {
  const char *node = sv->node;
  if (bad_path(r->name)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' reported a bad path: '%s'", node, r->name);
    return NULL;
  }
  if (r->len > NL_NODE_FILE_MAX) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s:%s: more than %" G_GUINT64_FORMAT " bytes",
                node, r->name, NL_NODE_FILE_MAX);
    return NULL;
  }
  if (sv->nodefd < 0) sv->nodefd = open_node_dir(sv->labdir, node, error);
  if (sv->nodefd < 0) return NULL;
  g_auto(GStrv) comps = g_strsplit(r->name + 1, "/", -1);
  gboolean existed = FALSE;
  int res = save_file(sv->nodefd, node, comps, g_strv_length(comps), r->name, r->data, r->len,
                      r->mode, sv->o, sv->since, &existed, error);
  if (res < 0) return NULL;
  if (res == SAVE_WRITTEN) sv->written++;
  if (res == SAVE_CONFLICT) sv->conflicts++;
  return g_strdup_printf("%s: %s -> %s%s (%s)", node, r->name, node, r->name,
                         res == SAVE_SAME       ? "unchanged"
                         : res == SAVE_CONFLICT ? "NOT saved: the lab's copy changed since the "
                                                  "node booted; --force overwrites it"
                         : existed              ? "updated"
                                                : "new");
}

/* A 'B' record: the records after it are NODE's. */
static void save_begin_node(Saver *sv, const char *node) {
  if (sv->nodefd >= 0) close(sv->nodefd);
  sv->nodefd = -1;
  g_free(sv->node);
  sv->node = g_strdup(node);
  sv->skip = FALSE;
  sv->since = sv->o->up_since ? sv->o->up_since : nl_disk_booted(sv->labdir, node);
  sv->usable++;
}

static void save_record(Saver *sv, const NlRecord *r) {
  if (r->type == 'B') {
    save_begin_node(sv, r->name);
    return;
  }
  if (!sv->node || sv->skip) return;
  g_autofree char *text = g_strndup((const char *)r->data, r->len);
  g_autofree char *line = NULL;
  g_autoptr(GError) e = NULL;
  if (r->type == 'U') {
    line = g_strdup_printf("%s: not running and no disk: nothing to save", sv->node);
    sv->usable--;
  } else if (r->type == 'E') {
    g_set_error(&e, NL_ERROR, NL_ERROR_FAILED, "%s", text);
  } else if (r->type == 'X') {
    line = g_strdup_printf("netlab: %s: not saved", text);
    sv->failed++;
  } else if (r->type == 'N') {
    line = g_steal_pointer(&text);
  } else if (r->type == 'F') {
    line = save_record_file(sv, r, &e);
  }
  if (line) sv->note(line, sv->data);
  if (e) {
    /* The rest of this node is not saved; the other nodes are. */
    g_autofree char *msg = g_strdup_printf("netlab: %s", e->message);
    sv->note(msg, sv->data);
    sv->failed++;
    sv->skip = TRUE;
  }
}

gboolean nl_save_nodes(const char *labdir, char **nodes, const NlSaveOptions *o, NlSaveNote note,
                       gpointer data, guint *written, guint *usable, GError **error) {
  g_autoptr(GBytes) got = read_changes(labdir, nodes, o, error);
  if (!got) return FALSE;
  Saver sv = {.labdir = labdir, .o = o, .note = note, .data = data, .nodefd = -1};
  gsize off = 0;
  NlRecord r = {0};
  while (nl_record_next(got, &off, &r, error)) save_record(&sv, &r);
  if (sv.nodefd >= 0) close(sv.nodefd);
  g_free(sv.node);
  *written += sv.written;
  *usable += sv.usable;
  if (error && *error) return FALSE;
  if (sv.conflicts) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "%u file(s) not saved: changed in the lab since the node booted "
                "(--force overwrites them)",
                sv.conflicts);
    return FALSE;
  }
  if (sv.failed) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "some files were not saved");
    return FALSE;
  }
  return TRUE;
}
