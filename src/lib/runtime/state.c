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

/* A directory of ours, mode MODE, that nobody else could have prepared: made
 * if missing, then checked without following a link. */
static gboolean own_dir(const char *path, int mode, GError **error) {
  if (mkdir(path, mode) != 0 && errno != EEXIST)
    return nl_set_errno(error, errno, "cannot create '%s'", path);
  struct stat st;
  if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 0777 & ~mode) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is not a directory of mode %04o owned by uid %u", path, mode,
                (unsigned)geteuid());
    return FALSE;
  }
  return TRUE;
}

/* The text of FILE if it is a regular file of ours that only we can write,
 * else NULL: a record netlab trusts. */
static char *read_own_file(const char *file) {
  struct stat st;
  char *text = NULL;
  if (lstat(file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 022) || st.st_size > 4096 || !g_file_get_contents(file, &text, NULL, NULL))
    return NULL;
  return g_strchomp(text);
}

/* Another user made /tmp/netlab-UID first: a private directory of our own
 * instead, recorded in the data directory so every later netlab finds it. */
static char *runtime_fallback(const char *squatted, GError **error) {
  g_autofree char *base = nl_layout_data_base();
  g_autofree char *parent = g_path_get_dirname(base);
  if (!nl_mkdir(parent, 0700, error) || !own_dir(base, 0700, error)) return NULL;
  g_autofree char *record = nl_layout_runtime_record();
  g_autofree char *dir = read_own_file(record);
  if (dir && g_str_has_prefix(dir, "/tmp/") && own_dir(dir, 0700, NULL))
    return g_steal_pointer(&dir);
  g_autofree char *tmpl = g_strdup_printf("%s.XXXXXX", squatted);
  if (!g_mkdtemp_full(tmpl, 0700)) {
    nl_set_errno(error, errno, "cannot create a private directory in place of '%s'", squatted);
    return NULL;
  }
  g_autofree char *text = g_strconcat(tmpl, "\n", NULL);
  if (!nl_write_file(record, text, -1, 0600, error)) return NULL;
  return g_steal_pointer(&tmpl);
}

char *nl_state_base(GError **error) {
  g_autofree char *base = NULL;
  gboolean tmp = FALSE;
  if (geteuid() == 0) {
    base = g_strdup("/run/netlab");
  } else if (g_getenv("XDG_RUNTIME_DIR") && *g_getenv("XDG_RUNTIME_DIR")) {
    base = g_build_filename(g_getenv("XDG_RUNTIME_DIR"), "netlab", NULL);
  } else {
    base = g_strdup_printf("/tmp/netlab-%u", (unsigned)geteuid());
    tmp = TRUE;
  }
  /* Root's QEMU user must reach its lab's directory, whose own mode then
   * keeps everyone else out: BASE lets others pass, never list. As tmux
   * does for its socket directory: a directory someone else owns or can
   * write to could hand us their sockets. */
  int mode = geteuid() == 0 ? 0711 : 0700;
  g_autoptr(GError) local = NULL;
  if (own_dir(base, mode, &local)) return g_steal_pointer(&base);
  if (tmp) return runtime_fallback(base, error);
  g_propagate_error(error, g_steal_pointer(&local));
  return NULL;
}

gboolean nl_state_data_make(const char *labdir, GError **error) {
  g_autofree char *base = nl_layout_data_base();
  g_autofree char *parent = g_path_get_dirname(base);
  g_autofree char *data = nl_layout_data(labdir);
  if (!nl_mkdir(parent, 0700, error) || !own_dir(base, 0700, error) || !own_dir(data, 0700, error))
    return FALSE;
  const char *subs[] = NL_LAYOUT_DATA_SUBDIRS;
  for (guint i = 0; i < G_N_ELEMENTS(subs); i++) {
    g_autofree char *sub = g_build_filename(data, subs[i], NULL);
    if (!own_dir(sub, 0700, error)) return FALSE;
  }
  return TRUE;
}

/* The state directory the record in LABDIR's data directory names, if it
 * is one of ours that still exists. */
static char *recorded_state(const char *labdir) {
  g_autofree char *record = nl_layout_state_record(labdir);
  g_autofree char *dir = read_own_file(record);
  struct stat st;
  if (!dir || !g_path_is_absolute(dir) || lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
      st.st_uid != geteuid())
    return NULL;
  return g_steal_pointer(&dir);
}

char *nl_state_find_running(const NlState *st) {
  g_autofree char *needle = g_strconcat("/", st->id, "/", NULL);
  g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
  const char *n;
  while (proc && (n = g_dir_read_name(proc))) {
    if (!g_ascii_isdigit(*n)) continue;
    g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", n);
    g_autofree char *cmd = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &cmd, &len, NULL) || len == 0) continue;
    const char *at = memmem(cmd, len, needle, strlen(needle));
    if (!at) continue;
    /* The state directory is the argument's start up to the id: an
     * absolute path to a directory of ours. */
    const char *start = at;
    while (start > cmd && start[-1] != '\0' && start[-1] != '=' && start[-1] != ',' &&
           start[-1] != ':')
      start--;
    g_autofree char *dir = g_strndup(start, at - start + 1 + strlen(st->id));
    struct stat sb;
    if (g_path_is_absolute(dir) && lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
        sb.st_uid == geteuid())
      return g_steal_pointer(&dir);
  }
  return NULL;
}

gboolean nl_state_record(const NlState *st, const char *labdir, GError **error) {
  if (!nl_state_data_make(labdir, error)) return FALSE;
  g_autofree char *record = nl_layout_state_record(labdir);
  g_autofree char *text = g_strconcat(st->dir, "\n", NULL);
  return nl_write_file(record, text, -1, 0600, error);
}

NlState *nl_state_for(const char *labdir, GError **error) {
  NlState *st = g_new0(NlState, 1);
  st->id = nl_layout_lab_id(labdir);
  st->lock_fd = -1;
  /* A lab that is up is where its `up` recorded it, whatever this
   * process's environment says. */
  st->dir = recorded_state(labdir);
  if (st->dir) return st;
  g_autofree char *base = nl_state_base(error);
  if (!base) {
    nl_state_free(st);
    return NULL;
  }
  st->dir = g_build_filename(base, st->id, NULL);
  if (geteuid() == 0 || nl_state_exists(st)) return st;
  /* No record (an `up` of an older netlab, say): the other roots this
   * user's netlab may have used under another environment. */
  g_autofree char *run = g_strdup_printf("/run/user/%u/netlab", (unsigned)geteuid());
  g_autofree char *tmp = g_strdup_printf("/tmp/netlab-%u", (unsigned)geteuid());
  const char *roots[] = {run, tmp};
  for (guint i = 0; i < G_N_ELEMENTS(roots); i++) {
    g_autofree char *dir = g_build_filename(roots[i], st->id, NULL);
    struct stat sb;
    if (lstat(roots[i], &sb) == 0 && S_ISDIR(sb.st_mode) && sb.st_uid == geteuid() &&
        !(sb.st_mode & 022) && lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      g_free(st->dir);
      st->dir = g_steal_pointer(&dir);
      break;
    }
  }
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
  /* The record goes first: a state directory half removed is no lab. */
  g_autofree char *labdir = nl_state_get(st, "lab");
  g_autofree char *record = labdir ? nl_layout_state_record(labdir) : NULL;
  g_autofree char *recorded = record ? read_own_file(record) : NULL;
  if (recorded && strcmp(recorded, st->dir) == 0) unlink(record);
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

/* The lab whose state directory is DIR, or NULL. */
static NlLabUp *lab_up_at(const char *dir) {
  g_autofree char *labfile = nl_layout_key(dir, "lab");
  g_autofree char *lab = NULL;
  struct stat sb;
  /* `up` writes the lab's path first of all; a directory without it is
   * one being made or taken down. */
  if (lstat(labfile, &sb) != 0 || !S_ISREG(sb.st_mode) ||
      !g_file_get_contents(labfile, &lab, NULL, NULL))
    return NULL;
  NlLabUp *l = g_new0(NlLabUp, 1);
  l->dir = g_strdup(dir);
  l->lab = g_strchomp(g_steal_pointer(&lab));
  l->since = sb.st_mtime;
  l->nodes = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *vmdir = nl_layout_vms(l->dir);
  g_autoptr(GDir) vms = g_dir_open(vmdir, 0, NULL);
  const char *vm;
  while (vms && (vm = g_dir_read_name(vms))) g_ptr_array_add(l->nodes, g_strdup(vm));
  g_ptr_array_sort(l->nodes, nl_strv_cmp);
  return l;
}

static void add_lab_up(GPtrArray *labs, GHashTable *seen, const char *dir) {
  if (g_hash_table_contains(seen, dir)) return;
  NlLabUp *l = lab_up_at(dir);
  if (!l) return;
  g_hash_table_add(seen, g_strdup(dir));
  g_ptr_array_add(labs, l);
}

GPtrArray *nl_state_list(GError **error) {
  g_autofree char *base = nl_state_base(error);
  if (!base) return NULL;
  GPtrArray *labs = g_ptr_array_new_with_free_func((GDestroyNotify)nl_lab_up_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GDir) d = g_dir_open(base, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *dir = g_build_filename(base, n, NULL);
    add_lab_up(labs, seen, dir);
  }
  /* And those `up` recorded under another environment's state root. */
  g_autofree char *data = nl_layout_data_base();
  g_autoptr(GDir) dd = g_dir_open(data, 0, NULL);
  while (dd && (n = g_dir_read_name(dd))) {
    g_autofree char *record = g_build_filename(data, n, "state", NULL);
    g_autofree char *dir = read_own_file(record);
    if (dir && g_path_is_absolute(dir)) add_lab_up(labs, seen, dir);
  }
  g_ptr_array_sort(labs, by_lab);
  return labs;
}
