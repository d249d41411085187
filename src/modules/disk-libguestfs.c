/* netlab-disk.so: everything netlab does to a node's disk from the host,
 * through libguestfs. The disk is mounted only inside libguestfs' appliance
 * (a small VM of its own), never on the host, so nothing a guest wrote in
 * it (a symlink, a device node, a corrupt ext4) reaches the host's kernel
 * or path resolution. Each function launches at most one appliance, for
 * all the disks it is given: a launch costs ~10 s under TCG. */
#include <errno.h>
#include <guestfs.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk-backend.h"
#include "util.h"

/* The layout of a disk: ext4, with the overlay's directories at its root. */
#define UPPER "upper"
#define WORK "work"
#define LABEL "netlab"

struct NlDiskFs {
  guestfs_h *g;
  guint n;
};

static void set_gerror(guestfs_h *g, GError **error, const char *what) {
  const char *why = guestfs_last_error(g);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s", what, why ? why : "libguestfs failed");
}

static guestfs_h *handle(GError **error) {
  guestfs_h *g = guestfs_create();
  if (!g) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create a libguestfs handle");
    return NULL;
  }
  /* Errors come back through GError, printed once by netlab. */
  guestfs_set_error_handler(g, NULL, NULL);
  guestfs_set_identifier(g, "netlab");
  /* libguestfs gives its appliance 1280 MiB by default; formatting,
   * checking and reading a disk need a fraction of that. */
  guestfs_set_memsize(g, 384);
  return g;
}

static void done(guestfs_h *g) {
  guestfs_shutdown(g);
  guestfs_close(g);
}

static char *device(guestfs_h *g, guint i, GError **error) {
  char **devs = guestfs_list_devices(g);
  if (!devs) {
    set_gerror(g, error, "cannot list the appliance's disks");
    return NULL;
  }
  char *d = NULL;
  guint n = 0;
  for (; devs[n]; n++)
    if (n == i) d = g_strdup(devs[n]);
  for (guint k = 0; k < n; k++) free(devs[k]);
  free(devs);
  return d;
}

static gboolean format(guestfs_h *g, const NlDiskJob *j, const char *dev, GError **error) {
  g_autofree char *what = g_strdup_printf("cannot format the disk of '%s' (%s)", j->node, j->path);
  if (guestfs_mkfs_opts(g, "ext4", dev, GUESTFS_MKFS_OPTS_LABEL, LABEL, -1) != 0 ||
      guestfs_mount(g, dev, "/") != 0 || guestfs_mkdir(g, "/" UPPER) != 0 ||
      guestfs_mkdir(g, "/" WORK) != 0 || guestfs_umount_all(g) != 0) {
    set_gerror(g, error, what);
    return FALSE;
  }
  return TRUE;
}

/* fsck's exit status, as e2fsck -p documents it. */
static char *fsck_report(int status) {
  if (status == 0) return g_strdup("clean");
  if ((status & ~3) == 0) return g_strdup("errors found and repaired");
  return g_strdup_printf("errors left uncorrected (fsck status %d)", status);
}

static gboolean prepare(NlDiskJob *const *jobs, guint n, GError **error) {
  guestfs_h *g = handle(error);
  if (!g) return FALSE;
  gboolean ok = FALSE;
  for (guint i = 0; i < n; i++) {
    const NlDiskJob *j = jobs[i];
    if (j->create && guestfs_disk_create(g, j->path, "qcow2", (int64_t)j->bytes,
                                         GUESTFS_DISK_CREATE_PREALLOCATION, "off", -1) != 0) {
      g_autofree char *what =
          g_strdup_printf("cannot create the disk of '%s' (%s)", j->node, j->path);
      set_gerror(g, error, what);
      goto out;
    }
    if (guestfs_add_drive_opts(g, j->path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2", -1) != 0) {
      g_autofree char *what = g_strdup_printf("cannot use the disk of '%s' (%s)", j->node, j->path);
      set_gerror(g, error, what);
      goto out;
    }
  }
  if (guestfs_launch(g) != 0) {
    set_gerror(g, error, "cannot start libguestfs' appliance");
    goto out;
  }
  for (guint i = 0; i < n; i++) {
    NlDiskJob *j = jobs[i];
    g_autofree char *dev = device(g, i, error);
    if (!dev) goto out;
    if (j->create && !format(g, j, dev, error)) goto out;
    if (j->check) {
      int status = guestfs_fsck(g, "ext4", dev);
      if (status < 0) {
        g_autofree char *what =
            g_strdup_printf("cannot check the disk of '%s' (%s)", j->node, j->path);
        set_gerror(g, error, what);
        goto out;
      }
      j->report = fsck_report(status);
    }
  }
  ok = TRUE;
out:
  done(g);
  return ok;
}

static NlDiskFs *fs_open(const char *const *paths, guint n, gboolean writable, GError **error) {
  guestfs_h *g = handle(error);
  if (!g) return NULL;
  for (guint i = 0; i < n; i++)
    /* Read-only, libguestfs puts a throw-away overlay in front, so a journal
     * left by a VM that died can still be replayed, without touching the
     * disk. */
    if (guestfs_add_drive_opts(g, paths[i], GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                               GUESTFS_ADD_DRIVE_OPTS_READONLY, !writable, -1) != 0) {
      g_autofree char *what = g_strdup_printf("cannot use disk '%s'", paths[i]);
      set_gerror(g, error, what);
      done(g);
      return NULL;
    }
  if (guestfs_launch(g) != 0) {
    set_gerror(g, error, "cannot start libguestfs' appliance");
    done(g);
    return NULL;
  }
  for (guint i = 0; i < n; i++) {
    g_autofree char *dev = device(g, i, error);
    g_autofree char *mp = g_strdup_printf("/d%u", i);
    if (!dev) {
      done(g);
      return NULL;
    }
    if (guestfs_mkmountpoint(g, mp) != 0 ||
        (writable ? guestfs_mount(g, dev, mp) : guestfs_mount_ro(g, dev, mp)) != 0) {
      g_autofree char *what = g_strdup_printf("cannot mount disk '%s'", paths[i]);
      set_gerror(g, error, what);
      done(g);
      return NULL;
    }
  }
  NlDiskFs *fs = g_new0(NlDiskFs, 1);
  fs->g = g;
  fs->n = n;
  return fs;
}

static void fs_close(NlDiskFs *fs) {
  if (!fs) return;
  /* A writable disk's changes are on it once umount returns. */
  guestfs_umount_all(fs->g);
  done(fs->g);
  g_free(fs);
}

/* PATH (absolute, no ".." left: the callers canonicalize it) in disk I's
 * upper layer, as the appliance names it. */
static char *upper(guint i, const char *path) {
  return g_strdup_printf("/d%u/" UPPER "%s", i, strcmp(path, "/") == 0 ? "" : path);
}

static void fill(NlDiskEntry *out, const struct guestfs_statns *st) {
  out->mode = st->st_mode;
  out->size = st->st_size;
  out->rdev = st->st_rdev;
}

static gboolean is_opaque(guestfs_h *g, const char *p) {
  size_t len = 0;
  /* Absent is an error from libguestfs, and the common case. */
  guestfs_push_error_handler(g, NULL, NULL);
  char *v = guestfs_lgetxattr(g, p, "trusted.overlay.opaque", &len);
  guestfs_pop_error_handler(g);
  gboolean y = v && len == 1 && v[0] == 'y';
  free(v);
  return y;
}

static gboolean fs_lstat(NlDiskFs *fs, guint i, const char *path, NlDiskEntry *out,
                         GError **error) {
  g_autofree char *p = upper(i, path);
  int exists = guestfs_exists(fs->g, p);
  if (exists < 0) {
    set_gerror(fs->g, error, path);
    return FALSE;
  }
  /* exists() follows symlinks: a dangling one is still an entry. */
  int link = exists ? 0 : guestfs_is_symlink(fs->g, p);
  if (!exists && link <= 0) return FALSE;
  struct guestfs_statns *st = guestfs_lstatns(fs->g, p);
  if (!st) {
    set_gerror(fs->g, error, path);
    return FALSE;
  }
  out->path = g_strdup(path);
  fill(out, st);
  out->opaque = S_ISDIR(out->mode) && is_opaque(fs->g, p);
  guestfs_free_statns(st);
  return TRUE;
}

static char *fs_readlink(NlDiskFs *fs, guint i, const char *path, GError **error) {
  g_autofree char *p = upper(i, path);
  char *t = guestfs_readlink(fs->g, p);
  if (!t) set_gerror(fs->g, error, path);
  char *out = g_strdup(t);
  free(t);
  return out;
}

static char **fs_list(NlDiskFs *fs, guint i, const char *path, GError **error) {
  g_autofree char *p = upper(i, path);
  char **names = guestfs_ls(fs->g, p);
  if (!names) {
    set_gerror(fs->g, error, path);
    return NULL;
  }
  GStrvBuilder *b = g_strv_builder_new();
  for (char **n = names; *n; n++) {
    g_strv_builder_add(b, *n);
    free(*n);
  }
  free(names);
  char **out = g_strv_builder_end(b);
  g_strv_builder_unref(b);
  return out;
}

static void entry_free(NlDiskEntry *e) {
  if (!e) return;
  g_free(e->path);
  g_free(e);
}

static int by_path(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlDiskEntry *const *)a)->path, (*(NlDiskEntry *const *)b)->path);
}

static GPtrArray *fs_walk(NlDiskFs *fs, guint i, GError **error) {
  g_autofree char *root = upper(i, "/");
  char **names = guestfs_find(fs->g, root);
  if (!names) {
    set_gerror(fs->g, error, "cannot list the upper layer");
    return NULL;
  }
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
  gboolean ok = TRUE;
  for (char **n = names; *n; n++) {
    if (ok) {
      g_autofree char *rel = g_canonicalize_filename(*n, "/");
      NlDiskEntry *e = g_new0(NlDiskEntry, 1);
      if (fs_lstat(fs, i, rel, e, error)) {
        g_ptr_array_add(out, e);
      } else {
        g_free(e);
        ok = FALSE;
      }
    }
    free(*n);
  }
  free(names);
  if (!ok) {
    g_ptr_array_unref(out);
    return NULL;
  }
  g_ptr_array_sort(out, by_path);
  return out;
}

/* libguestfs reopens its local file by name, and opening /dev/fd/N
 * truncates a regular file: it writes into a memfd, copied into FD after. */
static gboolean download_to(NlDiskFs *fs, const char *what, int fd, GError **error, gboolean tar) {
  int tmp = memfd_create("netlab-download", MFD_CLOEXEC);
  if (tmp < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "memfd_create: %s", g_strerror(errno));
    return FALSE;
  }
  g_autofree char *dst = g_strdup_printf("/dev/fd/%d", tmp);
  int rc = tar ? guestfs_tar_out_opts(fs->g, what, dst, GUESTFS_TAR_OUT_OPTS_COMPRESS, "gzip", -1)
               : guestfs_download(fs->g, what, dst);
  gboolean ok = rc == 0;
  if (!ok) set_gerror(fs->g, error, what);
  char buf[65536];
  ssize_t n = 0;
  for (off_t off = 0; ok && (n = pread(tmp, buf, sizeof buf, off)) > 0; off += n)
    if (write(fd, buf, n) != n) n = -1;
  if (ok && n < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write '%s' out: %s", what,
                g_strerror(errno));
    ok = FALSE;
  }
  close(tmp);
  return ok;
}

static gboolean fs_read(NlDiskFs *fs, guint i, const char *path, int fd, GError **error) {
  g_autofree char *p = upper(i, path);
  return download_to(fs, p, fd, error, FALSE);
}

static gboolean fs_write(NlDiskFs *fs, guint i, int fd, const char *path, int mode,
                         GError **error) {
  g_autofree char *p = upper(i, path);
  g_autofree char *dir = g_path_get_dirname(p);
  g_autofree char *src = g_strdup_printf("/dev/fd/%d", fd);
  if (guestfs_mkdir_p(fs->g, dir) != 0 || guestfs_upload(fs->g, src, p) != 0 ||
      guestfs_chmod(fs->g, mode & 07777, p) != 0) {
    set_gerror(fs->g, error, path);
    return FALSE;
  }
  return TRUE;
}

static gboolean fs_tar(NlDiskFs *fs, guint i, const char *path, int fd, GError **error) {
  g_autofree char *p = upper(i, path);
  return download_to(fs, p, fd, error, TRUE);
}

const NlDiskBackend nl_disk_backend = {
    .prepare = prepare,
    .open = fs_open,
    .close = fs_close,
    .lstat = fs_lstat,
    .readlink = fs_readlink,
    .list = fs_list,
    .walk = fs_walk,
    .read = fs_read,
    .write = fs_write,
    .tar = fs_tar,
};
