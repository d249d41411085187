/* Nodes' disks, netlab's side (see disk.h): paths, the plan of what a boot
 * needs, and loading netlab-disk.so when a disk's content is touched. */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "layout.h"
#include "accel.h"
#include "privdrop.h"
#include "qcow2.h"
#include "sandbox.h"
#include "state.h"
#include "util.h"

char *nl_disk_dir(const char *labdir) { return nl_layout_disks(labdir); }

char *nl_disk_path(const char *labdir, const char *node) {
  return nl_layout_disk(labdir, node, ".qcow2");
}

static char *dirty_path(const char *labdir, const char *node) {
  return nl_layout_disk(labdir, node, ".dirty");
}

gboolean nl_disk_grant_qemu(const char *path, GError **error) {
  g_auto(NlQemuUser) qu = {0};
  if (!nl_qemu_user(&qu, error)) return FALSE;
  /* The qcow2 file is the one thing of the data directory QEMU writes; it
   * is nobody else's to read. */
  if ((qu.dropped && chown(path, qu.uid, qu.gid) != 0) || chmod(path, 0600) != 0) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot give '%s' to user '%s': %s", path,
                qu.name ? qu.name : g_get_user_name(), g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

gboolean nl_disk_check_space(const NlLab *lab, GError **error) {
  struct statvfs vfs;
  g_autofree char *where = nl_disk_dir(lab->dir);
  if (statvfs(where, &vfs) != 0) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read the free space of '%s': %s", where,
                g_strerror(saved));
    return FALSE;
  }
  guint64 free_mib = (guint64)vfs.f_bavail * vfs.f_frsize >> 20;
  guint64 wanted = 0;
  g_autoptr(GString) msg = g_string_new(NULL);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    g_autofree char *path = nl_disk_path(lab->dir, node->name);
    if (!node->disk_mib || g_file_test(path, G_FILE_TEST_EXISTS)) continue;
    /* qcow2 grows as the guest writes: a full disk would stop the VM. */
    wanted += node->disk_mib;
    if (wanted > free_mib)
      g_string_append_printf(msg,
                             "%s%s:%u: the disk of '%s' (%" G_GUINT64_FORMAT
                             " MiB) does not fit in the %" G_GUINT64_FORMAT " MiB free in '%s'%s",
                             msg->len ? "\n" : "", node->disk_loc.file, node->disk_loc.line,
                             node->name, node->disk_mib, free_mib, where,
                             wanted > node->disk_mib ? " with the other disks" : "");
  }
  if (msg->len) {
    g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, msg->str);
    return FALSE;
  }
  return TRUE;
}

gboolean nl_disk_set_dirty(const char *labdir, const char *node, gboolean dirty, GError **error) {
  g_autofree char *path = dirty_path(labdir, node);
  if (dirty) return nl_write_file(path, "", 0, 0600, error);
  if (g_unlink(path) != 0 && errno != ENOENT) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot remove '%s': %s", path,
                g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

static char *booted_path(const char *labdir, const char *node) {
  return nl_layout_disk(labdir, node, ".booted");
}

gboolean nl_disk_mark_booted(const char *labdir, const char *node, GError **error) {
  g_autofree char *path = booted_path(labdir, node);
  return nl_write_file(path, "", 0, 0600, error);
}

gint64 nl_disk_booted(const char *labdir, const char *node) {
  g_autofree char *path = booted_path(labdir, node);
  g_autofree char *disk = nl_disk_path(labdir, node);
  struct stat st;
  /* Without the record, the disk's last write is the nearest bound. */
  if (stat(path, &st) == 0 || stat(disk, &st) == 0) return st.st_mtime;
  return 0;
}

static const NlDiskBackend *backend;

const NlDiskBackend *nl_disk_backend(GError **error) {
  if (backend) return backend;
  /* The libvirt backend cannot run libguestfs' appliance here, and without
   * a working KVM it must be told to use TCG. A user's own settings win. */
  gboolean kvm = FALSE;
  g_autofree char *why = NULL;
  if (!nl_accel_pick(NL_ACCEL_AUTO, &kvm, &why, error)) return NULL;
  g_setenv("LIBGUESTFS_BACKEND", "direct", FALSE);
  if (!kvm) g_setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", FALSE);
  backend = nl_load_module("netlab-disk.so", NETLAB_DISK_INSTALLED, NL_DISK_BACKEND, error);
  return backend;
}

static void job_free(NlDiskJob *j) {
  g_free((char *)j->path);
  g_free(j->report);
  g_free(j);
}

gboolean nl_disk_check(const char *path, GError **error) {
  struct stat st;
  int fd = nl_open_regular(path, O_NOFOLLOW, &st, "refusing disk", error);
  if (fd < 0) return FALSE;
  gboolean ok = nl_qcow2_check_fd(fd, path, error);
  close(fd);
  return ok;
}

typedef struct {
  GPtrArray *jobs; /* NlDiskJob* */
  int *fds;
  char **at; /* where the child reaches each (nl_drop_expose()) */
} Prepare;

/* Before the drop: each disk opened, a new one created empty for the QEMU
 * user (O_EXCL, no link followed), an existing one checked. */
static gboolean prepare_open(gpointer data, GError **error) {
  Prepare *p = data;
  g_auto(NlQemuUser) qu = {0};
  if (!nl_qemu_user(&qu, error)) return FALSE;
  for (guint i = 0; i < p->jobs->len; i++) {
    NlDiskJob *j = p->jobs->pdata[i];
    int fd =
        open(j->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (j->create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0)
      return nl_set_errno(error, errno, "cannot open the disk of '%s' (%s)", j->node, j->path);
    p->fds[i] = fd;
    if (j->create && qu.dropped && fchown(fd, qu.uid, qu.gid) != 0)
      return nl_set_errno(error, errno, "cannot give '%s' to the QEMU user", j->path);
    if (!j->create && !nl_qcow2_check_fd(fd, j->path, error)) return FALSE;
    g_autofree char *name = g_strconcat(j->node, ".qcow2", NULL);
    if (!(p->at[i] = nl_drop_expose(fd, name, TRUE, error))) return FALSE;
  }
  return TRUE;
}

/* After the drop: libguestfs on the disks where the child reaches them; each
 * checked disk's report comes back as a record. */
static gboolean prepare_work(int out, gpointer data, GError **error) {
  Prepare *p = data;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < p->jobs->len; i++) {
    NlDiskJob *j = p->jobs->pdata[i];
    g_ptr_array_add(paths, (gpointer)j->path);
    j->path = p->at[i];
  }
  const NlDiskBackend *b = nl_disk_backend(error);
  if (!b || !b->prepare((NlDiskJob *const *)p->jobs->pdata, p->jobs->len, error)) return FALSE;
  for (guint i = 0; i < p->jobs->len; i++) {
    NlDiskJob *j = p->jobs->pdata[i];
    if (j->check && !nl_record_put(out, 'R', 0, j->node, j->report, strlen(j->report), error))
      return FALSE;
  }
  return TRUE;
}

gboolean nl_disk_prepare(const NlLab *lab, NlDiskNote note, gpointer data, GError **error) {
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)job_free);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (!node->disk_mib) continue;
    g_autofree char *dirty = dirty_path(lab->dir, node->name);
    NlDiskJob *j = g_new0(NlDiskJob, 1);
    j->node = node->name;
    j->path = nl_disk_path(lab->dir, node->name);
    j->bytes = node->disk_mib << 20;
    struct stat st;
    j->create = lstat(j->path, &st) != 0 && errno == ENOENT;
    j->check = !j->create && g_file_test(dirty, G_FILE_TEST_EXISTS);
    /* Every disk a VM will boot on passes the qcow2 check, checked or not. */
    if (!j->create && !nl_disk_check(j->path, error)) {
      job_free(j);
      return FALSE;
    }
    if (j->create || j->check)
      g_ptr_array_add(jobs, j);
    else
      job_free(j);
  }
  if (jobs->len == 0) return TRUE;

  if (!nl_state_data_make(lab->dir, error)) return FALSE;
  /* libguestfs runs with the QEMU user's rights, in a child. */
  g_autofree int *fds = g_new(int, jobs->len);
  g_autofree char **at = g_new0(char *, jobs->len);
  Prepare p = {.jobs = jobs, .fds = fds, .at = at};
  NlDrop d = {.what = "preparing the lab's disks",
              .prepare = prepare_open,
              .work = prepare_work,
              .data = &p,
              .max = 64 * 1024};
  g_autoptr(GBytes) reports = nl_drop_run(&d, error);
  if (!reports) {
    /* A half-made disk would be taken for a good one next time. */
    for (guint i = 0; i < jobs->len; i++) {
      NlDiskJob *j = jobs->pdata[i];
      struct stat st;
      if (j->create && lstat(j->path, &st) == 0 && S_ISREG(st.st_mode)) g_unlink(j->path);
    }
    return FALSE;
  }
  gsize off = 0;
  NlRecord r = {0};
  while (nl_record_next(reports, &off, &r, error)) {
    for (guint i = 0; i < jobs->len; i++) {
      NlDiskJob *j = jobs->pdata[i];
      if (j->check && strcmp(j->node, r.name) == 0 && !j->report)
        j->report = g_strndup((const char *)r.data, MIN(r.len, 200));
    }
  }
  if (*error) return FALSE;
  for (guint i = 0; i < jobs->len; i++) {
    NlDiskJob *j = jobs->pdata[i];
    if (j->create) {
      if (!nl_disk_grant_qemu(j->path, error)) return FALSE;
      g_autofree char *what =
          g_strdup_printf("disk created, %" G_GUINT64_FORMAT " MiB", j->bytes >> 20);
      note(j->node, what, data);
    } else {
      g_autofree char *what =
          g_strdup_printf("disk checked (e2fsck): %s", j->report ? j->report : "?");
      note(j->node, what, data);
    }
  }
  return TRUE;
}

void nl_disk_info_free(NlDiskInfo *d) {
  if (!d) return;
  g_free(d->node);
  g_free(d->path);
  g_free(d);
}

/* The virtual size is a big-endian 64-bit number at offset 24 of a qcow2
 * header; reading it needs no libguestfs. 0 when it is no qcow2. */
static guint64 qcow2_size(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  guint8 h[32];
  ssize_t n = pread(fd, h, sizeof h, 0);
  close(fd);
  if (n != sizeof h || memcmp(h, "QFI\xfb", 4) != 0) return 0;
  guint64 size = 0;
  for (int i = 24; i < 32; i++) size = size << 8 | h[i];
  return size;
}

static int by_node(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlDiskInfo *const *)a)->node, (*(NlDiskInfo *const *)b)->node);
}

GPtrArray *nl_disk_list(const char *labdir) {
  g_autofree char *dir = nl_disk_dir(labdir);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nl_disk_info_free);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    if (!g_str_has_suffix(n, ".qcow2")) continue;
    NlDiskInfo *info = g_new0(NlDiskInfo, 1);
    info->node = g_strndup(n, strlen(n) - strlen(".qcow2"));
    info->path = g_build_filename(dir, n, NULL);
    info->virtual_bytes = qcow2_size(info->path);
    struct stat st;
    if (lstat(info->path, &st) == 0) info->used_bytes = (guint64)st.st_blocks * 512;
    g_autofree char *dirty = dirty_path(labdir, info->node);
    info->dirty = g_file_test(dirty, G_FILE_TEST_EXISTS);
    g_ptr_array_add(out, info);
  }
  g_ptr_array_sort(out, by_node);
  return out;
}

gboolean nl_disk_remove(const char *labdir, const char *node, GError **error) {
  g_autofree char *path = nl_disk_path(labdir, node);
  if (g_unlink(path) != 0) {
    int saved = errno;
    if (saved == ENOENT) return FALSE;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot remove '%s': %s", path,
                g_strerror(saved));
    return FALSE;
  }
  g_autofree char *booted = booted_path(labdir, node);
  g_unlink(booted);
  return nl_disk_set_dirty(labdir, node, FALSE, error);
}
