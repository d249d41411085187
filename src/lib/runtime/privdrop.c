/* Work on guest data in a child with the QEMU user's rights (privdrop.h). */
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

static gboolean dropped;

/* Where nl_drop_expose() binds files: a tmpfs of the child's own. */
#define EXPOSE_DIR "/mnt"

/* As root, in the child before PREPARE: a mount namespace of its own,
 * with a tmpfs on EXPOSE_DIR; the files PREPARE opens are then of this
 * namespace, which a bind mount requires. */
static gboolean expose_ready;
static void expose_setup(void) {
  if (geteuid() != 0 || !nl_sandbox_enter(NULL)) return;
  expose_ready = mount("tmpfs", EXPOSE_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                       "mode=0755,size=64k") == 0;
}

char *nl_drop_expose(int fd, const char *name, gboolean rw, GError **error) {
  if (geteuid() != 0) return g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), fd);
  if (!expose_ready) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot reach '%s' as the QEMU user: no tmpfs of netlab's own on " EXPOSE_DIR,
                name);
    return NULL;
  }
  g_autofree char *path = g_strdup_printf(EXPOSE_DIR "/%s", name);
  g_autofree char *src = g_strdup_printf("/proc/self/fd/%d", fd);
  int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (f < 0) {
    nl_set_errno(error, errno, "cannot create '%s'", path);
    return NULL;
  }
  close(f);
  if (mount(src, path, NULL, MS_BIND, NULL) != 0 ||
      (!rw && mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                    NULL) != 0)) {
    nl_set_errno(error, errno, "cannot bind '%s' on '%s'", src, path);
    return NULL;
  }
  return g_steal_pointer(&path);
}

gboolean nl_drop_dropped(void) { return dropped; }

/* The child's side: become U for good. */
static gboolean become(const NlQemuUser *u, GError **error) {
  if (u->dropped) {
    if (initgroups(u->name, u->gid) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0)
      return nl_set_errno(error, errno, "cannot become user '%s'", u->name);
    /* Irreversible, or nothing runs. */
    if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "could regain root after becoming '%s'",
                  u->name);
      return FALSE;
    }
    /* Root's directories are not the QEMU user's: libguestfs puts its
     * sockets and appliance cache under these. */
    g_unsetenv("XDG_RUNTIME_DIR");
    g_setenv("TMPDIR", "/tmp", TRUE);
    g_setenv("HOME", "/", TRUE);
  }
  /* What it starts (libguestfs' QEMU, qemu-img), running as the same user,
   * may then open the files PREPARE opened through /proc/PID/fd/N. */
  prctl(PR_SET_DUMPABLE, 1);
  if (chdir("/") != 0) return nl_set_errno(error, errno, "chdir /");
  dropped = TRUE;
  return TRUE;
}

/* Closes every descriptor above 2 but OUT, ERR and KEEP. */
static void close_others(int out, int err, int keep) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return;
  int self = dirfd(dir);
  GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
  struct dirent *e;
  while ((e = readdir(dir))) {
    int fd = atoi(e->d_name);
    if (fd > 2 && fd != out && fd != err && fd != keep && fd != self) g_array_append_val(fds, fd);
  }
  closedir(dir);
  for (guint i = 0; i < fds->len; i++) close(g_array_index(fds, int, i));
  g_array_free(fds, TRUE);
}

static G_NORETURN void child(const NlDrop *d, int out, int err, pid_t parent) {
  close_others(out, err, d->keep_fd);
  expose_setup();
  g_autoptr(GError) e = NULL;
  g_auto(NlQemuUser) qu = {0};
  gboolean ok =
      nl_qemu_user(&qu, &e) && (!d->prepare || d->prepare(d->data, &e)) && become(&qu, &e);
  if (ok) {
    /* Not left behind by a netlab that was killed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    ok = d->work(out, d->data, &e);
  }
  close(out);
  if (!ok) {
    const char *msg = e ? e->message : "failed";
    nl_write_all(err, msg, MIN(strlen(msg), NL_DROP_ERROR_MAX));
  }
  _exit(ok ? 0 : 1);
}

/* Forks the child of D; its output and its error message come on *OUT and
 * *ERR. */
static pid_t start_child(const NlDrop *d, int *out, int *err, GError **error) {
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) != 0) {
    nl_set_errno(error, errno, "%s: pipe", d->what);
    return -1;
  }
  if (pipe2(errp, O_CLOEXEC) != 0) {
    nl_set_errno(error, errno, "%s: pipe", d->what);
    close(outp[0]);
    close(outp[1]);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    close(outp[0]);
    close(errp[0]);
    child(d, outp[1], errp[1], parent);
  }
  close(outp[1]);
  close(errp[1]);
  if (pid < 0) {
    nl_set_errno(error, errno, "%s: fork", d->what);
    close(outp[0]);
    close(errp[0]);
    return -1;
  }
  *out = outp[0];
  *err = errp[0];
  return pid;
}

/* Reads the child's output (into GOT, or D's sink), at most D->max bytes,
 * and its error message (into MSG, bounded) until both end; closes OUT and
 * ERR. */
static gboolean read_child(const NlDrop *d, int out, int err, GByteArray *got, GString *msg,
                           GError **error) {
  GError *local = NULL;
  guint64 total = 0;
  struct pollfd pfd[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
  while ((pfd[0].fd >= 0 || pfd[1].fd >= 0) && !local) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      nl_set_errno(&local, errno, "%s: poll", d->what);
      break;
    }
    for (int i = 0; i < 2 && !local; i++) {
      if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      guint8 buf[65536];
      ssize_t n = read(pfd[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(pfd[i].fd);
        pfd[i].fd = -1;
        continue;
      }
      if (i == 1) {
        if (msg->len < NL_DROP_ERROR_MAX)
          g_string_append_len(msg, (char *)buf, MIN((gsize)n, NL_DROP_ERROR_MAX - msg->len));
        continue;
      }
      total += n;
      if (total > d->max) {
        g_set_error(&local, NL_ERROR, NL_ERROR_FAILED,
                    "%s: more than %" G_GUINT64_FORMAT " bytes came back (the limit)", d->what,
                    d->max);
      } else if (d->sink) {
        d->sink(buf, n, d->sink_data, &local);
      } else {
        g_byte_array_append(got, buf, n);
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (pfd[i].fd >= 0) close(pfd[i].fd);
  if (!local) return TRUE;
  g_propagate_error(error, local);
  return FALSE;
}

/* The child's failure, in its own words (MSG) if it said any. */
static void child_failed(const NlDrop *d, int status, const GString *msg, GError **error) {
  if (msg->len)
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s", msg->str);
  else if (WIFSIGNALED(status))
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: killed by signal %d", d->what,
                WTERMSIG(status));
  else
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: failed (status %d)", d->what,
                WEXITSTATUS(status));
}

GBytes *nl_drop_run(const NlDrop *d, GError **error) {
  int out, err;
  pid_t pid = start_child(d, &out, &err, error);
  if (pid < 0) return NULL;
  g_autoptr(GByteArray) got = g_byte_array_new();
  g_autoptr(GString) msg = g_string_new(NULL);
  gboolean ok = read_child(d, out, err, got, msg, error);
  if (!ok) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ok) return NULL;
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    child_failed(d, status, msg, error);
    return NULL;
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&got));
}

/* ---- records ---------------------------------------------------------------- */

typedef struct __attribute__((packed)) {
  char type;
  guint32 mode;
  guint32 name_len;
  guint64 len;
} RecordHead;

gboolean nl_record_put(int out, char type, guint32 mode, const char *name, const void *data,
                       gsize len, GError **error) {
  RecordHead h = {type, mode, strlen(name), len};
  if (!nl_write_all(out, &h, sizeof h) || !nl_write_all(out, name, h.name_len) ||
      (len && !nl_write_all(out, data, len)))
    return nl_set_errno(error, errno, "cannot send '%s' back", name);
  return TRUE;
}

gboolean nl_record_put_fd(int out, char type, guint32 mode, const char *name, int fd,
                          GError **error) {
  struct stat st;
  if (fstat(fd, &st) != 0) return nl_set_errno(error, errno, "fstat '%s'", name);
  void *map = st.st_size ? mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  if (map == MAP_FAILED) return nl_set_errno(error, errno, "mmap '%s'", name);
  gboolean ok = nl_record_put(out, type, mode, name, map, st.st_size, error);
  if (map) munmap(map, st.st_size);
  return ok;
}

gboolean nl_record_next(GBytes *b, gsize *off, NlRecord *r, GError **error) {
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(b, &len);
  g_clear_pointer(&r->name, g_free);
  RecordHead h;
  if (*off == len) return FALSE;
  if (len - *off < sizeof h) goto bad;
  memcpy(&h, p + *off, sizeof h);
  gsize at = *off + sizeof h;
  if (h.name_len > len - at || h.len > len - at - h.name_len) goto bad;
  r->type = h.type;
  r->mode = h.mode;
  r->name = g_strndup((const char *)p + at, h.name_len);
  r->data = p + at + h.name_len;
  r->len = h.len;
  *off = at + h.name_len + h.len;
  return TRUE;
bad:
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "a malformed record came back at byte %zu", *off);
  return FALSE;
}
