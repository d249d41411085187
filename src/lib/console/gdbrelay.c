#include "gdbrelay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rsp.h"
#include "sandbox.h"

/* ---- the freezer: a thread that runs `netlab freeze/thaw` --------------- */

/* Each change runs in a child netlab: libvirt's embedded driver stays with
 * the process that opened it, and holding it (with the lab's lock) for a
 * whole gdb session would keep status and down out. The thread applies
 * the latest wish only: a single step's thaw and freeze cancel out. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean want, frozen, quit;
  char **nodes;
  const char *labdir, *node;
  const NlProgress *say;
  GThread *thread;
} Freezer;

static gboolean freeze_child(Freezer *f, gboolean freeze) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_strv_builder_add_many(b, self ? self : "netlab", freeze ? "freeze" : "thaw", "-q", "-d",
                          f->labdir, NULL);
  g_strv_builder_addv(b, (const char **)f->nodes);
  g_auto(GStrv) argv = g_strv_builder_end(b);
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) e = NULL;
  if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status,
                    &e) ||
      !g_spawn_check_wait_status(status, NULL)) {
    nl_say(f->say, NL_SAY_WARNING, "cannot %s the rest of the lab: %s", freeze ? "freeze" : "thaw",
           e ? e->message : g_strstrip(err));
    return FALSE;
  }
  return TRUE;
}

static gpointer freezer_thread(gpointer data) {
  Freezer *f = data;
  g_mutex_lock(&f->lock);
  for (;;) {
    while (f->want == f->frozen && !f->quit) g_cond_wait(&f->cond, &f->lock);
    if (f->want == f->frozen) break;
    gboolean target = f->want;
    g_mutex_unlock(&f->lock);
    gint64 t0 = g_get_monotonic_time();
    gboolean ok = freeze_child(f, target);
    if (ok) {
      g_autofree char *names = g_strjoinv(" ", f->nodes);
      nl_say(f->say, NL_SAY_NOTICE, "%s %s: %s %s (%.0f ms)", f->node, target ? "stopped" : "runs",
             target ? "froze" : "thawed", names, (g_get_monotonic_time() - t0) / 1000.0);
    }
    g_mutex_lock(&f->lock);
    /* A failure is not retried: the warning said it. */
    f->frozen = target;
  }
  g_mutex_unlock(&f->lock);
  return NULL;
}

static void freezer_want(Freezer *f, gboolean frozen) {
  if (!f) return;
  g_mutex_lock(&f->lock);
  f->want = frozen;
  g_cond_signal(&f->cond);
  g_mutex_unlock(&f->lock);
}

static void freezer_start(Freezer *fz) {
  g_mutex_init(&fz->lock);
  g_cond_init(&fz->cond);
  fz->thread = g_thread_new("freezer", freezer_thread, fz);
}

/* The lab runs again, and the thread ends. */
static void freezer_stop(Freezer *fz) {
  g_mutex_lock(&fz->lock);
  fz->want = FALSE;
  fz->quit = TRUE;
  g_cond_signal(&fz->cond);
  g_mutex_unlock(&fz->lock);
  g_thread_join(fz->thread);
  g_mutex_clear(&fz->lock);
  g_cond_clear(&fz->cond);
}

/* ---- the relay ------------------------------------------------------------ */

typedef struct {
  int gdb, stub;
  GString *from_gdb, *from_stub;
  gboolean awaiting_stop, noack, noack_asked, told_output;
  guint swallow_acks;
  gsize output, qxfer;
  char *qxfer_object;
  Freezer *fz;
  const NlProgress *say;
  const char *node;
  char *error;
} Relay;

/* The next token of BUF: a packet ("$...#xx", "%...#xx") or a run of other
 * bytes (acks, gdb's interrupt, noise). NULL when none is whole yet. */
static GString *take_token(GString *buf, gboolean *packet, gboolean *overflow) {
  *overflow = FALSE;
  if (buf->len == 0) return NULL;
  const char *s = buf->str;
  gsize n;
  *packet = s[0] == '$' || s[0] == '%';
  if (*packet) {
    const char *hash = memchr(s, '#', buf->len);
    if (!hash || buf->len - (hash - s) < 3) {
      *overflow = buf->len > NL_GDB_PACKET_MAX + 4;
      return NULL;
    }
    n = hash + 3 - s;
  } else {
    for (n = 1; n < buf->len && s[n] != '$' && s[n] != '%'; n++) {
    }
  }
  GString *tok = g_string_new_len(s, n);
  g_string_erase(buf, 0, n);
  return tok;
}

static char *payload_of(const GString *tok) { return g_strndup(tok->str + 1, tok->len - 4); }

static gboolean send_to(Relay *r, int fd, const char *data, gsize len) {
  if (nl_write_all(fd, data, len)) return TRUE;
  if (!r->error) r->error = g_strdup_printf("write: %s", g_strerror(errno));
  return FALSE;
}

/* The relay answers the stub itself (and acknowledges what it drops). */
static gboolean answer_stub(Relay *r, const char *payload) {
  if (!r->noack && !send_to(r, r->stub, "+", 1)) return FALSE;
  if (!payload) return TRUE;
  g_autofree char *p = nl_rsp_frame(payload);
  if (!r->noack) r->swallow_acks++;
  return send_to(r, r->stub, p, strlen(p));
}

static gboolean from_gdb(Relay *r, GString *tok, gboolean packet) {
  if (packet) {
    g_autofree char *p = payload_of(tok);
    r->output = 0;
    switch (nl_rsp_request(p)) {
      case NL_RSP_REQ_RESUME:
        r->awaiting_stop = TRUE;
        freezer_want(r->fz, FALSE);
        break;
      case NL_RSP_REQ_WHY: r->awaiting_stop = TRUE; break;
      case NL_RSP_REQ_DETACH:
        r->awaiting_stop = FALSE;
        freezer_want(r->fz, FALSE);
        break;
      case NL_RSP_REQ_OTHER: break;
    }
    if (g_str_equal(p, "QStartNoAckMode")) r->noack_asked = TRUE;
    /* qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH: a new object starts the count. */
    if (g_str_has_prefix(p, "qXfer:")) {
      char *off = strrchr(p, ':');
      if (off) *off = '\0';
      if (g_strcmp0(p, r->qxfer_object) != 0) {
        g_free(r->qxfer_object);
        r->qxfer_object = g_strdup(p);
        r->qxfer = 0;
      }
    } else {
      g_clear_pointer(&r->qxfer_object, g_free);
    }
  }
  return send_to(r, r->stub, tok->str, tok->len);
}

static gboolean from_stub(Relay *r, GString *tok, gboolean packet) {
  if (!packet) {
    /* Our own answers' acknowledgements are ours. */
    GString *out = g_string_new(NULL);
    for (gsize i = 0; i < tok->len; i++) {
      if (tok->str[i] == '+' && r->swallow_acks) {
        r->swallow_acks--;
        continue;
      }
      g_string_append_c(out, tok->str[i]);
    }
    gboolean ok = !out->len || send_to(r, r->gdb, out->str, out->len);
    g_string_free(out, TRUE);
    return ok;
  }
  g_autofree char *p = payload_of(tok);
  NlRspReply kind = nl_rsp_reply(p, r->awaiting_stop);
  switch (kind) {
    case NL_RSP_REPLY_FILEIO: {
      /* EPERM: gdb never sees the request. */
      g_autofree char *call = g_strndup(p + 1, strcspn(p + 1, ","));
      for (char *c = call; *c; c++)
        if (!g_ascii_isalnum(*c)) *c = '?';
      nl_say(r->say, NL_SAY_WARNING,
             "%s: refused its stub's File-I/O request '%.16s' (a stub may not have gdb open "
             "host files)",
             r->node, call);
      return answer_stub(r, "F-1,1");
    }
    case NL_RSP_REPLY_OUTPUT:
      r->output += strlen(p) / 2;
      if (r->output > NL_GDB_OUTPUT_MAX) {
        if (!r->told_output)
          nl_say(r->say, NL_SAY_WARNING, "%s: its stub's output passed %d MiB: the rest is dropped",
                 r->node, NL_GDB_OUTPUT_MAX >> 20);
        r->told_output = TRUE;
        return answer_stub(r, NULL);
      }
      break;
    case NL_RSP_REPLY_STOP:
      r->awaiting_stop = FALSE;
      freezer_want(r->fz, TRUE);
      break;
    case NL_RSP_REPLY_OTHER:
      /* A resume that failed leaves the target stopped. */
      if (r->awaiting_stop && p[0] == 'E') {
        r->awaiting_stop = FALSE;
        freezer_want(r->fz, TRUE);
      }
      if (r->noack_asked && g_str_equal(p, "OK")) r->noack = TRUE;
      r->noack_asked = FALSE;
      if (r->qxfer_object) {
        r->qxfer += strlen(p);
        if (r->qxfer > NL_GDB_QXFER_MAX) {
          nl_say(r->say, NL_SAY_WARNING, "%s: its stub's %s passed %d MiB: refused", r->node,
                 r->qxfer_object, NL_GDB_QXFER_MAX >> 20);
          g_clear_pointer(&r->qxfer_object, g_free);
          if (!answer_stub(r, NULL)) return FALSE;
          g_autofree char *e = nl_rsp_frame("E01");
          return send_to(r, r->gdb, e, strlen(e));
        }
      }
      break;
  }
  return send_to(r, r->gdb, tok->str, tok->len);
}

/* Reads what FD has into BUF and hands each whole token to HANDLE. */
static gboolean pump(Relay *r, int fd, GString *buf,
                     gboolean (*handle)(Relay *, GString *, gboolean)) {
  char chunk[16384];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0 && errno == EINTR) return TRUE;
  if (n <= 0) return FALSE;
  g_string_append_len(buf, chunk, n);
  for (;;) {
    gboolean packet, overflow;
    g_autoptr(GString) tok = take_token(buf, &packet, &overflow);
    if (overflow) {
      r->error = g_strdup_printf("a packet longer than %d KiB: the session is cut",
                                 NL_GDB_PACKET_MAX >> 10);
      return FALSE;
    }
    if (!tok) return TRUE;
    if (!handle(r, tok, packet)) return FALSE;
  }
}

static void relay(Relay *r, int quit) {
  for (;;) {
    struct pollfd p[3] = {{r->gdb, POLLIN, 0}, {r->stub, POLLIN, 0}, {quit, POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[2].revents) return;
    if (p[0].revents && !pump(r, r->gdb, r->from_gdb, from_gdb)) return;
    if (p[1].revents && !pump(r, r->stub, r->from_stub, from_stub)) return;
  }
}

/* ---- the session ---------------------------------------------------------- */

typedef struct {
  const NlGdbSession *s;
  const NlProgress *say;
  Freezer *fz;
  int listen, quit;
} Serve;

static gpointer serve(gpointer data) {
  Serve *sv = data;
  struct pollfd p[2] = {{sv->listen, POLLIN, 0}, {sv->quit, POLLIN, 0}};
  while (poll(p, 2, -1) < 0 && errno == EINTR) {
  }
  if (!(p[0].revents & POLLIN)) return NULL;
  int gdb = accept4(sv->listen, NULL, NULL, SOCK_CLOEXEC);
  if (gdb < 0) return NULL;
  g_autoptr(GError) e = NULL;
  int stub = nl_unix_connect(sv->s->stub, &e);
  if (stub < 0) {
    nl_say(sv->say, NL_SAY_WARNING, "%s: cannot reach its stub: %s", sv->s->vm->node, e->message);
    close(gdb);
    return NULL;
  }
  /* QEMU's stub halts the VM as soon as a client connects. */
  if (sv->s->halted) freezer_want(sv->fz, TRUE);
  Relay r = {.gdb = gdb,
             .stub = stub,
             .from_gdb = g_string_new(NULL),
             .from_stub = g_string_new(NULL),
             .fz = sv->fz,
             .say = sv->say,
             .node = sv->s->vm->node};
  relay(&r, sv->quit);
  if (r.error) nl_say(sv->say, NL_SAY_WARNING, "%s: gdb relay: %s", r.node, r.error);
  close(gdb);
  close(stub);
  g_string_free(r.from_gdb, TRUE);
  g_string_free(r.from_stub, TRUE);
  g_free(r.qxfer_object);
  g_free(r.error);
  freezer_want(sv->fz, FALSE);
  return NULL;
}

static int listen_at(const char *path, const NlQemuUser *u, GError **error) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  g_strlcpy(a.sun_path, path, sizeof a.sun_path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0 ||
      (u->dropped && chown(path, u->uid, u->gid) != 0)) {
    nl_set_errno(error, errno, "cannot listen on '%s'", path);
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* Copies the file FROM to TO, mode 0644. */
static gboolean copy_file(const char *from, const char *to) {
  g_autofree char *data = NULL;
  gsize len;
  return g_file_get_contents(from, &data, &len, NULL) && nl_write_file(to, data, len, 0644, NULL);
}

/* The lx- scripts in DIR for a gdb that cannot read the kernel tree:
 * vmlinux-gdb.py and the scripts/gdb/linux package it imports. */
static char *copy_scripts(const char *scripts, const char *dir) {
  g_autofree char *top = g_build_filename(dir, "vmlinux-gdb.py", NULL);
  if (!copy_file(scripts, top)) return NULL;
  g_autofree char *tree = g_path_get_dirname(scripts);
  /* A build tree's vmlinux-gdb.py is a link into scripts/gdb/. */
  g_autofree char *pkg = g_build_filename(tree, "scripts", "gdb", "linux", NULL);
  g_autoptr(GDir) d = g_dir_open(pkg, 0, NULL);
  if (d) {
    g_autofree char *out = g_build_filename(dir, "scripts", "gdb", "linux", NULL);
    g_mkdir_with_parents(out, 0755);
    const char *n;
    while ((n = g_dir_read_name(d))) {
      if (!g_str_has_suffix(n, ".py")) continue;
      g_autofree char *src = g_build_filename(pkg, n, NULL);
      g_autofree char *dst = g_build_filename(out, n, NULL);
      copy_file(src, dst);
    }
  }
  return g_steal_pointer(&top);
}

static void rm_tree(const char *path) {
  g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *c = g_build_filename(path, n, NULL);
    if (g_file_test(c, G_FILE_TEST_IS_DIR) && !g_file_test(c, G_FILE_TEST_IS_SYMLINK))
      rm_tree(c);
    else
      unlink(c);
  }
  rmdir(path);
}

typedef struct {
  NlQemuUser *u;
} ChildSetup;

/* gdb gets the terminal's signals as a child does (its Ctrl-C), and as
 * root runs as the QEMU user. */
static void child_setup(gpointer data) {
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
  nl_qemu_user_become(((ChildSetup *)data)->u);
}

/* A private directory for gdb's socket and copies: only the QEMU user's
 * group gets in. NULL on failure. */
static char *gdb_dir(const NlQemuUser *u, GError **error) {
  g_autofree char *tmp = g_build_filename(g_get_tmp_dir(), "netlab-gdb-XXXXXX", NULL);
  if (!g_mkdtemp_full(tmp, 0700)) {
    nl_set_errno(error, errno, "cannot create a directory for gdb");
    return NULL;
  }
  if (u->dropped && (chown(tmp, 0, u->gid) != 0 || chmod(tmp, 0750) != 0)) {
    nl_set_errno(error, errno, "cannot give '%s' to the QEMU user", tmp);
    rmdir(tmp);
    return NULL;
  }
  return g_steal_pointer(&tmp);
}

/* The kernel's symbols on gdb's command line. Returns the fd gdb is to
 * get as its fd 3, or -1. */
static int add_symbols(GStrvBuilder *b, const NlGdbSession *s, const NlQemuUser *u, const char *tmp,
                       const NlProgress *say) {
  if (!s->symbols) return -1;
  if (!u->dropped) {
    g_strv_builder_add(b, s->symbols);
    return -1;
  }
  /* gdb, as the QEMU user, may not reach the file where it is (a kernel
   * cache under /root): it gets netlab's open file, or a copy when the
   * file itself is not readable by others. */
  struct stat st;
  int sym_fd = open(s->symbols, O_RDONLY | O_CLOEXEC);
  if (sym_fd >= 0 && fstat(sym_fd, &st) == 0 && (st.st_mode & S_IROTH)) {
    g_strv_builder_add(b, "/proc/self/fd/3");
    return sym_fd;
  }
  if (sym_fd >= 0) close(sym_fd);
  g_autofree char *base = g_path_get_basename(s->symbols);
  g_autofree char *copy = g_build_filename(tmp, base, NULL);
  if (copy_file(s->symbols, copy) && chmod(copy, 0640) == 0 && chown(copy, 0, u->gid) == 0)
    g_strv_builder_add(b, copy);
  else
    nl_say(say, NL_SAY_WARNING, "cannot hand '%s' to gdb: no symbols", s->symbols);
  return -1;
}

/* The kernel's lx- scripts on gdb's command line. */
static void add_scripts(GStrvBuilder *b, const NlGdbSession *s, const NlQemuUser *u,
                        const char *tmp) {
  if (!s->scripts) return;
  if (u->dropped) {
    g_autofree char *copy = copy_scripts(s->scripts, tmp);
    g_autofree char *src = copy ? g_strdup_printf("source %s", copy) : NULL;
    if (src) g_strv_builder_add_many(b, "-ex", src, NULL);
    return;
  }
  /* gdb loads <vmlinux>-gdb.py itself, with the symbols, once its
   * directory is trusted; a script elsewhere has to be sourced. */
  g_autofree char *dir = g_path_get_dirname(s->scripts);
  g_autofree char *safe = g_strdup_printf("add-auto-load-safe-path %s", dir);
  g_strv_builder_add_many(b, "-iex", safe, NULL);
  g_autofree char *own = s->symbols ? g_strconcat(s->symbols, "-gdb.py", NULL) : NULL;
  if (!own || strcmp(own, s->scripts) != 0) {
    g_autofree char *src = g_strdup_printf("source %s", s->scripts);
    g_strv_builder_add_many(b, "-ex", src, NULL);
  }
}

/* Runs gdb to its end, with the terminal's signals its own; SYM_FD, if
 * any, as its fd 3. Its wait status in *STATUS. */
static gboolean run_gdb(char **argv, NlQemuUser *u, const char *tmp, int sym_fd, int *status,
                        GError **error) {
  g_auto(GStrv) env = g_get_environ();
  if (u->dropped) env = g_environ_setenv(env, "HOME", tmp, TRUE);
  struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  ChildSetup cs = {u};
  GPid pid = 0;
  int source[] = {sym_fd}, dest[] = {3};
  fflush(NULL);
  gboolean spawned = g_spawn_async_with_pipes_and_fds(
      u->dropped ? tmp : NULL, (const char *const *)argv, (const char *const *)env,
      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN, child_setup,
      &cs, -1, -1, -1, source, dest, sym_fd >= 0 ? 1 : 0, &pid, NULL, NULL, NULL, error);
  *status = 0;
  if (spawned)
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  return spawned;
}

int nl_gdb_session(const NlGdbSession *s, const NlProgress *say, GError **error) {
  g_auto(NlQemuUser) u = {0};
  if (!nl_qemu_user(&u, error)) return -1;
  g_autofree char *tmp = gdb_dir(&u, error);
  if (!tmp) return -1;
  g_autofree char *sock = g_build_filename(tmp, "stub.sock", NULL);
  int lfd = listen_at(sock, &u, error);
  int quit[2];
  if (lfd >= 0 && pipe2(quit, O_CLOEXEC) != 0) {
    nl_set_errno(error, errno, "pipe");
    close(lfd);
    lfd = -1;
  }
  if (lfd < 0) {
    rm_tree(tmp);
    return -1;
  }

  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_strv_builder_add_many(b, "gdb", "-q", NULL);
  g_strv_builder_addv(b, (const char **)s->before);
  int sym_fd = add_symbols(b, s, &u, tmp, say);
  add_scripts(b, s, &u, tmp);
  g_autofree char *target = g_strdup_printf("target remote %s", sock);
  g_strv_builder_add_many(b, "-ex", target, NULL);
  g_strv_builder_addv(b, (const char **)s->after);
  g_auto(GStrv) argv = g_strv_builder_end(b);

  Freezer fz = {.nodes = s->freeze, .labdir = s->vm->labdir, .node = s->vm->node, .say = say};
  gboolean freezing = s->freeze && *s->freeze;
  if (freezing) freezer_start(&fz);
  Serve sv = {.s = s, .say = say, .fz = freezing ? &fz : NULL, .listen = lfd, .quit = quit[0]};
  GThread *server = g_thread_new("gdb-relay", serve, &sv);
  int status;
  gboolean spawned = run_gdb(argv, &u, tmp, sym_fd, &status, error);
  if (sym_fd >= 0) close(sym_fd);

  /* gdb is gone: the relay ends, and the lab runs again. */
  if (write(quit[1], "q", 1) < 0) {
    /* The relay ends with gdb's socket anyway. */
  }
  g_thread_join(server);
  close(quit[0]);
  close(quit[1]);
  close(lfd);
  if (freezing) freezer_stop(&fz);
  rm_tree(tmp);
  if (!spawned) {
    g_prefix_error(error, "cannot run gdb: ");
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
