#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "agent-proto.h"
#include "layout.h"
#include "sandbox.h"
#include "util.h"

/* How long the agent may take to start a command before we call it dead. */
#define START_TIMEOUT_MS 15000
/* A command that runs for long says nothing, and the port stays open on the
 * host's side when the agent dies: after this much silence the agent is
 * asked whether it still serves the session, and given START_TIMEOUT_MS to
 * answer. */
#define KEEPALIVE_MS 5000
/* How long to wait for a free session port when NLA_PORTS are in use. */
#define PORT_WAIT_MS 60000

static void frame(GByteArray *out, char type, const void *data, guint32 len) {
  NlaHeader h = {{NLA_MAGIC0, NLA_MAGIC1}, type, 0, len};
  g_byte_array_append(out, (const guint8 *)&h, sizeof h);
  if (len) g_byte_array_append(out, data, len);
}

static void frame_int(GByteArray *out, char type, gint32 v) { frame(out, type, &v, sizeof v); }

static void entry(GByteArray *req, const char *kind, const char *value) {
  g_byte_array_append(req, (const guint8 *)kind, strlen(kind));
  g_byte_array_append(req, (const guint8 *)value, strlen(value) + 1);
}

/* How often a client waiting for a free session port tries again. */
#define PORT_RETRY_MS 20

typedef struct {
  const NlVmPaths *p;
  const char *vm;
  int sock, lock;
  GError *error;
} Claim;

/* One pass over the VM's session ports: TRUE once one is taken, or on an
 * error; FALSE when all are busy. */
static gboolean try_ports(gpointer data) {
  Claim *c = data;
  for (int i = 0; i < NLA_PORTS; i++) {
    g_autofree char *lp = nl_layout_agent_lock(c->p, i);
    int fd = open(lp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      nl_set_errno(&c->error, errno, "cannot open '%s'", lp);
      return TRUE;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    g_autofree char *sp = nl_layout_agent_sock(c->p, i);
    int s = nl_qemu_connect(sp, NULL);
    if (s < 0) {
      nl_set_errno(&c->error, errno, "VM '%s' is not running (%s)", c->vm, sp);
      close(fd);
      return TRUE;
    }
    c->sock = s;
    c->lock = fd;
    return TRUE;
  }
  return FALSE;
}

/* Takes one of the VM's session ports: a port serves one client at a time,
 * and a second client's connection would only queue, so an flock per port
 * says which are in use. Returns the connected socket, the lock in *LOCK. */
static int claim_port(const NlVmPaths *p, const char *vm, int *lock, GError **error) {
  Claim c = {.p = p, .vm = vm, .sock = -1, .lock = -1};
  if (!nl_wait_until(try_ports, &c, PORT_WAIT_MS, PORT_RETRY_MS)) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "all %d sessions of VM '%s' stayed busy for %d s",
                NLA_PORTS, vm, PORT_WAIT_MS / 1000);
    return -1;
  }
  if (c.error) {
    c.error->code = NL_ERROR_EXEC;
    g_propagate_error(error, c.error);
    return -1;
  }
  *lock = c.lock;
  return c.sock;
}

typedef struct {
  struct termios saved;
  gboolean raw;
} Term;

/* One session with the agent: what goes out, what came in, and what the
 * frames change. */
typedef struct {
  const NlExec *x;
  int tty_fd;
  Term term;
  gboolean started, timed_out;
  int status;
  gint64 t0;
  gint64 heard;  /* when the agent last sent anything */
  gint64 pinged; /* when we last asked whether it still serves us */
  int sock, sfd;
  gboolean in_open; /* X's input has not ended */
  int interrupts, synced;
  guint8 token[NLA_TOKEN]; /* this session's, in its NLA_HELLO */
  gboolean hello;          /* the agent sent the token back */
  GByteArray *out, *in;
  guint64 got;      /* bytes of output taken */
  gboolean too_big; /* past X->out_max */
} Session;

static void term_raw(Term *t, int fd) {
  if (!isatty(fd) || tcgetattr(fd, &t->saved) != 0) return;
  struct termios raw = t->saved;
  cfmakeraw(&raw);
  t->raw = tcsetattr(fd, TCSADRAIN, &raw) == 0;
}

static void term_restore(Term *t, int fd) {
  if (t->raw) tcsetattr(fd, TCSADRAIN, &t->saved);
}

static void winsize_of(int fd, guint16 rc[2]) {
  struct winsize ws = {0};
  ioctl(fd, TIOCGWINSZ, &ws);
  rc[0] = ws.ws_row ? ws.ws_row : 24;
  rc[1] = ws.ws_col ? ws.ws_col : 80;
}

static int on_frame(void *ctx, const NlaFrame *f) {
  Session *s = ctx;
  s->heard = g_get_monotonic_time();
  /* Frames before our token came back are an earlier session's. */
  if (!s->hello) {
    s->hello = f->type == NLA_HELLO && memcmp(f->payload, s->token, NLA_TOKEN) == 0;
    return s->hello; /* what follows is decoded strictly */
  }
  switch (f->type) {
    case NLA_STARTED:
      s->started = TRUE;
      if (s->x->tty && s->tty_fd >= 0) term_raw(&s->term, s->tty_fd);
      break;
    case NLA_STDOUT:
    case NLA_STDERR:
      s->got += f->len;
      if (s->x->out_max && s->got > s->x->out_max) {
        s->too_big = TRUE;
        return 1;
      }
      nl_write_all(f->type == NLA_STDOUT ? s->x->out_fd : s->x->err_fd, f->payload, f->len);
      break;
    case NLA_FAILED:
      s->started = TRUE;
      nl_write_all(s->x->err_fd, (const guint8 *)"netlab: ", 8);
      nl_write_all(s->x->err_fd, f->payload, f->len);
      nl_write_all(s->x->err_fd, (const guint8 *)"\n", 1);
      break;
    case NLA_EXIT:
      s->started = TRUE;
      s->status = s->timed_out ? 124 : f->value;
      return 1;
  }
  return 0;
}

/* The request: the command line, environment, directory and terminal, or a
 * ping. */
static gboolean request(Session *s, GError **error) {
  const NlExec *x = s->x;
  for (int i = 0; i < NLA_TOKEN; i += 4) {
    guint32 r = g_random_int();
    memcpy(s->token + i, &r, 4);
  }
  frame(s->out, NLA_HELLO, s->token, NLA_TOKEN);
  if (x->ping) {
    frame(s->out, NLA_PING, NULL, 0);
    return TRUE;
  }
  g_autoptr(GByteArray) req = g_byte_array_new();
  for (char **a = x->argv; *a; a++) entry(req, "a:", *a);
  for (char **e = x->env; e && *e; e++) entry(req, "e:", *e);
  if (x->cwd) entry(req, "w:", x->cwd);
  if (x->detach) entry(req, "d:", "");
  if (x->tty) {
    guint16 rc[2] = {24, 80};
    if (s->tty_fd >= 0) winsize_of(s->tty_fd, rc);
    const char *term = g_getenv("TERM");
    g_autofree char *t = g_strdup_printf("%u %u %s", rc[0], rc[1], term ? term : "xterm");
    entry(req, "t:", t);
  }
  if (req->len > NLA_MAX_PAYLOAD) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC,
                "the command, its environment and directory take %u bytes, more than "
                "the %d a request may hold",
                req->len, NLA_MAX_PAYLOAD);
    return FALSE;
  }
  frame(s->out, NLA_EXEC, req->data, req->len);
  return TRUE;
}

/* How long to wait for the next event, after acting on the deadlines: the
 * start, the command's --timeout, the agent's keepalive. -2 when the agent
 * is taken for dead. */
static int next_wait(Session *s, GError **error) {
  const NlExec *x = s->x;
  gint64 now = g_get_monotonic_time();
  if (!s->started) {
    int wait_ms = START_TIMEOUT_MS - (now - s->t0) / 1000;
    if (wait_ms > 0) return wait_ms;
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC,
                "the agent of VM '%s' does not answer (is the VM still booting?)", x->vm);
    return -2;
  }
  int wait_ms = -1;
  if (x->timeout_s && !s->timed_out) {
    wait_ms = MAX(0, (gint64)x->timeout_s * 1000 - (now - s->t0) / 1000);
    if (wait_ms == 0) {
      frame_int(s->out, NLA_SIGNAL, SIGKILL);
      s->timed_out = TRUE;
      wait_ms = -1;
    }
  }
  if (s->pinged > s->heard && now - s->pinged >= START_TIMEOUT_MS * 1000) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC,
                "the agent of VM '%s' stopped answering (was it killed?)", x->vm);
    return -2;
  }
  if (s->pinged <= s->heard && now - s->heard >= KEEPALIVE_MS * 1000) {
    frame(s->out, NLA_PING, NULL, 0);
    s->pinged = now;
  }
  int next = s->pinged > s->heard ? START_TIMEOUT_MS - (now - s->pinged) / 1000
                                  : KEEPALIVE_MS - (now - s->heard) / 1000;
  return wait_ms < 0 ? MAX(next, 1) : MIN(wait_ms, MAX(next, 1));
}

/* Writes what is pending, reads and decodes what the agent sent. */
static gboolean pump_socket(Session *s, short revents, GError **error) {
  if (revents & POLLOUT) {
    ssize_t n = write(s->sock, s->out->data, s->out->len);
    if (n > 0) g_byte_array_remove_range(s->out, 0, n);
  }
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    guint8 buf[65536];
    ssize_t n = read(s->sock, buf, sizeof buf);
    if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
      g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "VM '%s' closed the session (did it stop?)",
                  s->x->vm);
      return FALSE;
    }
    if (n > 0) g_byte_array_append(s->in, buf, n);
  }
  /* Strict only once the session is ours: before, whatever an earlier one
   * left is skipped. */
  for (;;) {
    gboolean hello = s->hello;
    const char *bad = NULL;
    long used = nla_take(s->in->data, s->in->len, NLA_TO_HOST, hello ? &s->synced : NULL, on_frame,
                         s, &bad);
    if (used < 0) {
      /* The guest is not trusted: a frame we cannot read ends the session,
       * never the wait for an exit status that will not come. */
      g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "the agent of VM '%s' broke the protocol: %s",
                  s->x->vm, bad);
      return FALSE;
    }
    g_byte_array_remove_range(s->in, 0, used);
    if (s->too_big) {
      g_set_error(error, NL_ERROR, NL_ERROR_EXEC,
                  "the output of '%s' in VM '%s' passed %" G_GUINT64_FORMAT " bytes (the limit)",
                  s->x->argv ? s->x->argv[0] : "", s->x->vm, s->x->out_max);
      return FALSE;
    }
    if (hello || !s->hello) return TRUE;
  }
}

/* A resized terminal goes to the command's; a signal to the command. */
static void forward_signals(Session *s) {
  struct signalfd_siginfo si;
  while (read(s->sfd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGWINCH && s->x->tty && s->tty_fd >= 0) {
      guint16 rc[2];
      winsize_of(s->tty_fd, rc);
      frame(s->out, NLA_WINSIZE, rc, sizeof rc);
    } else if (si.ssi_signo != SIGWINCH) {
      /* A second Ctrl-C means it: the command did not stop. */
      frame_int(s->out, NLA_SIGNAL, ++s->interrupts > 1 ? SIGKILL : (int)si.ssi_signo);
    }
  }
}

static void forward_input(Session *s) {
  guint8 buf[16384];
  ssize_t n = read(s->x->in_fd, buf, sizeof buf);
  if (n > 0) {
    frame(s->out, NLA_STDIN, buf, n);
  } else if (n == 0 || errno != EAGAIN) {
    frame(s->out, NLA_STDIN, NULL, 0);
    s->in_open = FALSE;
  }
}

/* One wait for the socket, the signals and the input, and what follows. */
static gboolean step(Session *s, GError **error) {
  int wait_ms = next_wait(s, error);
  if (wait_ms == -2) return FALSE;
  struct pollfd pfd[3] = {
      {s->sock, POLLIN | (s->out->len ? POLLOUT : 0), 0},
      {s->sfd, POLLIN, 0},
      /* Read input only once the last of it went out: back-pressure. */
      {s->in_open && s->started && !s->out->len ? s->x->in_fd : -1, POLLIN, 0},
  };
  if (poll(pfd, 3, wait_ms) < 0 && errno != EINTR) return FALSE;
  if (!pump_socket(s, pfd[0].revents, error)) return FALSE;
  if (pfd[1].revents & POLLIN) forward_signals(s);
  if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) forward_input(s);
  return TRUE;
}

/* Signals go to the command (through the signalfd) while it runs. */
static int block_signals(const NlExec *x, sigset_t *old) {
  sigset_t mask;
  sigemptyset(&mask);
  if (x->forward_signals) {
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
  }
  sigaddset(&mask, SIGWINCH);
  sigprocmask(SIG_BLOCK, &mask, old);
  return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

int nl_exec_claim(const char *statedir, const char *vm, int *lock, GError **error) {
  if (!vm[0] || strchr(vm, '/') || g_str_equal(vm, ".") || g_str_equal(vm, "..")) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "invalid VM name '%s'", vm);
    return -1;
  }
  g_auto(NlVmPaths) paths = {0};
  nl_layout_vm(&paths, statedir, NULL, vm);
  if (!g_file_test(paths.dir, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "the lab has no VM '%s'", vm);
    return -1;
  }
  return claim_port(&paths, vm, lock, error);
}

int nl_exec_run(const NlExec *x, GError **error) {
  int lock = -1;
  int sock = x->sock > 0 ? x->sock : nl_exec_claim(x->statedir, x->vm, &lock, error);
  if (sock < 0) return -1;
  fcntl(sock, F_SETFL, O_NONBLOCK);

  g_autoptr(GByteArray) out = g_byte_array_new();
  g_autoptr(GByteArray) in = g_byte_array_new();
  Session s = {
      .x = x,
      .tty_fd = x->in_fd >= 0 && isatty(x->in_fd) ? x->in_fd : -1,
      .status = -1,
      .t0 = g_get_monotonic_time(),
      .heard = g_get_monotonic_time(),
      .sock = sock,
      .sfd = -1,
      .in_open = x->in_fd >= 0 && !x->detach,
      .out = out,
      .in = in,
  };
  if (request(&s, error)) {
    sigset_t old;
    s.sfd = block_signals(x, &old);
    while (s.status < 0 && step(&s, error)) {
    }
    term_restore(&s.term, s.tty_fd);
    close(s.sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
  }
  if (sock != x->sock) {
    close(sock);
    close(lock);
  }
  /* A session cut short (the limit, a broken frame) has no exit status. */
  return s.too_big ? -1 : s.status;
}

char *nl_exec_output(const char *statedir, const char *vm, char **argv, GError **error) {
  /* A memory file, not a pipe: nothing has to read while the command runs. */
  int fd = memfd_create("netlab-exec", MFD_CLOEXEC);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || null < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot make a memory file: %s",
                g_strerror(errno));
    if (fd >= 0) close(fd);
    if (null >= 0) close(null);
    return NULL;
  }
  NlExec x = {.statedir = statedir,
              .vm = vm,
              .argv = argv,
              .in_fd = -1,
              .out_fd = fd,
              .err_fd = null,
              .timeout_s = 30,
              .out_max = NL_EXEC_OUTPUT_MAX};
  int rc = nl_exec_run(&x, error);
  close(null);
  char *out = NULL;
  if (rc == 0) {
    off_t len = lseek(fd, 0, SEEK_CUR);
    out = g_malloc(len + 1);
    if (pread(fd, out, len, 0) != len) len = 0;
    out[len] = '\0';
  } else if (rc > 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' in %s exited with status %d", argv[0], vm,
                rc);
  }
  close(fd);
  return out;
}
