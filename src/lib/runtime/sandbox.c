#include "sandbox.h"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layout.h"
#include "util.h"

gboolean nl_qemu_user(NlQemuUser *u, GError **error) {
  memset(u, 0, sizeof *u);
  if (geteuid() != 0) {
    u->uid = geteuid();
    u->gid = getegid();
    return TRUE;
  }
  struct passwd *pw = getpwnam(NL_QEMU_USER);
  if (!pw) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "user '%s' does not exist: QEMU never runs as root, and runs as that "
                "user when root runs netlab (scripts/setup creates it)",
                NL_QEMU_USER);
    return FALSE;
  }
  u->uid = pw->pw_uid;
  u->gid = pw->pw_gid;
  u->name = g_strdup(pw->pw_name);
  u->dropped = TRUE;
  return TRUE;
}

void nl_qemu_user_clear(NlQemuUser *u) { g_clear_pointer(&u->name, g_free); }

void nl_qemu_user_become(gpointer data) {
  const NlQemuUser *u = data;
  if (!u->dropped) return;
  /* Exit rather than run the program as root. */
  if (initgroups(u->name, u->gid) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0) _exit(126);
}

gboolean nl_qemu_user_own(const NlQemuUser *u, const char *path, int mode, GError **error) {
  if (mkdir(path, mode) != 0 && errno != EEXIST)
    return nl_set_errno(error, errno, "cannot create '%s'", path);
  /* lchown: a directory a QEMU user could have replaced by a symlink is not
   * followed. */
  if ((u->dropped && lchown(path, u->uid, u->gid) != 0) || chmod(path, mode) != 0)
    return nl_set_errno(error, errno, "cannot give '%s' to the QEMU user", path);
  return TRUE;
}

gboolean nl_sandbox_enter(GError **error) {
  if (unshare(CLONE_NEWNS) != 0)
    return nl_set_errno(error, errno, "cannot make a mount namespace for the lab");
  /* Nothing mounted here reaches the host's namespace. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return nl_set_errno(error, errno, "cannot make the lab's mounts private");
  return TRUE;
}

char *nl_sandbox_bind(const char *src, const char *dir, const char *name, gboolean rw,
                      GError **error) {
  g_autofree char *dst = g_build_filename(dir, name, NULL);
  struct stat st;
  if (stat(src, &st) != 0) {
    nl_set_errno(error, errno, "cannot bind '%s'", src);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(dst, 0755) != 0 && errno != EEXIST) {
      nl_set_errno(error, errno, "cannot create '%s'", dst);
      return NULL;
    }
  } else {
    int fd = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      nl_set_errno(error, errno, "cannot create '%s'", dst);
      return NULL;
    }
    close(fd);
  }
  unsigned long ro = rw ? 0 : MS_RDONLY;
  if (mount(src, dst, NULL, MS_BIND, NULL) != 0 ||
      mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | ro, NULL) != 0) {
    nl_set_errno(error, errno, "cannot bind '%s' on '%s'", src, dst);
    return NULL;
  }
  return g_steal_pointer(&dst);
}

/* ---- ACLs ----------------------------------------------------------------- */

static acl_entry_t find_user_entry(acl_t acl, uid_t uid) {
  acl_entry_t e;
  for (int r = acl_get_entry(acl, ACL_FIRST_ENTRY, &e); r == 1;
       r = acl_get_entry(acl, ACL_NEXT_ENTRY, &e)) {
    acl_tag_t tag;
    if (acl_get_tag_type(e, &tag) != 0 || tag != ACL_USER) continue;
    uid_t *q = acl_get_qualifier(e);
    gboolean match = q && *q == uid;
    acl_free(q);
    if (match) return e;
  }
  return NULL;
}

/* Gives U read-write access to the directory open at FD itself (an ACL
 * entry; not what is in it, not its parents). */
static gboolean grant_fd(const NlQemuUser *u, int fd, const char *path, GError **error) {
  acl_t acl = acl_get_fd(fd);
  acl_entry_t e = acl ? find_user_entry(acl, u->uid) : NULL;
  acl_permset_t perms;
  gboolean ok = acl && (e || acl_create_entry(&acl, &e) == 0) &&
                acl_set_tag_type(e, ACL_USER) == 0 && acl_set_qualifier(e, &u->uid) == 0 &&
                acl_get_permset(e, &perms) == 0 && acl_add_perm(perms, ACL_READ) == 0 &&
                acl_add_perm(perms, ACL_WRITE) == 0 && acl_add_perm(perms, ACL_EXECUTE) == 0 &&
                acl_calc_mask(&acl) == 0 && acl_set_fd(fd, acl) == 0;
  int saved = errno;
  if (acl) acl_free(acl);
  if (!ok)
    return nl_set_errno(error, saved, "cannot give user '%s' access to '%s' (ACL)", u->name, path);
  return TRUE;
}

static void revoke_fd(uid_t uid, int fd) {
  acl_t acl = acl_get_fd(fd);
  acl_entry_t e = acl ? find_user_entry(acl, uid) : NULL;
  if (e && acl_delete_entry(acl, e) == 0 && acl_calc_mask(&acl) == 0) acl_set_fd(fd, acl);
  if (acl) acl_free(acl);
}

#define SHARED_KEY "acl"

gboolean nl_shared_grant(const NlState *st, const NlQemuUser *u, const char *labdir,
                         GError **error) {
  if (!u->dropped) return TRUE;
  g_autofree char *path = g_build_filename(labdir, "shared", NULL);
  int lab = open(labdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = lab < 0 ? -1 : openat(lab, "shared", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (lab >= 0) close(lab);
  if (fd < 0) return nl_set_errno(error, errno, "cannot open '%s'", path);
  /* What `down` takes back is this very directory, wherever it is by then:
   * its file handle, and its device and inode to check it by. */
  struct stat sb;
  union {
    struct file_handle fh;
    char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h = {.fh.handle_bytes = MAX_HANDLE_SZ};
  int mnt;
  gboolean ok = fstat(fd, &sb) == 0 && name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) == 0;
  if (!ok) {
    close(fd);
    return nl_set_errno(error, errno, "cannot identify '%s'", path);
  }
  GString *rec = g_string_new(NULL);
  g_string_append_printf(rec, "%s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d %s ", u->name,
                         (guint64)sb.st_dev, (guint64)sb.st_ino, h.fh.handle_type, path);
  for (guint i = 0; i < h.fh.handle_bytes; i++)
    g_string_append_printf(rec, "%02x", h.fh.f_handle[i]);
  g_autofree char *text = g_string_free(rec, FALSE);
  ok = nl_state_set(st, SHARED_KEY, text, error) && grant_fd(u, fd, path, error);
  close(fd);
  return ok;
}

void nl_shared_revoke(const NlState *st, const NlProgress *say) {
  g_autofree char *text = nl_state_get(st, SHARED_KEY);
  if (!text) return;
  char user[64], path[4096], hex[2 * MAX_HANDLE_SZ + 1];
  guint64 dev, ino;
  int type;
  if (sscanf(text, "%63s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d %4095s %256s", user, &dev,
             &ino, &type, path, hex) != 6)
    return;
  struct passwd *pw = getpwnam(user);
  if (!pw) return;
  union {
    struct file_handle fh;
    char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h = {.fh.handle_bytes = strlen(hex) / 2, .fh.handle_type = type};
  for (guint i = 0; i < h.fh.handle_bytes; i++) sscanf(hex + 2 * i, "%2hhx", &h.fh.f_handle[i]);
  /* The directory granted, even renamed; any file handle of its
   * filesystem's mount does, and the lab's parent is on it or above. */
  g_autofree char *parent = g_path_get_dirname(path);
  int mnt = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = mnt < 0 ? -1 : open_by_handle_at(mnt, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mnt >= 0) close(mnt);
  if (fd < 0) fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat sb;
  if (fd >= 0 && fstat(fd, &sb) == 0 && (guint64)sb.st_dev == dev && (guint64)sb.st_ino == ino)
    revoke_fd(pw->pw_uid, fd);
  else if (fd >= 0)
    nl_say(say, NL_SAY_WARNING,
           "cannot find the directory that was '%s' to take back user '%s''s access to it", path,
           user);
  if (fd >= 0) close(fd);
}

/* ---- QEMU's sockets ------------------------------------------------------- */

/* PATH is STATE/vm/NODE/SOCKET. A node on another host has a relay that
 * netlab recorded (in a record only netlab writes), which serves its
 * sockets here as the invoking user. */
static gboolean served_by_relay(const char *path) {
  g_autofree char *vmdir = g_path_get_dirname(path);
  g_autofree char *node = g_path_get_basename(vmdir);
  g_autofree char *vms = g_path_get_dirname(vmdir);
  g_autofree char *dir = g_path_get_dirname(vms);
  NlState st = {.dir = dir, .lock_fd = -1};
  return nl_proc_alive(&st, "relay", node) > 0;
}

int nl_qemu_connect(const char *path, GError **error) {
  /* The socket is reached through its directory, opened without following
   * a link, so that what is checked below is the directory connected in. */
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *base = g_path_get_basename(path);
  int dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0) {
    int err = errno;
    nl_set_errno(error, err, "cannot open '%s'", dir);
    errno = err;
    return -1;
  }
  g_autofree char *via = g_strdup_printf("/proc/self/fd/%d/%s", dirfd, base);
  int fd = nl_unix_connect(via, NULL);
  int err = errno;
  close(dirfd);
  if (fd < 0) {
    nl_set_errno(error, err, "cannot connect to '%s'", path);
    errno = err;
    return -1;
  }
  /* A directory of the QEMU user's: whoever listens there must be that
   * user, never another one (root's sockets are not its to offer), or
   * netlab's own relay of a node on another host. */
  uid_t want = geteuid();
  if (want == 0) {
    struct passwd *pw = getpwnam(NL_QEMU_USER);
    want = pw ? pw->pw_uid : (uid_t)-1;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  gboolean got = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
  if (!got || (cred.uid != want && !(cred.uid == geteuid() && served_by_relay(path)))) {
    close(fd);
    errno = EPERM;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is served by uid %d, not by the QEMU user (uid %d)", path,
                len == sizeof cred ? (int)cred.uid : -1, (int)want);
    return -1;
  }
  return fd;
}

/* ---- processes ------------------------------------------------------------ */

guint64 nl_proc_start_time(int pid) {
  g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  if (pid <= 0 || !g_file_get_contents(path, &text, NULL, NULL)) return 0;
  /* The command name may hold spaces and parentheses: fields are counted
   * from the last ')'. starttime is field 22, the 20th after it. */
  const char *p = strrchr(text, ')');
  if (!p || p[1] != ' ' || p[2] == 'Z') return 0;
  g_auto(GStrv) f = g_strsplit(p + 2, " ", 0);
  return g_strv_length(f) > 19 ? g_ascii_strtoull(f[19], NULL, 10) : 0;
}

static char *procs_file(const NlState *st) { return nl_layout_key(st->dir, NL_LAYOUT_PROCS); }

gboolean nl_proc_record(const NlState *st, const char *kind, const char *name, int pid,
                        const char *exe, GError **error) {
  g_autofree char *self = g_strdup_printf("/proc/%d/exe", pid);
  g_autofree char *real = g_file_read_link(self, NULL);
  guint64 start = nl_proc_start_time(pid);
  if (!real || strcmp(real, exe) != 0 || start == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s '%s' (pid %d) is not running %s", kind, name,
                pid, exe);
    return FALSE;
  }
  g_autofree char *path = procs_file(st);
  g_autofree char *old = NULL;
  g_file_get_contents(path, &old, NULL, NULL);
  g_autofree char *text =
      g_strdup_printf("%s%s %s %d %" G_GUINT64_FORMAT "\n", old ? old : "", kind, name, pid, start);
  return nl_write_file(path, text, -1, 0600, error);
}

typedef struct {
  char kind[16];
  char name[256];
  int pid;
  guint64 start;
} Rec;

static GArray *read_records(const NlState *st) {
  GArray *out = g_array_new(FALSE, TRUE, sizeof(Rec));
  g_autofree char *path = procs_file(st);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL)) return out;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    Rec r = {0};
    if (sscanf(*l, "%15s %255s %d %" G_GUINT64_FORMAT, r.kind, r.name, &r.pid, &r.start) == 4)
      g_array_append_val(out, r);
  }
  return out;
}

int nl_proc_alive(const NlState *st, const char *kind, const char *name) {
  g_autoptr(GArray) recs = read_records(st);
  int pid = 0;
  /* The last record wins: a restarted VM is recorded again. */
  for (guint i = 0; i < recs->len; i++) {
    Rec *r = &g_array_index(recs, Rec, i);
    if (strcmp(r->kind, kind) == 0 && strcmp(r->name, name) == 0)
      pid = nl_proc_start_time(r->pid) == r->start ? r->pid : 0;
  }
  return pid;
}

/* Kills the recorded processes of KIND/NAME (every one when KIND is NULL). */
static guint kill_records(const NlState *st, const char *kind, const char *name) {
  g_autoptr(GArray) recs = read_records(st);
  g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
  for (guint i = 0; i < recs->len; i++) {
    Rec *r = &g_array_index(recs, Rec, i);
    if (kind && (strcmp(r->kind, kind) != 0 || strcmp(r->name, name) != 0)) continue;
    /* A pidfd names this very process: once it is open, no recycled pid can
     * be hit by the kill below. */
    int fd = (int)syscall(SYS_pidfd_open, r->pid, 0);
    if (fd < 0) continue;
    if (nl_proc_start_time(r->pid) != r->start ||
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) != 0) {
      close(fd);
      continue;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    g_array_append_val(fds, p);
  }
  /* A pidfd turns readable when its process has exited. */
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  for (guint i = 0; i < fds->len; i++) {
    struct pollfd *p = &g_array_index(fds, struct pollfd, i);
    gint64 left;
    while ((left = end - g_get_monotonic_time()) > 0 && poll(p, 1, (int)(left / 1000) + 1) < 0 &&
           errno == EINTR) {
    }
    close(p->fd);
  }
  return fds->len;
}

guint nl_proc_kill_all(const NlState *st) { return kill_records(st, NULL, NULL); }

guint nl_proc_kill(const NlState *st, const char *kind, const char *name) {
  return kill_records(st, kind, name);
}
