#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "util.h"

char *nl_state_base(GError **error) {
  g_autofree char *base = NULL;
  if (geteuid() == 0)
    base = g_strdup("/run/netlab");
  else if (g_getenv("XDG_RUNTIME_DIR") && *g_getenv("XDG_RUNTIME_DIR"))
    base = g_build_filename(g_getenv("XDG_RUNTIME_DIR"), "netlab", NULL);
  else
    base = g_strdup_printf("/tmp/netlab-%u", (unsigned)geteuid());

  /* Root's QEMU user must reach its lab's directory, whose own mode then
   * keeps everyone else out: BASE lets others pass, never list. */
  int mode = geteuid() == 0 ? 0711 : 0700;
  if (mkdir(base, mode) != 0 && errno != EEXIST) {
    nl_set_errno(error, errno, "cannot create '%s'", base);
    return NULL;
  }
  /* As tmux does for its socket directory: a directory someone else owns or
   * can write to could hand us their sockets. */
  struct stat st;
  if (lstat(base, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 0777 & ~mode) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is not a directory of mode %04o owned by uid %u", base, mode,
                (unsigned)geteuid());
    return NULL;
  }
  return g_steal_pointer(&base);
}

NlState *nl_state_for(const char *labdir, GError **error) {
  g_autofree char *base = nl_state_base(error);
  if (!base) return NULL;
  g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, labdir, -1);
  g_autofree char *bn = g_path_get_basename(labdir);
  /* Only a short, tame part of the name: it is for people reading `ls`, and
   * socket paths must stay under 108 bytes. */
  GString *id = g_string_new(NULL);
  for (const char *c = bn; *c && id->len < 16; c++)
    g_string_append_c(id, g_ascii_isalnum(*c) || *c == '_' || *c == '-' ? *c : '_');
  g_string_append_printf(id, "-%.8s", hash);

  NlState *st = g_new0(NlState, 1);
  st->id = g_string_free(id, FALSE);
  st->dir = g_build_filename(base, st->id, NULL);
  st->lock_fd = -1;
  return st;
}

void nl_state_free(NlState *st) {
  if (!st) return;
  if (st->lock_fd >= 0) close(st->lock_fd);
  g_free(st->dir);
  g_free(st->id);
  g_free(st);
}

gboolean nl_state_exists(const NlState *st) { return g_file_test(st->dir, G_FILE_TEST_IS_DIR); }

gboolean nl_state_lock(NlState *st, gboolean create, GError **error) {
  g_autofree char *lock = nl_layout_key(st->dir, NL_LAYOUT_LOCK);
  for (;;) {
    if (create && mkdir(st->dir, 0700) != 0 && errno != EEXIST)
      return nl_set_errno(error, errno, "cannot create '%s'", st->dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot open '%s': %s", lock,
                  g_strerror(errno));
      return FALSE;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = "";
      ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
      pid[n > 0 ? n : 0] = '\0';
      g_strchomp(pid);
      close(fd);
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "another netlab (pid %s) is working on this lab (%s)", *pid ? pid : "?", st->dir);
      return FALSE;
    }
    /* The holder we waited for may have been a `down` that removed the
     * directory: then our lock is on a deleted file, so start over. */
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(lock, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
      g_autofree char *me = g_strdup_printf("%d\n", (int)getpid());
      if (ftruncate(fd, 0) != 0 || pwrite(fd, me, strlen(me), 0) < 0) {
        /* Only informative: the lock holds without it. */
      }
      st->lock_fd = fd;
      return TRUE;
    }
    close(fd);
  }
}

gboolean nl_state_set(const NlState *st, const char *key, const char *value, GError **error) {
  g_autofree char *path = nl_layout_key(st->dir, key);
  return nl_write_file(path, value, -1, 0600, error);
}

char *nl_state_get(const NlState *st, const char *key) {
  g_autofree char *path = nl_layout_key(st->dir, key);
  char *v = NULL;
  if (!g_file_get_contents(path, &v, NULL, NULL)) return NULL;
  return g_strchomp(v);
}

static guint64 mount_id(const char *path) {
  struct statx sx;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0 ||
      !(sx.stx_mask & STATX_MNT_ID))
    return 0;
  return sx.stx_mnt_id;
}

/* Never crosses into another mount: up binds the lab directory under the
 * state directory (in its own mount namespace), and removing through that
 * bind would remove the lab. A mount found here is detached instead. */
static gboolean remove_tree(const char *path, guint64 mnt, GError **error) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? TRUE : FALSE;
  if (mount_id(path) != mnt) {
    umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
    if (mount_id(path) != mnt) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "cannot remove '%s': something is mounted there", path);
      return FALSE;
    }
  }
  if (S_ISDIR(st.st_mode)) {
    g_autoptr(GDir) d = g_dir_open(path, 0, error);
    if (!d) return FALSE;
    const char *n;
    while ((n = g_dir_read_name(d))) {
      g_autofree char *child = g_build_filename(path, n, NULL);
      if (!remove_tree(child, mnt, error)) return FALSE;
    }
    if (rmdir(path) == 0) return TRUE;
  } else if (unlink(path) == 0) {
    return TRUE;
  }
  if (errno == ENOENT) return TRUE;
  if (error && !*error)
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot remove '%s': %s", path,
                g_strerror(errno));
  return FALSE;
}

gboolean nl_state_remove(NlState *st, GError **error) {
  guint64 mnt = mount_id(st->dir);
  if (!mnt)
    return errno == ENOENT ? TRUE : nl_set_errno(error, errno, "cannot remove '%s'", st->dir);
  return remove_tree(st->dir, mnt, error);
}

static char *proc_field(int pid, const char *file) {
  g_autofree char *path = g_strdup_printf("/proc/%d/%s", pid, file);
  char *v = NULL;
  if (!g_file_get_contents(path, &v, NULL, NULL)) return NULL;
  return v;
}

gboolean nl_pid_gone(int pid) {
  g_autofree char *status = proc_field(pid, "status");
  return !status || strstr(status, "\nState:\tZ") != NULL;
}

int nl_pidfile_alive(const char *pidfile, const char *comm) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(pidfile, &text, NULL, NULL)) return 0;
  int pid = atoi(text);
  if (pid <= 0 || nl_pid_gone(pid)) return 0;
  g_autofree char *c = proc_field(pid, "comm");
  if (!c || strcmp(g_strchomp(c), comm) != 0) return 0;
  return pid;
}

void nl_lab_up_free(NlLabUp *l) {
  g_free(l->dir);
  g_free(l->lab);
  g_ptr_array_unref(l->nodes);
  g_free(l);
}

static int by_lab(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlLabUp *const *)a)->lab, (*(NlLabUp *const *)b)->lab);
}

GPtrArray *nl_state_list(GError **error) {
  g_autofree char *base = nl_state_base(error);
  if (!base) return NULL;
  GPtrArray *labs = g_ptr_array_new_with_free_func((GDestroyNotify)nl_lab_up_free);
  g_autoptr(GDir) d = g_dir_open(base, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *dir = g_build_filename(base, n, NULL);
    g_autofree char *labfile = nl_layout_key(dir, "lab");
    g_autofree char *lab = NULL;
    struct stat sb;
    /* `up` writes the lab's path first of all; a directory without it is
     * one being made or taken down. */
    if (lstat(labfile, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        !g_file_get_contents(labfile, &lab, NULL, NULL))
      continue;
    NlLabUp *l = g_new0(NlLabUp, 1);
    l->dir = g_steal_pointer(&dir);
    l->lab = g_strchomp(g_steal_pointer(&lab));
    l->since = sb.st_mtime;
    l->nodes = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *vmdir = nl_layout_vms(l->dir);
    g_autoptr(GDir) vms = g_dir_open(vmdir, 0, NULL);
    const char *vm;
    while (vms && (vm = g_dir_read_name(vms))) g_ptr_array_add(l->nodes, g_strdup(vm));
    g_ptr_array_sort(l->nodes, nl_strv_cmp);
    g_ptr_array_add(labs, l);
  }
  g_ptr_array_sort(labs, by_lab);
  return labs;
}
