#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "layout.h"
#include "logkeep.h"
#include "privdrop.h"
#include "sandbox.h"
#include "util.h"

/* How long a console taken over with --force has to let go, after SIGTERM
 * and again after SIGKILL, and how often to look. */
#define TAKEOVER_MS 2000
#define TAKEOVER_POLL_MS 10

static gboolean lock_taken(gpointer fd) { return flock(*(int *)fd, LOCK_EX | LOCK_NB) == 0; }

/* QEMU's socket chardev serves one client; a second connection waits
 * silently in the listen queue. So attached consoles hold a lock, which
 * holds their pid for a clear refusal or for --force to stop them. */
static int console_lock(const NlVm *vm, gboolean force, GError **error) {
  g_autofree char *path = g_strdup(vm->paths.console_lock);
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot open '%s': %s", path, g_strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    int pid = atoi(text);
    if (!force) {
      close(fd);
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "the console of '%s' is in use by another netlab console (pid %d): "
                  "detach that one, or take over with --force",
                  vm->node, pid);
      return -1;
    }
    if (pid > 0) kill(pid, SIGTERM);
    /* It restores its terminal and exits at once, unless it is stuck. */
    gboolean got = nl_wait_until(lock_taken, &fd, TAKEOVER_MS, TAKEOVER_POLL_MS);
    if (!got && pid > 0) {
      kill(pid, SIGKILL);
      got = nl_wait_until(lock_taken, &fd, TAKEOVER_MS, TAKEOVER_POLL_MS);
    }
    if (!got) {
      close(fd);
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "cannot take over the console of '%s' from pid %d", vm->node, pid);
      return -1;
    }
  }
  g_autofree char *me = g_strdup_printf("%d\n", (int)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me, strlen(me), 0) < 0) {
    /* Only informative: the lock holds without it. */
  }
  return fd;
}

/* After stdin ends, console output is read until it is quiet this long,
 * or for DRAIN_MAX_US at most (a command piped in may print forever). */
#define QUIET_US (500 * 1000)
#define DRAIN_MAX_US (5 * 1000 * 1000)
/* A guest that takes no console input for this long is not going to. */
#define STUCK_US (10 * 1000 * 1000)
/* Input not yet taken by QEMU, which reads only as fast as the guest's UART
 * drains; past this much, stdin waits. */
#define TOSOCK_MAX (64 * 1024)
#define ESCAPE 0x1d /* Ctrl-] */

typedef enum { END_ESCAPE, END_INPUT, END_CLOSED, END_SIGNAL, END_OUTPUT } End;

typedef struct {
  const char *node;
  int sock, sigfd;
  gboolean tty;
  struct signalfd_siginfo sig;
  /* After stdin's end (drain_wait): when the drain started, the last
   * output, and since when the socket has held LAST_UNREAD bytes. */
  gint64 drain_start, last_out, stuck_since;
  int last_unread;
} Relay;

/* Once stdin has ended and all of it went to the socket: how long poll()
 * may wait (*TIMEOUT), or FALSE with how the relay ends (*END). */
static gboolean drain_wait(Relay *r, int *timeout, End *end, GError **error) {
  gint64 now = g_get_monotonic_time();
  int unread = 0;
  /* QEMU drops what it has not read yet when the client goes, and reads
   * only as fast as the guest drains its UART: the drain starts once
   * the socket is empty. */
  if (ioctl(r->sock, SIOCOUTQ, &unread) == 0 && unread > 0) {
    if (unread != r->last_unread) r->stuck_since = now;
    r->last_unread = unread;
    if (now - r->stuck_since > STUCK_US) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "'%s' has not read its console input for %d s (is it paused?)", r->node,
                  STUCK_US / 1000000);
      *end = END_CLOSED;
      return FALSE;
    }
    *timeout = 20;
    return TRUE;
  }
  if (!r->drain_start) r->drain_start = r->last_out = now;
  gint64 left = MIN(r->last_out + QUIET_US, r->drain_start + DRAIN_MAX_US) - now;
  if (left <= 0) {
    *end = END_INPUT;
    return FALSE;
  }
  *timeout = (int)(left / 1000) + 1;
  return TRUE;
}

static End relay(Relay *r, GError **error) {
  g_autoptr(GByteArray) tosock = g_byte_array_new();
  gboolean in_open = TRUE, escaped = FALSE;
  char buf[8192];
  for (;;) {
    int timeout = -1;
    End end;
    if (!in_open && tosock->len == 0 && !drain_wait(r, &timeout, &end, error)) return end;
    struct pollfd p[3] = {
        {r->sock, POLLIN | (tosock->len ? POLLOUT : 0), 0},
        {r->sigfd, POLLIN, 0},
        {in_open && tosock->len < TOSOCK_MAX ? STDIN_FILENO : -1, POLLIN, 0},
    };
    if (poll(p, G_N_ELEMENTS(p), timeout) < 0) {
      if (errno == EINTR) continue;
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "poll: %s", g_strerror(errno));
      return END_CLOSED;
    }
    if (p[1].revents & POLLIN) {
      if (read(r->sigfd, &r->sig, sizeof r->sig) == sizeof r->sig && r->sig.ssi_signo != SIGWINCH)
        return END_SIGNAL;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(r->sock, buf, sizeof buf);
      if (n > 0) {
        if (!nl_write_all(STDOUT_FILENO, buf, n)) return END_OUTPUT;
        r->last_out = g_get_monotonic_time();
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return END_CLOSED;
      }
    }
    if ((p[0].revents & POLLOUT) && tosock->len) {
      ssize_t n = write(r->sock, tosock->data, tosock->len);
      if (n > 0)
        g_byte_array_remove_range(tosock, 0, n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        return END_CLOSED;
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        const char *esc = r->tty ? memchr(buf, ESCAPE, n) : NULL;
        if (esc) {
          n = esc - buf;
          escaped = TRUE;
        }
        g_byte_array_append(tosock, (guint8 *)buf, n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_open = FALSE;
        /* A terminal that hangs up is gone: nothing to wait for. */
        if (r->tty) return END_INPUT;
      }
    }
    if (escaped) {
      /* What was typed before the escape still goes, if QEMU takes it now. */
      if (tosock->len && write(r->sock, tosock->data, tosock->len) < 0) {
        /* Detaching anyway. */
      }
      return END_ESCAPE;
    }
  }
}

gboolean nl_console_attach(const NlVm *vm, gboolean force, const NlProgress *say, GError **error) {
  int lock = console_lock(vm, force, error);
  if (lock < 0) return FALSE;
  g_autoptr(GError) local = NULL;
  int sock = nl_qemu_connect(vm->paths.console, &local);
  if (sock < 0) {
    gboolean down = errno == ECONNREFUSED || errno == ENOENT;
    close(lock);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot attach to the console of '%s': %s%s",
                vm->node, local->message, down ? " (is the VM running?)" : "");
    return FALSE;
  }
  /* Only the socket is non-blocking: stdin and stdout may share their file
   * description with the shell, which must not find it changed. */
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);

  /* Signals arrive as data, so the terminal is always put back. */
  sigset_t mask, old;
  sigemptyset(&mask);
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
  for (gsize i = 0; i < G_N_ELEMENTS(sigs); i++) sigaddset(&mask, sigs[i]);
  sigprocmask(SIG_BLOCK, &mask, &old);
  Relay r = {.node = vm->node, .sock = sock, .sigfd = signalfd(-1, &mask, SFD_CLOEXEC)};

  struct termios saved;
  r.tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (r.tty) {
    nl_say(say, NL_SAY_PROGRESS, "Connected to %s (escape character is ^])", vm->node);
    struct termios raw = saved;
    cfmakeraw(&raw);
    tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
  }
  End end = relay(&r, error);
  if (r.tty) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);

  close(r.sigfd);
  close(sock);
  close(lock);
  sigprocmask(SIG_SETMASK, &old, NULL);
  switch (end) {
    case END_ESCAPE: nl_say(say, NL_SAY_PROGRESS, "%s", ""); break;
    case END_CLOSED:
      if (error && *error) return FALSE;
      /* A raw terminal's cursor may be anywhere on its line. */
      if (r.tty) nl_say(say, NL_SAY_PROGRESS, "%s", "");
      nl_say(say, NL_SAY_NOTICE, "the console of '%s' closed: the VM stopped", vm->node);
      break;
    case END_SIGNAL:
      if (r.sig.ssi_signo != SIGTERM) break;
      if (r.tty) nl_say(say, NL_SAY_PROGRESS, "%s", "");
      nl_say(say, NL_SAY_NOTICE, "detached from '%s' by pid %u (another console took over?)",
             vm->node, r.sig.ssi_pid);
      break;
    case END_INPUT:
    case END_OUTPUT: break;
  }
  return TRUE;
}

void nl_log_parts(const char *log, NlLogParts *l) {
  l->path[0] = g_strdup(log);
  char *a = nl_layout_console_part(log, 1), *b = nl_layout_console_part(log, 2);
  struct stat sa, sb;
  gboolean a_first =
      stat(b, &sb) != 0 ||
      (stat(a, &sa) == 0 &&
       (sa.st_mtim.tv_sec < sb.st_mtim.tv_sec ||
        (sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec <= sb.st_mtim.tv_nsec)));
  l->path[1] = a_first ? a : b;
  l->path[2] = a_first ? b : a;
}

void nl_log_parts_clear(NlLogParts *l) {
  for (int i = 0; i < 3; i++) g_free(l->path[i]);
}

guint64 nl_console_log_cut(const char *log) {
  g_autofree char *path = nl_layout_console_cut(log);
  g_autofree char *text = NULL;
  gsize len = 0;
  /* A counter: a few digits (bounded, never a FIFO's wait). */
  if (!nl_read_file_max(path, 64, &text, &len, NULL)) return 0;
  return g_ascii_strtoull(text, NULL, 10);
}

/* Copies FD from POS to its end to OUT; FALSE when OUT is closed. */
static gboolean copy_from(int fd, off_t *pos, int out) {
  char buf[65536];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, *pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return TRUE;
    /* A closed stdout (`| head`) just ends the listing. */
    if (!nl_write_all(out, buf, n)) return FALSE;
    *pos += n;
  }
}

static char *cut_mark(guint64 cut) {
  return g_strdup_printf("\n[netlab: %" G_GUINT64_FORMAT
                         " bytes of this console were cut here, to keep its log within "
                         "%u MiB]\n",
                         cut, (NL_LOG_HEAD + 2 * NL_LOG_TAIL) >> 20);
}

gboolean nl_console_log_write(const char *log, int out) {
  NlLogParts l;
  nl_log_parts(log, &l);
  gboolean ok = TRUE;
  guint64 cut = nl_console_log_cut(log);
  for (int i = 0; ok && i < 3; i++) {
    /* Regular files only: a FIFO in a log's place would never end. */
    int fd = open(l.path[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
      close(fd);
      fd = -1;
    }
    if (fd < 0) continue;
    off_t pos = 0;
    ok = copy_from(fd, &pos, out);
    close(fd);
    if (ok && i == 0 && cut) {
      g_autofree char *mark = cut_mark(cut);
      ok = nl_write_all(out, mark, strlen(mark));
    }
  }
  nl_log_parts_clear(&l);
  return ok;
}

/* ---- the post-mortem's copy, with the QEMU user's rights ---------------- */

typedef struct {
  const char *labdir, *node;
  int part[3]; /* the head, then the tail's parts, the older first; or -1 */
  char *name[3];
  char *left_out; /* the parts that are not regular files, said in the copy */
  int cut;
} LogKeep;

/* DIRFD's NAME, a directory of this user's (or root's) that nobody else
 * can write, not reached through a link; a new fd, or -1 with ERROR. */
static int open_own_dir(int dirfd, const char *name, const char *path, GError **error) {
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    nl_set_errno(error, errno, "cannot open '%s'", path);
    if (fd >= 0) close(fd);
    return -1;
  }
  if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is owned by uid %u, mode %04o: netlab's directories are its user's, "
                "writable by nobody else",
                path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    close(fd);
    return -1;
  }
  return fd;
}

/* A regular file NAME of DIRFD, not through a link, or -1. O_NONBLOCK: a
 * FIFO there opens at once (and is then refused) instead of waiting. */
static int open_part(int dirfd, const char *name, struct stat *st) {
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))) {
    close(fd);
    return -1;
  }
  return fd;
}

static gboolean older(const struct stat *a, const struct stat *b) {
  return a->st_mtim.tv_sec < b->st_mtim.tv_sec ||
         (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec <= b->st_mtim.tv_nsec);
}

/* In the child, with the caller's rights: the logs directory, whole path
 * checked, and its files. */
static gboolean keep_open(gpointer data, GError **error) {
  LogKeep *k = data;
  g_autofree char *base = nl_layout_data_base();
  g_autofree char *logs = nl_layout_console_logs(k->labdir);
  g_autofree char *data_dir = g_path_get_dirname(logs);
  g_autofree char *id = g_path_get_basename(data_dir);
  int b = open_own_dir(AT_FDCWD, base, base, error);
  int d = b < 0 ? -1 : open_own_dir(b, id, data_dir, error);
  int dir = d < 0 ? -1 : open_own_dir(d, "logs", logs, error);
  if (b >= 0) close(b);
  if (d >= 0) close(d);
  if (dir < 0) return FALSE;
  g_autofree char *log = nl_layout_console_log(k->labdir, k->node);
  char *paths[4] = {g_strdup(log), nl_layout_console_part(log, 1), nl_layout_console_part(log, 2),
                    nl_layout_console_cut(log)};
  struct stat st[3];
  int fds[3];
  GString *left = g_string_new(NULL);
  for (int i = 0; i < 3; i++) {
    g_autofree char *name = g_path_get_basename(paths[i]);
    fds[i] = open_part(dir, name, &st[i]);
    struct stat ls;
    if (fds[i] < 0 && fstatat(dir, name, &ls, AT_SYMLINK_NOFOLLOW) == 0)
      g_string_append_printf(left, "\n[netlab: %s is not a regular file: left out]\n", name);
  }
  g_autofree char *cut_name = g_path_get_basename(paths[3]);
  struct stat cst;
  k->cut = open_part(dir, cut_name, &cst);
  close(dir);
  /* The tail's parts in the order written: the older first. */
  gboolean swap = fds[1] < 0 || (fds[2] >= 0 && !older(&st[1], &st[2]));
  int order[3] = {0, swap ? 2 : 1, swap ? 1 : 2};
  for (int i = 0; i < 3; i++) {
    k->part[i] = fds[order[i]];
    k->name[i] = g_path_get_basename(paths[order[i]]);
  }
  for (int i = 0; i < 4; i++) g_free(paths[i]);
  k->left_out = g_string_free(left, FALSE);
  return TRUE;
}

/* In the child, with the QEMU user's rights: each part, at most its bound. */
static gboolean keep_copy(int out, gpointer data, GError **error) {
  LogKeep *k = data;
  guint64 cut = 0;
  char text[64];
  ssize_t n = k->cut >= 0 ? pread(k->cut, text, sizeof text - 1, 0) : -1;
  if (n > 0) {
    text[n] = 0;
    cut = g_ascii_strtoull(text, NULL, 10);
  }
  if (*k->left_out && !nl_write_all(out, k->left_out, strlen(k->left_out)))
    return nl_set_errno(error, errno, "cannot send the console log back");
  for (int i = 0; i < 3; i++) {
    if (k->part[i] < 0) continue;
    guint64 bound = i == 0 ? NL_LOG_HEAD : NL_LOG_TAIL, done = 0;
    char buf[65536];
    while (done < bound) {
      n = pread(k->part[i], buf, MIN(sizeof buf, bound - done), done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!nl_write_all(out, buf, n))
        return nl_set_errno(error, errno, "cannot send the console log back");
      done += n;
    }
    struct stat st;
    if (done == bound && fstat(k->part[i], &st) == 0 && (guint64)st.st_size > bound) {
      g_autofree char *note =
          g_strdup_printf("\n[netlab: %s holds %jd bytes, more than the %" G_GUINT64_FORMAT
                          " netlab-log writes there: the rest is left out]\n",
                          k->name[i], (intmax_t)st.st_size, bound);
      if (!nl_write_all(out, note, strlen(note)))
        return nl_set_errno(error, errno, "cannot send the console log back");
    }
    if (i == 0 && cut) {
      g_autofree char *mark = cut_mark(cut);
      if (!nl_write_all(out, mark, strlen(mark)))
        return nl_set_errno(error, errno, "cannot send the console log back");
    }
  }
  return TRUE;
}

static gboolean keep_sink(const guint8 *buf, gsize len, gpointer data, GError **error) {
  if (!nl_write_all(GPOINTER_TO_INT(data), buf, len))
    return nl_set_errno(error, errno, "cannot write the console log's copy");
  return TRUE;
}

gboolean nl_console_log_keep(const char *labdir, const char *node, int out, GError **error) {
  if (!nl_vm_check_name(node, error)) return FALSE;
  LogKeep k = {.labdir = labdir, .node = node, .part = {-1, -1, -1}, .cut = -1};
  g_autofree char *what = g_strdup_printf("copying the console log of '%s'", node);
  NlDrop d = {.what = what,
              .prepare = keep_open,
              .work = keep_copy,
              .data = &k,
              .max = NL_LOG_HEAD + 2 * (guint64)NL_LOG_TAIL + 16384,
              .sink = keep_sink,
              .sink_data = GINT_TO_POINTER(out)};
  g_autoptr(GBytes) got = nl_drop_run(&d, error);
  return got != NULL;
}

gboolean nl_console_log(const char *labdir, const char *node, gboolean follow, GError **error) {
  if (!nl_vm_check_name(node, error)) return FALSE;
  g_autofree char *path = nl_layout_console_log(labdir, node);
  struct stat head;
  if (stat(path, &head) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "no console log of '%s' in '%s' (was the lab ever up?): %s", node, labdir,
                g_strerror(errno));
    return FALSE;
  }
  if (!nl_console_log_write(path, STDOUT_FILENO) || !follow) return TRUE;
  /* Followed by file: what was printed of each (by inode), printed on as
   * each grows; a part emptied for reuse, or a file a new `up` made,
   * starts over. Polling is simple and survives files being replaced. */
  struct {
    ino_t ino;
    off_t pos;
  } seen[3] = {{0}};
  gboolean first = TRUE;
  for (;;) {
    NlLogParts l;
    nl_log_parts(path, &l);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < 3; i++) {
      int fd = open(l.path[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      struct stat st;
      if (fd < 0) continue;
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        /* Slots by file name, whatever the order of the tail's parts. */
        int slot = i == 0 ? 0 : g_str_has_suffix(l.path[i], ".1") ? 1 : 2;
        if (seen[slot].ino != st.st_ino || st.st_size < seen[slot].pos) {
          seen[slot].ino = st.st_ino;
          seen[slot].pos = first ? st.st_size : 0;
        }
        ok = copy_from(fd, &seen[slot].pos, STDOUT_FILENO);
      }
      close(fd);
    }
    nl_log_parts_clear(&l);
    if (!ok) return TRUE;
    first = FALSE;
    g_usleep(200 * 1000);
  }
}
