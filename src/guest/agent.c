/* netlab-agent: runs in every VM (started by templates/stage2) and runs the
 * commands of `netlab exec` as root, one session per virtio-serial port.
 *
 * Plain C and one poll loop: it is started in every VM on every boot under
 * software emulation, where each library and each thread costs time.
 *
 * A port's host side is a Unix socket that QEMU serves to one client at a
 * time. The guest cannot read or poll a port usefully while no host client is
 * there (read gives EOF, poll gives POLLHUP at once), so idle ports are left
 * out of the poll set and the kernel's SIGIO, sent when the host side opens,
 * brings them back in. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent-proto.h"
#include "guest-contract.h"

typedef struct {
  char *data;
  size_t len, cap;
} Buf;

enum { IDLE, WAITING, RUNNING };

typedef struct {
  int fd;
  int state;
  Buf in;        /* from the host, not yet parsed */
  Buf out;       /* to the host, not yet written */
  Buf child_in;  /* to the child's stdin, not yet written */
  pid_t pid;     /* the session's process (group leader), 0 when none */
  int to_child;  /* its stdin (or the pty master), -1 when closed */
  int from_out;  /* its stdout (or the pty master) */
  int from_err;  /* its stderr; -1 with a pty */
  int stdin_eof; /* the host sent end of input */
  int tty;
} Port;

static Port ports[NLA_PORTS];
static int nports;

static void die(const char *what) {
  fprintf(stderr, "netlab-agent: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void buf_add(Buf *b, const void *data, size_t len) {
  if (b->len + len > b->cap) {
    b->cap = (b->len + len) * 2 + 4096;
    b->data = realloc(b->data, b->cap);
    if (!b->data) die("out of memory");
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

static void buf_drop(Buf *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

static void send_frame(Port *p, char type, const void *data, uint32_t len) {
  NlaHeader h = {{NLA_MAGIC0, NLA_MAGIC1}, type, 0, len};
  buf_add(&p->out, &h, sizeof h);
  if (len) buf_add(&p->out, data, len);
}

static void send_int(Port *p, char type, int32_t v) { send_frame(p, type, &v, sizeof v); }

static void flush_out(Port *p) {
  while (p->out.len) {
    ssize_t n = write(p->fd, p->out.data, p->out.len);
    if (n <= 0) return; /* EAGAIN: poll for POLLOUT; a gone host shows as HUP */
    buf_drop(&p->out, n);
  }
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void end_child_io(Port *p) {
  close_fd(&p->to_child);
  close_fd(&p->from_out);
  close_fd(&p->from_err);
  p->child_in.len = 0;
}

/* Everything the child wrote before it exited is in its pipes already: read
 * it without waiting, as a grandchild may keep them open for ever. */
static void drain(Port *p, int *fd, char type) {
  char buf[16384];
  ssize_t n;
  while (*fd >= 0 && (n = read(*fd, buf, sizeof buf)) > 0) send_frame(p, type, buf, n);
}

/* The host went away: a session ends with it, and so does its process. */
static void end_session(Port *p) {
  if (p->pid > 0) kill(-p->pid, SIGKILL);
  p->pid = 0;
  end_child_io(p);
  p->out.len = 0;
  p->state = WAITING;
}

static void host_gone(Port *p) {
  end_session(p);
  p->in.len = 0;
  p->state = IDLE;
}

static int host_connected(Port *p) {
  struct pollfd pfd = {p->fd, POLLIN, 0};
  return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLHUP);
}

static void check_idle_ports(void) {
  for (int i = 0; i < nports; i++)
    /* What a previous host left unread is skipped by the frame parser: in
     * WAITING only an EXEC is taken. */
    if (ports[i].state == IDLE && host_connected(&ports[i])) ports[i].state = WAITING;
}

/* The agent's environment, with the request's entries over it, and TERM
 * for a terminal. */
static char **command_env(const NlaRequest *r) {
  extern char **environ;
  int nenv = 0;
  for (char **e = environ; *e; e++) nenv++;
  for (const char **e = r->env; *e; e++) nenv++;
  char **env = calloc(nenv + 2, sizeof *env);
  if (!env) die("out of memory");
  nenv = 0;
  for (char **e = environ; *e; e++) env[nenv++] = *e;
  for (const char **e = r->env; *e; e++) {
    size_t name = strcspn(*e, "=");
    for (int i = 0; i < nenv; i++)
      if (!strncmp(env[i], *e, name + 1)) env[i] = env[--nenv];
    env[nenv++] = (char *)*e;
  }
  if (r->term[0]) {
    static char t[80];
    snprintf(t, sizeof t, "TERM=%s", r->term);
    for (int i = 0; i < nenv; i++)
      if (!strncmp(env[i], "TERM=", 5)) env[i] = env[--nenv];
    env[nenv++] = t;
  }
  env[nenv] = NULL;
  return env;
}

/* The command's standard input and outputs: a pseudo-terminal, three
 * pipes, or nothing for a detached command. */
typedef struct {
  int in[2], out[2], err[2];
  int master;
  char *slave;
} Stdio;

static void open_stdio(Stdio *io, int tty, int detach) {
  *io = (Stdio){{-1, -1}, {-1, -1}, {-1, -1}, -1, NULL};
  if (detach) return;
  if (tty) {
    io->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (io->master < 0 || grantpt(io->master) || unlockpt(io->master) ||
        !(io->slave = ptsname(io->master)))
      die("pty");
  } else if (pipe2(io->in, O_CLOEXEC) || pipe2(io->out, O_CLOEXEC) || pipe2(io->err, O_CLOEXEC)) {
    die("pipe");
  }
}

/* In the child: its own session and signals, its stdio, then the command.
 * Why it could not run goes back through STATUS_FD as an errno. */
static void run_child(const NlaRequest *r, char **env, const Stdio *io, int status_fd) {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  /* stage2 starts the agent in the background, where a shell ignores
   * SIGINT and SIGQUIT: the command must not inherit that. */
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  setsid();
  if (r->detach) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
  } else if (io->master >= 0) {
    int s = open(io->slave, O_RDWR);
    ioctl(s, TIOCSCTTY, 0);
    struct winsize ws = {.ws_row = r->rows, .ws_col = r->cols};
    if (r->rows && r->cols) ioctl(s, TIOCSWINSZ, &ws);
    dup2(s, 0), dup2(s, 1), dup2(s, 2);
  } else {
    dup2(io->in[0], 0), dup2(io->out[1], 1), dup2(io->err[1], 2);
  }
  int e = 0;
  if (chdir(r->cwd) != 0) {
    e = errno;
  } else {
    execvpe(r->argv[0], (char **)r->argv, env);
    e = errno;
  }
  if (write(status_fd, &e, sizeof e) < 0) _exit(127);
  _exit(127);
}

/* Says why the command could not run: 127 when it was not found. */
static void report_failed(Port *p, const NlaRequest *r, int e) {
  char msg[512];
  /* snprintf says how long the message would have been: a long command
   * or directory is cut, never sent from past the buffer. */
  int n = snprintf(msg, sizeof msg, "cannot run '%s' in '%s': %s", r->argv[0], r->cwd, strerror(e));
  send_frame(p, NLA_FAILED, msg, n < 0 ? 0 : n >= (int)sizeof msg ? sizeof msg - 1 : (uint32_t)n);
  send_int(p, NLA_EXIT, e == ENOENT ? 127 : 126);
}

/* The port relays the running command's stdio from now on. */
static void attach_child(Port *p, pid_t pid, Stdio *io) {
  p->pid = pid;
  p->state = RUNNING;
  p->stdin_eof = 0;
  if (io->master >= 0) {
    p->to_child = fcntl(io->master, F_DUPFD_CLOEXEC, 0);
    p->from_out = io->master;
  } else {
    p->to_child = io->in[1];
    p->from_out = io->out[0];
    p->from_err = io->err[0];
  }
  fcntl(p->to_child, F_SETFL, O_NONBLOCK);
  fcntl(p->from_out, F_SETFL, O_NONBLOCK);
  if (p->from_err >= 0) fcntl(p->from_err, F_SETFL, O_NONBLOCK);
}

static void start(Port *p, const char *req, uint32_t len) {
  NlaRequest r;
  const char *bad = nla_request_parse(req, len, &r);
  if (bad) {
    send_frame(p, NLA_FAILED, bad, strlen(bad));
    send_int(p, NLA_EXIT, 125);
    nla_request_clear(&r);
    return;
  }
  char **env = command_env(&r);
  p->tty = r.tty;
  Stdio io;
  open_stdio(&io, p->tty, r.detach);
  int status[2];
  if (pipe2(status, O_CLOEXEC) != 0) die("pipe");
  /* vfork: under TCG, copying the agent's page tables and the faults that
   * follow cost 1 to 3 ms of every `netlab exec` (fork+exec of true: 8.3 to
   * 16.8 ms with fork, 7.1 to 14.0 with vfork, 6 rounds in one guest). The
   * child only makes system calls until it execs or _exits (run_child), and
   * the agent handles no signal with a handler (signalfd), so sharing the
   * agent's memory until then is safe. */
  pid_t pid = vfork();
  if (pid < 0) die("vfork");
  if (pid == 0) run_child(&r, env, &io, status[1]);
  close(status[1]);
  close_fd(&io.in[0]);
  close_fd(&io.out[1]);
  close_fd(&io.err[1]);
  int e = 0;
  /* Waits for the exec: a few milliseconds, and it tells "not found" from a
   * command that fails. */
  ssize_t n = read(status[0], &e, sizeof e);
  close(status[0]);
  if (n == sizeof e) {
    report_failed(p, &r, e);
    waitpid(pid, NULL, 0);
    close_fd(&io.master);
    close_fd(&io.in[1]);
    close_fd(&io.out[0]);
    close_fd(&io.err[0]);
  } else {
    send_int(p, NLA_STARTED, pid);
    if (r.detach)
      send_int(p, NLA_EXIT, 0);
    else
      attach_child(p, pid, &io);
  }
  nla_request_clear(&r);
  free(env);
}

static int handle_frame(void *ctx, const NlaFrame *f) {
  Port *p = ctx;
  const char *data = (const char *)f->payload;
  if (f->type == NLA_HELLO) {
    /* A new host on a port that may still serve an earlier one, which went
     * away without the port ever showing it (the new host connected before
     * the agent polled): the earlier session ends, unread output and all. */
    end_session(p);
    send_frame(p, NLA_HELLO, data, f->len);
  } else if (f->type == NLA_PING && p->state == WAITING) {
    send_int(p, NLA_EXIT, 0);
  } else if (f->type == NLA_PING) {
    send_frame(p, NLA_ALIVE, NULL, 0);
  } else if (f->type == NLA_EXEC && p->state == WAITING) {
    p->tty = 0;
    start(p, data, f->len);
  } else if (f->type == NLA_STDIN && p->state == RUNNING) {
    if (f->len == 0) {
      p->stdin_eof = 1;
      /* A pty has no end of input but the one its line discipline makes. */
      if (p->tty) buf_add(&p->child_in, "\004", 1);
    } else {
      buf_add(&p->child_in, data, f->len);
    }
  } else if (f->type == NLA_SIGNAL && p->pid > 0) {
    kill(-p->pid, f->value);
  } else if (f->type == NLA_WINSIZE && p->tty && p->from_out >= 0) {
    uint16_t rc[2];
    memcpy(rc, data, 4);
    struct winsize ws = {.ws_row = rc[0], .ws_col = rc[1]};
    ioctl(p->from_out, TIOCSWINSZ, &ws);
  }
  return 0;
}

/* Anything that starts no frame is stale (from an earlier host session, or
 * a host that died mid-frame) and skipped. */
static void parse_in(Port *p) {
  const char *unused;
  long used = nla_take((const uint8_t *)p->in.data, p->in.len, NLA_TO_GUEST, NULL, handle_frame, p,
                       &unused);
  buf_drop(&p->in, used);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < nports; i++) {
      Port *p = &ports[i];
      if (p->pid != pid) continue;
      drain(p, &p->from_out, NLA_STDOUT);
      drain(p, &p->from_err, NLA_STDERR);
      end_child_io(p);
      p->pid = 0;
      p->state = WAITING;
      send_int(p, NLA_EXIT, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      flush_out(p);
    }
  }
}

static void open_ports(void) {
  DIR *d = opendir("/sys/class/virtio-ports");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char path[300], name[64] = "";
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (!fgets(name, sizeof name, f)) name[0] = '\0';
    fclose(f);
    if (strncmp(name, NL_GUEST_PORT_AGENT, strlen(NL_GUEST_PORT_AGENT)) != 0 || nports == NLA_PORTS)
      continue;
    snprintf(path, sizeof path, "/dev/%s", e->d_name);
    Port *p = &ports[nports];
    p->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (p->fd < 0) die(path);
    p->to_child = p->from_out = p->from_err = -1;
    /* SIGIO when the host side opens or closes. */
    fcntl(p->fd, F_SETOWN, getpid());
    fcntl(p->fd, F_SETFL, O_NONBLOCK | O_ASYNC);
    nports++;
  }
  if (d) closedir(d);
  if (nports == 0) {
    fprintf(stderr, "netlab-agent: no " NL_GUEST_PORT_AGENT "* ports\n");
    exit(1);
  }
}

/* What to wait for: the signalfd SFD first, then each port's socket and
 * its command's pipes, OWNER and WHICH saying whose and which (0 the
 * socket, 1 the command's stdin, 2 its stdout, 3 its stderr). *IDLE: some
 * port waits for a host. */
static int poll_set(int sfd, struct pollfd *pfd, Port **owner, int *which, int *idle) {
  int n = 0;
  *idle = 0;
  pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
  for (int i = 0; i < nports; i++) {
    Port *p = &ports[i];
    if (p->state == IDLE) {
      *idle = 1;
      continue;
    }
    /* Back-pressure: take no more from the host while the child has not
     * read what we have, and no more from the child while the host lags. */
    short ev = p->child_in.len ? 0 : POLLIN;
    if (p->out.len) ev |= POLLOUT;
    owner[n] = p, which[n] = 0, pfd[n++] = (struct pollfd){p->fd, ev, 0};
    if (p->state != RUNNING) continue;
    if (p->child_in.len && p->to_child >= 0)
      owner[n] = p, which[n] = 1, pfd[n++] = (struct pollfd){p->to_child, POLLOUT, 0};
    if (p->out.len < 256 * 1024) {
      if (p->from_out >= 0)
        owner[n] = p, which[n] = 2, pfd[n++] = (struct pollfd){p->from_out, POLLIN, 0};
      if (p->from_err >= 0)
        owner[n] = p, which[n] = 3, pfd[n++] = (struct pollfd){p->from_err, POLLIN, 0};
    }
  }
  return n;
}

/* What poll() said of PFD, which is port P's WHICH (see poll_set). */
static void serve(Port *p, int which, const struct pollfd *pfd) {
  short re = pfd->revents;
  char buf[16384];
  ssize_t r;
  switch (which) {
    case 0:
      if (re & POLLIN) {
        r = read(p->fd, buf, sizeof buf);
        if (r > 0) {
          buf_add(&p->in, buf, r);
          parse_in(p);
        } else if (r == 0) {
          host_gone(p);
          break;
        }
      } else if (re & (POLLHUP | POLLERR)) {
        host_gone(p);
        break;
      }
      if (re & POLLOUT) flush_out(p);
      break;
    case 1:
      r = write(p->to_child, p->child_in.data, p->child_in.len);
      if (r > 0) buf_drop(&p->child_in, r);
      if (r < 0 && errno != EAGAIN) p->child_in.len = 0;
      break;
    case 2:
    case 3:
      r = read(pfd->fd, buf, sizeof buf);
      if (r > 0)
        send_frame(p, which == 2 ? NLA_STDOUT : NLA_STDERR, buf, r);
      else if (r == 0 || errno != EAGAIN)
        close_fd(which == 2 ? &p->from_out : &p->from_err);
      break;
  }
  if (p->state == RUNNING && p->stdin_eof && !p->child_in.len && !p->tty) close_fd(&p->to_child);
  if (p->out.len) flush_out(p);
}

int main(void) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGIO);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");
  open_ports();
  check_idle_ports();

  for (;;) {
    struct pollfd pfd[1 + 3 * NLA_PORTS];
    Port *owner[1 + 3 * NLA_PORTS];
    int which[1 + 3 * NLA_PORTS];
    int idle;
    int n = poll_set(sfd, pfd, owner, which, &idle);
    /* SIGIO is what wakes an idle port; the timeout is only a safety net. */
    if (poll(pfd, n, idle ? 1000 : -1) < 0 && errno != EINTR) die("poll");

    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGCHLD) reap();
    }
    check_idle_ports();

    for (int k = 1; k < n; k++)
      if (pfd[k].revents && owner[k]->state != IDLE) serve(owner[k], which[k], &pfd[k]);
  }
}
