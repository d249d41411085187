/* A node's files through the agent or its disk (see nodefile.h). */
#include "nodefile.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "disk.h"
#include "exec.h"
#include "privdrop.h"
#include "qcow2.h"
#include "state.h"
#include "util.h"

/* Where templates/init puts the overlay's layer in a running node. */
#define GUEST_UPPER "/run/netlab/rw/upper"
/* Links followed in one lookup, as the kernel's limit. */
#define MAX_LINKS 40

/* One appliance serves all the disks opened together. */
typedef struct {
  const NlDiskBackend *b;
  NlDiskFs *fs;
  guint refs;
} Appliance;

struct NlNodeFiles {
  char *node;
  char *why;              /* not usable: why */
  int sock, lock;         /* the agent's session port, claimed before the drop */
  int disk_fd;            /* the disk, opened and checked before the drop */
  char *disk_at;          /* and where the child reaches it */
  char *statedir;         /* the agent's way: the lab is up, the VM answers */
  const NlDiskBackend *b; /* else the disk's: disk IDX of APP */
  Appliance *app;
  guint idx;
};

gboolean nl_node_path_parse(const char *spec, char **node, char **path) {
  const char *colon = strchr(spec, ':');
  const char *slash = strchr(spec, '/');
  if (!colon || colon == spec || (slash && slash < colon)) return FALSE;
  *node = g_strndup(spec, colon - spec);
  /* Relative to the node's root, as `docker cp` takes it. */
  *path = g_canonicalize_filename(colon[1] ? colon + 1 : "/", "/");
  return TRUE;
}

/* ---- the agent's way ------------------------------------------------------ */

/* Runs ARGV in the node with IN as stdin and stdout to OUT; its stderr,
 * when it fails, is the error's message. */
static int agent_run(NlNodeFiles *f, char **argv, int in, int out, GError **error) {
  int err = memfd_create("netlab-stderr", MFD_CLOEXEC);
  if (err < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "memfd_create: %s", g_strerror(errno));
    return -1;
  }
  NlExec x = {.statedir = f->statedir,
              .vm = f->node,
              .argv = argv,
              .timeout_s = 120,
              .in_fd = in,
              .out_fd = out,
              .err_fd = err,
              .out_max = NL_NODE_FILE_MAX,
              .sock = f->sock};
  int rc = nl_exec_run(&x, error);
  if (rc > 0) {
    char buf[1024];
    ssize_t n = pread(err, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    g_strchomp(buf);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s", *buf ? buf : "failed in the node");
  }
  close(err);
  return rc;
}

/* What ARGV printed in the node (at most NL_NODE_FILE_MAX bytes, by
 * agent_run's bound), NUL-terminated, its length in LEN; NULL on error. */
static char *agent_output(NlNodeFiles *f, char **argv, gsize *len, GError **error) {
  int out = memfd_create("netlab-agent-out", MFD_CLOEXEC);
  if (out < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "memfd_create: %s", g_strerror(errno));
    return NULL;
  }
  if (agent_run(f, argv, -1, out, error) != 0) {
    close(out);
    return NULL;
  }
  struct stat st;
  fstat(out, &st);
  char *text = g_malloc(st.st_size + 1);
  ssize_t n = pread(out, text, st.st_size, 0);
  close(out);
  *len = n > 0 ? (gsize)n : 0;
  text[*len] = '\0';
  return text;
}

/* ---- the disk's way: the overlay's lookup, on the upper layer and the
 * host's root (the lower one) ------------------------------------------------ */

typedef enum { LAYER_NONE, LAYER_UPPER, LAYER_LOWER } Layer;

static gboolean is_whiteout(const NlDiskEntry *e) { return S_ISCHR(e->mode) && e->rdev == 0; }

/* Resolves PATH as the node's kernel would, following symlinks (the last
 * component's too when FOLLOW), each within the node's root. *RESOLVED is
 * the path reached, *E its stat. */
static Layer lookup(NlNodeFiles *f, const char *path, gboolean follow, char **resolved,
                    NlDiskEntry *e, GError **error) {
  g_autofree char *todo = g_strdup(path);
  for (int links = 0; links <= MAX_LINKS; links++) {
    g_auto(GStrv) comps = g_strsplit(todo, "/", -1);
    g_autofree char *at = g_strdup("");
    gboolean lower_only = FALSE, no_lower = FALSE, restarted = FALSE;
    Layer layer = LAYER_UPPER; /* the root is in both */
    guint n = g_strv_length(comps);
    g_free(e->path);
    memset(e, 0, sizeof *e);
    e->mode = S_IFDIR | 0755;
    for (guint i = 0; i < n && !restarted; i++) {
      if (!*comps[i]) continue;
      gboolean last = TRUE;
      for (guint k = i + 1; k < n; k++) last = last && !*comps[k];
      g_autofree char *cand = g_strconcat(at, "/", comps[i], NULL);
      g_free(e->path);
      e->path = NULL;
      g_autofree char *target = NULL;
      if (!lower_only && f->b->lstat(f->app->fs, f->idx, cand, e, error)) {
        if (is_whiteout(e)) return LAYER_NONE;
        layer = LAYER_UPPER;
        if (S_ISLNK(e->mode) && (!last || follow)) {
          target = f->b->readlink(f->app->fs, f->idx, cand, error);
          if (!target) return LAYER_NONE;
        } else if (S_ISDIR(e->mode) && e->opaque) {
          no_lower = TRUE;
        }
      } else if (error && *error) {
        return LAYER_NONE;
      } else {
        struct stat st;
        if (no_lower || lstat(cand, &st) != 0) return LAYER_NONE;
        lower_only = TRUE;
        layer = LAYER_LOWER;
        e->mode = st.st_mode;
        e->size = st.st_size;
        e->rdev = st.st_rdev;
        if (S_ISLNK(st.st_mode) && (!last || follow)) {
          target = g_file_read_link(cand, NULL);
          if (!target) return LAYER_NONE;
        }
      }
      if (target) {
        GString *rest = g_string_new(NULL);
        for (guint k = i + 1; k < n; k++)
          if (*comps[k]) g_string_append_printf(rest, "/%s", comps[k]);
        g_autofree char *joined = g_path_is_absolute(target)
                                      ? g_strconcat(target, rest->str, NULL)
                                      : g_strconcat(at, "/", target, rest->str, NULL);
        g_string_free(rest, TRUE);
        g_free(todo);
        todo = g_canonicalize_filename(joined, "/");
        restarted = TRUE;
        continue;
      }
      g_free(at);
      at = g_steal_pointer(&cand);
    }
    if (restarted) continue;
    *resolved = *at ? g_steal_pointer(&at) : g_strdup("/");
    return layer;
  }
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s': too many levels of symbolic links", path);
  return LAYER_NONE;
}

static void no_such(GError **error, const NlNodeFiles *f, const char *path) {
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s:%s: no such file or directory", f->node, path);
}

/* PATH, links followed, in the layer that has it; an error naming it when
 * none has. E's path is not kept. */
static Layer find(NlNodeFiles *f, const char *path, char **at, NlDiskEntry *e, GError **error) {
  GError *local = NULL;
  Layer l = lookup(f, path, TRUE, at, e, &local);
  g_clear_pointer(&e->path, g_free);
  if (l == LAYER_NONE && !local) no_such(&local, f, path);
  if (local) g_propagate_error(error, local);
  return l;
}

static gboolean too_big(GError **error, const NlNodeFiles *f, const char *path, guint64 size) {
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "%s:%s: %" G_GUINT64_FORMAT " bytes, more than the %" G_GUINT64_FORMAT
              " netlab reads of a file",
              f->node, path, size, NL_NODE_FILE_MAX);
  return FALSE;
}

/* A file of the lower layer (the host's root, as the QEMU user sees it),
 * its last component not followed: lookup() resolved the links. */
static gboolean copy_host_file(const NlNodeFiles *f, const char *path, int fd, GError **error) {
  struct stat st;
  int in = nl_open_regular(path, O_NOFOLLOW, &st, "cannot read", error);
  if (in < 0) return FALSE;
  if ((guint64)st.st_size > NL_NODE_FILE_MAX) {
    close(in);
    return too_big(error, f, path, st.st_size);
  }
  char buf[65536];
  ssize_t n;
  guint64 total = 0;
  while ((n = read(in, buf, sizeof buf)) > 0) {
    total += n;
    if (total > NL_NODE_FILE_MAX || write(fd, buf, n) != n) {
      n = -1;
      break;
    }
  }
  int saved = errno;
  close(in);
  if (n < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot copy '%s': %s", path, g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

/* ---- the interface ---------------------------------------------------------- */

static void files_free(NlNodeFiles *f) {
  if (!f) return;
  if (f->app && --f->app->refs == 0) {
    f->app->b->close(f->app->fs);
    g_free(f->app);
  }
  if (f->sock >= 0) close(f->sock);
  if (f->lock >= 0) close(f->lock);
  if (f->disk_fd >= 0) close(f->disk_fd);
  g_free(f->node);
  g_free(f->disk_at);
  g_free(f->why);
  g_free(f->statedir);
  g_free(f);
}

/* One command's reads, in the child of nl_node_files_run(). */
typedef struct {
  const char *labdir;
  char **nodes;
  gboolean writable;
  NlNodeFilesWork work;
  gpointer data;
  GPtrArray *files;
  gboolean up;
} Run;

static char *unusable_why(const Run *r, const char *node) {
  g_autofree char *disk = nl_disk_path(r->labdir, node);
  if (r->up) return g_strdup_printf("VM '%s' does not answer and has no disk (%s)", node, disk);
  return g_strdup_printf(
      "the lab is not up and '%s' has no disk (%s): a node without one keeps "
      "nothing once stopped",
      node, disk);
}

/* Before the drop: each running node's session port, each disk (a disk that
 * fails the qcow2 check stops the command, naming it). */
static gboolean run_prepare(gpointer data, GError **error) {
  Run *r = data;
  g_autoptr(NlState) st = nl_state_for(r->labdir, error);
  if (!st) return FALSE;
  r->up = nl_state_exists(st);
  r->files = g_ptr_array_new_with_free_func((GDestroyNotify)files_free);
  for (char **n = r->nodes; *n; n++) {
    NlNodeFiles *f = g_new0(NlNodeFiles, 1);
    f->node = g_strdup(*n);
    f->sock = f->lock = f->disk_fd = -1;
    g_ptr_array_add(r->files, f);
    if (r->up) {
      g_autoptr(GError) local = NULL;
      f->sock = nl_exec_claim(st->dir, *n, &f->lock, &local);
      if (f->sock >= 0) f->statedir = g_strdup(st->dir);
    }
    g_autofree char *disk = nl_disk_path(r->labdir, *n);
    int fd = open(disk, (r->writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
      close(fd);
      fd = -1;
    }
    if (fd >= 0 && !nl_qcow2_check_fd(fd, disk, error)) {
      close(fd);
      return FALSE;
    }
    f->disk_fd = fd;
    g_autofree char *name = g_strconcat(*n, ".qcow2", NULL);
    if (fd >= 0 && !(f->disk_at = nl_drop_expose(fd, name, r->writable, error))) return FALSE;
    /* Said from here: the data directory depends on who asks. */
    if (fd < 0) f->why = unusable_why(r, *n);
  }
  return TRUE;
}

/* After the drop: the agents that answer, the other nodes' disks in one
 * libguestfs launch (through /proc/PID/fd: the QEMU user may not reach the
 * disk's directory), then the work. */
static gboolean run_work(int out, gpointer data, GError **error) {
  Run *r = data;
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) via_disk = g_ptr_array_new();
  for (guint i = 0; i < r->files->len; i++) {
    NlNodeFiles *f = r->files->pdata[i];
    if (f->statedir) {
      /* `true` costs one round trip and tells a running VM from a dead one. */
      char *argv[] = {"true", NULL};
      g_autoptr(GError) local = NULL;
      if (agent_run(f, argv, -1, -1, &local) == 0) continue;
      g_clear_pointer(&f->statedir, g_free);
    }
    if (f->disk_fd < 0) continue;
    g_clear_pointer(&f->why, g_free);
    f->idx = disks->len;
    g_ptr_array_add(disks, g_strdup(f->disk_at));
    g_ptr_array_add(via_disk, f);
  }
  if (disks->len) {
    const NlDiskBackend *b = nl_disk_backend(error);
    if (!b) return FALSE;
    NlDiskFs *fs = b->open((const char *const *)disks->pdata, disks->len, r->writable, error);
    if (!fs) return FALSE;
    Appliance *app = g_new0(Appliance, 1);
    app->b = b;
    app->fs = fs;
    app->refs = via_disk->len;
    for (guint i = 0; i < via_disk->len; i++) {
      NlNodeFiles *f = via_disk->pdata[i];
      f->b = b;
      f->app = app;
    }
  }
  gboolean ok = r->work((NlNodeFiles **)r->files->pdata, r->files->len, out, r->data, error);
  g_ptr_array_unref(r->files);
  return ok;
}

static GBytes *run_files(const char *labdir, char **nodes, gboolean writable, NlNodeFilesWork work,
                         gpointer data, guint64 max, NlDropSink sink, gpointer sink_data,
                         int keep_fd, GError **error) {
  Run r = {.labdir = labdir, .nodes = nodes, .writable = writable, .work = work, .data = data};
  g_autofree char *what = g_strdup_printf("reading the nodes of '%s'", labdir);
  NlDrop d = {.what = what,
              .prepare = run_prepare,
              .work = run_work,
              .data = &r,
              .max = max,
              .sink = sink,
              .sink_data = sink_data,
              .keep_fd = keep_fd};
  return nl_drop_run(&d, error);
}

GBytes *nl_node_files_run(const char *labdir, char **nodes, gboolean writable, NlNodeFilesWork work,
                          gpointer data, guint64 max, NlDropSink sink, gpointer sink_data,
                          GError **error) {
  return run_files(labdir, nodes, writable, work, data, max, sink, sink_data, -1, error);
}

gboolean nl_node_files_usable(const NlNodeFiles *f) { return f->statedir || f->app; }

const char *nl_node_files_unusable_why(const NlNodeFiles *f) { return f->why; }

const char *nl_node_files_node(const NlNodeFiles *f) { return f->node; }

const char *nl_node_files_via(const NlNodeFiles *f) {
  return f->statedir ? "the agent" : "its disk (libguestfs)";
}

gboolean nl_node_files_read(NlNodeFiles *f, const char *path, int fd, GError **error) {
  if (f->statedir) {
    /* As from the disk: a regular file only (a FIFO would hold the read
     * until the agent's timeout, a device would never end). */
    char *argv[] = {"sh",
                    "-c",
                    "[ -f \"$1\" ] && exec cat -- \"$1\"; "
                    "echo \"$2:$1: not a regular file, or no such file\" >&2; exit 1",
                    "sh",
                    (char *)path,
                    f->node,
                    NULL};
    return agent_run(f, argv, -1, fd, error) == 0;
  }
  g_autofree char *at = NULL;
  NlDiskEntry e = {0};
  Layer l = find(f, path, &at, &e, error);
  if (l == LAYER_NONE) return FALSE;
  if (!S_ISREG(e.mode)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s:%s: not a regular file", f->node, path);
    return FALSE;
  }
  if (e.size > NL_NODE_FILE_MAX) return too_big(error, f, path, e.size);
  return l == LAYER_UPPER ? f->b->read(f->app->fs, f->idx, at, fd, error)
                          : copy_host_file(f, at, fd, error);
}

gboolean nl_node_files_write(NlNodeFiles *f, int fd, const char *path, int mode, GError **error) {
  if (f->statedir) {
    g_autofree char *m = g_strdup_printf("%o", mode & 07777);
    char *argv[] = {"sh", "-c", "cat >\"$1\" && chmod \"$2\" \"$1\"", "sh", (char *)path, m, NULL};
    return agent_run(f, argv, fd, -1, error) == 0;
  }
  return f->b->write(f->app->fs, f->idx, fd, path, mode, error);
}

static char type_char(guint32 mode) {
  return S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISREG(mode) ? 'f' : '?';
}

static void ls_line(GString *s, const char *name, guint32 mode, guint64 size) {
  char perms[11] = "----------";
  perms[0] = S_ISDIR(mode)   ? 'd'
             : S_ISLNK(mode) ? 'l'
             : S_ISCHR(mode) ? 'c'
             : S_ISREG(mode) ? '-'
                             : '?';
  const char *rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; i++)
    if (mode & (0400 >> i)) perms[1 + i] = rwx[i];
  g_string_append_printf(s, "%s %10" G_GUINT64_FORMAT " %s\n", perms, size, name);
}

void nl_file_entry_free(NlFileEntry *e) {
  if (!e) return;
  g_free(e->name);
  g_free(e);
}

static char mode_type(guint32 mode) {
  return S_ISDIR(mode)    ? 'd'
         : S_ISREG(mode)  ? 'f'
         : S_ISLNK(mode)  ? 'l'
         : S_ISCHR(mode)  ? 'c'
         : S_ISBLK(mode)  ? 'b'
         : S_ISFIFO(mode) ? 'p'
         : S_ISSOCK(mode) ? 's'
                          : '?';
}

static void add_entry(GPtrArray *a, const char *name, char type, guint32 mode, guint64 size) {
  NlFileEntry *e = g_new0(NlFileEntry, 1);
  e->name = g_strdup(name);
  e->type = type;
  e->mode = mode & 07777;
  e->size = size;
  g_ptr_array_add(a, e);
}

static gint by_name(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlFileEntry *const *)a)->name, (*(NlFileEntry *const *)b)->name);
}

/* The guest's find prints "TYPE MODE SIZE NAME\0" for PATH (NAME empty)
 * then its entries, MAX + 1 at most; the guest wrote it, so every field is
 * checked and a record that does not parse is skipped. */
static GPtrArray *agent_list(NlNodeFiles *f, const char *path, guint max, char *type,
                             gboolean *truncated, GError **error) {
  g_autofree char *n = g_strdup_printf("%u", max + 2);
  char *argv[] = {"bash",
                  "-c",
                  "find -H \"$1\" -maxdepth 1 -printf '%y %m %s %P\\0' | head -z -n \"$2\"; "
                  "r=(\"${PIPESTATUS[@]}\"); [ \"${r[0]}\" = 0 ] || [ \"${r[0]}\" = 141 ]",
                  "bash",
                  (char *)path,
                  n,
                  NULL};
  gsize len = 0;
  g_autofree char *text = agent_output(f, argv, &len, error);
  if (!text) return NULL;
  GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify)nl_file_entry_free);
  gboolean first = TRUE;
  *type = '?';
  *truncated = FALSE;
  for (char *p = text; p < text + len; p += strlen(p) + 1) {
    char t = 0, *end = NULL;
    if (strlen(p) < 6 || p[1] != ' ') continue;
    t = strchr("dflcbps", p[0]) ? p[0] : '?';
    guint64 mode = g_ascii_strtoull(p + 2, &end, 8);
    if (!end || *end != ' ') continue;
    guint64 size = g_ascii_strtoull(end + 1, &end, 10);
    if (!end || *end != ' ') continue;
    const char *name = end + 1;
    if (first) {
      first = FALSE;
      *type = t;
      continue;
    }
    if (!*name || strchr(name, '/')) continue;
    if (a->len == max) {
      *truncated = TRUE;
      break;
    }
    add_entry(a, name, t, mode, size);
  }
  g_ptr_array_sort(a, by_name);
  return a;
}

/* The union of both layers' names; lookup() sorts out which wins. */
static GPtrArray *disk_list(NlNodeFiles *f, const char *path, guint max, char *type,
                            gboolean *truncated, GError **error) {
  g_autofree char *at = NULL;
  NlDiskEntry e = {0};
  Layer l = find(f, path, &at, &e, error);
  if (l == LAYER_NONE) return NULL;
  *type = mode_type(e.mode);
  *truncated = FALSE;
  g_autoptr(GPtrArray) a = g_ptr_array_new_with_free_func((GDestroyNotify)nl_file_entry_free);
  if (!S_ISDIR(e.mode)) return g_steal_pointer(&a);
  g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  if (l == LAYER_UPPER) {
    g_auto(GStrv) up = f->b->list(f->app->fs, f->idx, at, error);
    if (!up) return NULL;
    for (char **n = up; *n; n++) g_hash_table_add(names, g_strdup(*n));
  }
  g_autoptr(GDir) d = g_dir_open(at, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) g_hash_table_add(names, g_strdup(n));
  GList *sorted = g_list_sort(g_hash_table_get_keys(names), (GCompareFunc)strcmp);
  GError *local = NULL;
  for (GList *k = sorted; k && !local; k = k->next) {
    g_autofree char *child = g_build_filename(at, k->data, NULL);
    g_autofree char *where = NULL;
    NlDiskEntry ce = {0};
    if (lookup(f, child, FALSE, &where, &ce, &local) != LAYER_NONE) {
      if (a->len == max)
        *truncated = TRUE;
      else
        add_entry(a, k->data, mode_type(ce.mode), ce.mode, ce.size);
    }
    g_free(ce.path);
    if (*truncated) break;
  }
  g_list_free(sorted);
  if (local) {
    g_propagate_error(error, local);
    return NULL;
  }
  return g_steal_pointer(&a);
}

GPtrArray *nl_node_files_list(NlNodeFiles *f, const char *path, guint max, char *type,
                              gboolean *truncated, GError **error) {
  return f->statedir ? agent_list(f, path, max, type, truncated, error)
                     : disk_list(f, path, max, type, truncated, error);
}

char *nl_node_files_ls(NlNodeFiles *f, const char *path, GError **error) {
  if (f->statedir) {
    int out = memfd_create("netlab-ls", MFD_CLOEXEC);
    char *argv[] = {"ls", "-la", "--", (char *)path, NULL};
    if (agent_run(f, argv, -1, out, error) != 0) {
      close(out);
      return NULL;
    }
    GString *s = g_string_new(NULL);
    char buf[65536];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(out, buf, sizeof buf, off)) > 0) {
      g_string_append_len(s, buf, n);
      off += n;
    }
    close(out);
    return g_string_free(s, FALSE);
  }
  char type;
  gboolean truncated;
  g_autoptr(GPtrArray) a = disk_list(f, path, G_MAXUINT, &type, &truncated, error);
  if (!a) return NULL;
  GString *s = g_string_new(NULL);
  if (type != 'd') {
    NlDiskEntry e = {0};
    g_autofree char *at = NULL;
    if (find(f, path, &at, &e, error) == LAYER_NONE) return g_string_free(s, TRUE);
    ls_line(s, path, e.mode, e.size);
  }
  for (guint i = 0; i < a->len; i++) {
    const NlFileEntry *e = a->pdata[i];
    static const char types[] = "dflcbps";
    static const guint32 modes[] = {S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK};
    const char *t = strchr(types, e->type);
    ls_line(s, e->name, (t ? modes[t - types] : 0) | e->mode, e->size);
  }
  return g_string_free(s, FALSE);
}

static void json_entry(JsonBuilder *b, const char *name, char type, guint32 mode, guint64 size) {
  char t[2] = {type, '\0'};
  if (name) json_builder_set_member_name(b, "name");
  if (!name) {
    /* The listed path itself: its type only. */
  } else if (g_utf8_validate(name, -1, NULL)) {
    json_builder_add_string_value(b, name);
  } else {
    g_autofree char *shown = g_utf8_make_valid(name, -1);
    json_builder_add_string_value(b, shown);
    json_builder_set_member_name(b, "name_exact");
    json_builder_add_boolean_value(b, FALSE);
  }
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, t);
  if (mode != G_MAXUINT32) {
    json_builder_set_member_name(b, "mode");
    json_builder_add_int_value(b, mode);
    json_builder_set_member_name(b, "size");
    json_builder_add_int_value(b, (gint64)MIN(size, (guint64)G_MAXINT64));
  }
}

char *nl_ls_json(const char *node, const char *path, char type, GPtrArray *entries,
                 gboolean truncated, const char *via) {
  /* Each entry's JSON is measured as it is added: past the bound, the rest
   * is left out. */
  GString *list = g_string_new("[");
  for (guint i = 0; entries && i < entries->len; i++) {
    const NlFileEntry *e = entries->pdata[i];
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_entry(b, e->name, e->type, e->mode, e->size);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *one = json_to_string(root, FALSE);
    if (list->len + strlen(one) + 512 + strlen(path) * 6 > NL_LS_JSON_MAX) {
      truncated = TRUE;
      break;
    }
    if (list->len > 1) g_string_append_c(list, ',');
    g_string_append(list, one);
  }
  g_string_append_c(list, ']');
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "node");
  json_builder_add_string_value(b, node);
  json_builder_set_member_name(b, "path");
  json_builder_add_string_value(b, path);
  json_builder_set_member_name(b, "via");
  json_builder_add_string_value(b, via);
  json_builder_set_member_name(b, "truncated");
  json_builder_add_boolean_value(b, truncated);
  json_entry(b, NULL, type, G_MAXUINT32, 0);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *head = json_to_string(root, FALSE);
  /* The head's closing brace gives way to the entries. */
  head[strlen(head) - 1] = '\0';
  char *out = g_strdup_printf("%s,\"entries\":%s}\n", head, list->str);
  g_string_free(list, TRUE);
  return out;
}

void nl_change_free(NlChange *c) {
  if (!c) return;
  g_free(c->path);
  g_free(c);
}

/* What one upper-layer entry means against the host's root: NULL when it
 * changes nothing (a directory copied up on the way to a changed file). */
static NlChange *classify(const char *path, guint32 mode, gboolean whiteout, gboolean opaque) {
  struct stat st;
  gboolean in_lower = lstat(path, &st) == 0;
  NlChangeKind kind;
  if (whiteout) {
    if (!in_lower) return NULL;
    kind = NL_CHANGE_DELETED;
    mode = st.st_mode;
  } else if (!in_lower) {
    /* The mount points the first stage makes for the lab's shares. */
    if (S_ISDIR(mode) && (strcmp(path, "/hostlab") == 0 || strcmp(path, "/shared") == 0))
      return NULL;
    kind = NL_CHANGE_ADDED;
  } else if (S_ISDIR(mode) && S_ISDIR(st.st_mode) && !opaque &&
             (mode & 07777) == (st.st_mode & 07777)) {
    return NULL;
  } else {
    kind = NL_CHANGE_MODIFIED;
  }
  NlChange *c = g_new0(NlChange, 1);
  c->path = g_strdup(path);
  c->kind = kind;
  c->type = type_char(mode);
  c->mode = mode;
  return c;
}

/* The upper layer through the agent: "TYPE MODE PATH" per entry; a
 * character device there is a whiteout (overlayfs makes no others). */
static GPtrArray *agent_changes(NlNodeFiles *f, GError **error) {
  char *argv[] = {"find", GUEST_UPPER, "-mindepth", "1", "-printf", "%y %m %P\\0", NULL};
  gsize n = 0;
  g_autofree char *text = agent_output(f, argv, &n, error);
  if (!text) return NULL;
  GPtrArray *out_list = g_ptr_array_new_with_free_func((GDestroyNotify)nl_change_free);
  for (char *p = text; p < text + n; p += strlen(p) + 1) {
    char type;
    unsigned mode;
    int used = 0;
    if (sscanf(p, "%c %o %n", &type, &mode, &used) != 2 || !used) continue;
    g_autofree char *path = g_strconcat("/", p + used, NULL);
    guint32 m = mode | (type == 'd'   ? S_IFDIR
                        : type == 'l' ? S_IFLNK
                        : type == 'c' ? S_IFCHR
                                      : S_IFREG);
    NlChange *c = classify(path, m, type == 'c', FALSE);
    if (c) g_ptr_array_add(out_list, c);
  }
  g_ptr_array_sort(out_list, nl_strv_cmp);
  return out_list;
}

GPtrArray *nl_node_files_changes(NlNodeFiles *f, GError **error) {
  if (f->statedir) return agent_changes(f, error);
  g_autoptr(GPtrArray) entries = f->b->walk(f->app->fs, f->idx, error);
  if (!entries) return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nl_change_free);
  for (guint i = 0; i < entries->len; i++) {
    NlDiskEntry *e = entries->pdata[i];
    NlChange *c = classify(e->path, e->mode, is_whiteout(e), e->opaque);
    if (c) g_ptr_array_add(out, c);
  }
  return out;
}

gboolean nl_node_files_read_upper(NlNodeFiles *f, const char *path, int fd, GError **error) {
  if (f->statedir) {
    g_autofree char *in_upper = g_strconcat(GUEST_UPPER, path, NULL);
    char *argv[] = {"cat", "--", in_upper, NULL};
    return agent_run(f, argv, -1, fd, error) == 0;
  }
  NlDiskEntry e = {0};
  if (!f->b->lstat(f->app->fs, f->idx, path, &e, error)) {
    if (!*error) no_such(error, f, path);
    return FALSE;
  }
  g_free(e.path);
  if (!S_ISREG(e.mode)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s:%s: not a regular file", f->node, path);
    return FALSE;
  }
  if (e.size > NL_NODE_FILE_MAX) return too_big(error, f, path, e.size);
  return f->b->read(f->app->fs, f->idx, path, fd, error);
}

gboolean nl_node_files_tar_upper(NlNodeFiles *f, const char *path, int fd, GError **error) {
  if (f->statedir) {
    g_autofree char *rel = g_strdup(path + 1);
    char *argv[] = {"tar", "-czf", "-", "-C", GUEST_UPPER, "--", rel, NULL};
    return agent_run(f, argv, -1, fd, error) == 0;
  }
  NlDiskEntry e = {0};
  if (!f->b->lstat(f->app->fs, f->idx, path, &e, error)) {
    if (!*error)
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "the node wrote nothing in %s", path);
    return FALSE;
  }
  g_free(e.path);
  /* Its files together, before the archive is made in memory. */
  g_autoptr(GPtrArray) all = f->b->walk(f->app->fs, f->idx, error);
  if (!all) return FALSE;
  g_autofree char *prefix = g_strconcat(path, "/", NULL);
  guint64 sum = 0;
  for (guint i = 0; i < all->len; i++) {
    NlDiskEntry *x = all->pdata[i];
    if (g_str_has_prefix(x->path, prefix) && S_ISREG(x->mode)) sum += x->size;
  }
  if (sum > NL_NODE_FILE_MAX) return too_big(error, f, path, sum);
  return f->b->tar(f->app->fs, f->idx, path, fd, error);
}

char *nl_node_files_diff(NlNodeFiles *f, const NlChange *c, GError **error) {
  if (c->type != 'f' || c->kind == NL_CHANGE_DELETED) return g_strdup("");
  struct stat lower;
  if (c->kind != NL_CHANGE_ADDED && stat(c->path, &lower) == 0 &&
      (guint64)lower.st_size > NL_NODE_FILE_MAX) {
    too_big(error, f, c->path, lower.st_size);
    return NULL;
  }
  g_autofree char *tmp = g_build_filename(g_get_tmp_dir(), "netlab-diff-XXXXXX", NULL);
  int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s': %s", tmp, g_strerror(errno));
    return NULL;
  }
  gboolean ok = nl_node_files_read_upper(f, c->path, fd, error);
  close(fd);
  g_autofree char *label_a = g_strconcat("a", c->path, NULL);
  g_autofree char *label_b = g_strconcat("b", c->path, NULL);
  const char *argv[] = {"diff",
                        "-u",
                        "--label",
                        label_a,
                        "--label",
                        label_b,
                        c->kind == NL_CHANGE_ADDED ? "/dev/null" : c->path,
                        tmp,
                        NULL};
  g_autofree char *text = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  if (ok)
    ok = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &text, &err,
                      &status, error);
  g_unlink(tmp);
  if (!ok) return NULL;
  /* diff exits 1 when the files differ, 2 on trouble. */
  if (WIFEXITED(status) && WEXITSTATUS(status) > 1) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "diff of '%s' failed: %s", c->path,
                err ? g_strchomp(err) : "");
    return NULL;
  }
  return g_steal_pointer(&text);
}

/* ---- whole commands, each in one child ------------------------------------- */

static NlNodeFiles *usable_or_error(NlNodeFiles *f, GError **error) {
  if (nl_node_files_usable(f)) return f;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s", f->why ? f->why : f->node);
  return NULL;
}

typedef struct {
  char **nodes; /* as many as PATHS: the node of each */
  char **paths;
  char **unique; /* NODES without repeats: what the child opens */
  int fd;        /* copy in: the host file */
  int mode;
  gboolean patch;
  gboolean json; /* ls: nl_ls_json() */
} Op;

static NlNodeFiles *of(NlNodeFiles **files, guint n, const char *node, GError **error) {
  for (guint i = 0; i < n; i++)
    if (strcmp(files[i]->node, node) == 0) return usable_or_error(files[i], error);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "no node '%s'", node);
  return NULL;
}

static gboolean cat_work(NlNodeFiles **files, guint n, int out, gpointer data, GError **error) {
  Op *op = data;
  for (guint i = 0; op->paths[i]; i++) {
    NlNodeFiles *f = of(files, n, op->nodes[i], error);
    if (!f || !nl_node_files_read(f, op->paths[i], out, error)) return FALSE;
  }
  return TRUE;
}

static gboolean sink_fd(const guint8 *buf, gsize len, gpointer data, GError **error) {
  if (nl_write_all(GPOINTER_TO_INT(data), buf, len)) return TRUE;
  return nl_set_errno(error, errno, "cannot write out");
}

static char **unique(char **nodes) {
  GStrvBuilder *b = g_strv_builder_new();
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  for (char **n = nodes; *n; n++)
    if (g_hash_table_add(seen, *n)) g_strv_builder_add(b, *n);
  char **out = g_strv_builder_end(b);
  g_strv_builder_unref(b);
  return out;
}

static gboolean run_op(const char *labdir, Op *op, gboolean writable, NlNodeFilesWork work,
                       guint64 max, int out, GError **error) {
  g_auto(GStrv) u = unique(op->nodes);
  /* Copied in, the host file the caller opened is the one open file the
   * child keeps. */
  g_autoptr(GBytes) b =
      run_files(labdir, u, writable, work, op, max, sink_fd, GINT_TO_POINTER(out), op->fd, error);
  return b != NULL;
}

gboolean nl_node_cat(const char *labdir, char **nodes, char **paths, int out, GError **error) {
  Op op = {.nodes = nodes, .paths = paths};
  return run_op(labdir, &op, FALSE, cat_work, NL_NODE_OP_MAX, out, error);
}

gboolean nl_node_copy_out(const char *labdir, const char *node, const char *path, int out,
                          GError **error) {
  char *nodes[] = {(char *)node, NULL};
  char *paths[] = {(char *)path, NULL};
  Op op = {.nodes = nodes, .paths = paths};
  return run_op(labdir, &op, FALSE, cat_work, NL_NODE_FILE_MAX, out, error);
}

static gboolean copy_in_work(NlNodeFiles **files, guint n, int out, gpointer data, GError **error) {
  Op *op = data;
  NlNodeFiles *f = usable_or_error(files[0], error);
  return f && nl_node_files_write(f, op->fd, op->paths[0], op->mode, error);
}

gboolean nl_node_copy_in(const char *labdir, int fd, const char *node, const char *path, int mode,
                         GError **error) {
  char *nodes[] = {(char *)node, NULL};
  char *paths[] = {(char *)path, NULL};
  Op op = {.nodes = nodes, .paths = paths, .fd = fd, .mode = mode};
  return run_op(labdir, &op, TRUE, copy_in_work, 0, -1, error);
}

static gboolean diff_work(NlNodeFiles **files, guint n, int out, gpointer data, GError **error) {
  Op *op = data;
  NlNodeFiles *f = usable_or_error(files[0], error);
  if (!f) return FALSE;
  g_autoptr(GPtrArray) changes = nl_node_files_changes(f, error);
  if (!changes) return FALSE;
  for (guint i = 0; i < changes->len; i++) {
    NlChange *c = changes->pdata[i];
    dprintf(out, "%c %s%s\n", c->kind, c->path,
            c->type == 'd'   ? "/"
            : c->type == 'l' ? " (symlink)"
                             : "");
    if (!op->patch) continue;
    g_autofree char *text = nl_node_files_diff(f, c, error);
    if (!text || !nl_write_all(out, text, strlen(text))) return FALSE;
  }
  return TRUE;
}

gboolean nl_node_diff(const char *labdir, const char *node, gboolean patch, int out,
                      GError **error) {
  char *nodes[] = {(char *)node, NULL};
  Op op = {.nodes = nodes, .patch = patch};
  return run_op(labdir, &op, FALSE, diff_work, NL_NODE_OP_MAX, out, error);
}

static gboolean ls_work(NlNodeFiles **files, guint n, int out, gpointer data, GError **error) {
  Op *op = data;
  NlNodeFiles *f = usable_or_error(files[0], error);
  if (!f) return FALSE;
  g_autofree char *text = NULL;
  if (op->json) {
    char type = '?';
    gboolean truncated = FALSE;
    g_autoptr(GPtrArray) entries =
        nl_node_files_list(f, op->paths[0], NL_LS_ENTRIES_MAX, &type, &truncated, error);
    if (!entries) return FALSE;
    text = nl_ls_json(nl_node_files_node(f), op->paths[0], type, entries, truncated,
                      nl_node_files_via(f));
  } else {
    text = nl_node_files_ls(f, op->paths[0], error);
  }
  return text && nl_write_all(out, text, strlen(text));
}

gboolean nl_node_ls(const char *labdir, const char *node, const char *path, gboolean json, int out,
                    GError **error) {
  char *nodes[] = {(char *)node, NULL};
  char *paths[] = {(char *)path, NULL};
  Op op = {.nodes = nodes, .paths = paths, .json = json};
  return run_op(labdir, &op, FALSE, ls_work, NL_NODE_FILE_MAX, out, error);
}
