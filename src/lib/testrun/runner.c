#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What root runs is checked along its whole path: the lab directory, then
 * tests/, then the test, each opened without following links. The lab
 * directory must be the user's (or root's) and not writable by all (up
 * gives the QEMU user an ACL entry on it, not on what is below); tests/ and
 * the test must be the user's (or root's) and writable by nobody else: a
 * VM could have made or changed them. Only open, fstat and close: it runs
 * again in the test's process right before the exec. */
typedef enum { TEST_OK, TEST_BAD_LAB, TEST_BAD_DIR, TEST_BAD_FILE, TEST_NOT_EXEC } TestCheck;

static gboolean trusted(const struct stat *st, int writable_bits) {
  return (st->st_uid == geteuid() || st->st_uid == 0) && !(st->st_mode & writable_bits);
}

static TestCheck check_test(const char *labdir, const char *name, struct stat *out) {
  struct stat st = {0};
  int lab = open(labdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lab < 0 || fstat(lab, &st) != 0 || !trusted(&st, S_IWOTH)) {
    if (lab >= 0) close(lab);
    *out = st;
    return TEST_BAD_LAB;
  }
  int dir = openat(lab, "tests", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close(lab);
  if (dir < 0 || fstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || !trusted(&st, 022)) {
    if (dir >= 0) close(dir);
    *out = st;
    return TEST_BAD_DIR;
  }
  if (!name) {
    close(dir);
    return TEST_OK;
  }
  int f = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  close(dir);
  memset(&st, 0, sizeof st);
  gboolean got = f >= 0 && fstat(f, &st) == 0;
  if (f >= 0) close(f);
  *out = st;
  if (!got || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) return TEST_NOT_EXEC;
  return trusted(&st, 022) ? TEST_OK : TEST_BAD_FILE;
}

static char *check_why(TestCheck c, const char *labdir, const char *name, const struct stat *st) {
  switch (c) {
    case TEST_OK: return NULL;
    case TEST_BAD_LAB:
      return g_strdup_printf(
          "'%s' is owned by uid %u, mode %04o: not the user's, or writable by all", labdir,
          (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
    case TEST_BAD_DIR:
      return g_strdup_printf(
          "'%s/tests' is not a directory of the user's (or root's) that nobody "
          "else can write (uid %u, mode %04o): a VM may have made it",
          labdir, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
    case TEST_BAD_FILE:
      return g_strdup_printf(
          "tests/%s is owned by uid %u, mode %04o: not the user's (or root's), "
          "or writable by others (a VM may have written it)",
          name, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
    case TEST_NOT_EXEC: return g_strdup_printf("tests/%s is no longer an executable file", name);
  }
  return NULL;
}

GPtrArray *nl_testrun_find(const char *labdir, const NlProgress *say, GError **error) {
  g_autofree char *dir = g_build_filename(labdir, "tests", NULL);
  struct stat st;
  TestCheck c = check_test(labdir, NULL, &st);
  if (c != TEST_OK && g_file_test(dir, G_FILE_TEST_EXISTS)) {
    g_autofree char *why = check_why(c, labdir, NULL, &st);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "refusing to run tests: %s", why);
    return NULL;
  }
  g_autoptr(GDir) d = c == TEST_OK ? g_dir_open(dir, 0, NULL) : NULL;
  GPtrArray *tests = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    if (n[0] == '.') continue;
    c = check_test(labdir, n, &st);
    if (c == TEST_NOT_EXEC) continue;
    if (c != TEST_OK) {
      g_autofree char *why = check_why(c, labdir, n, &st);
      nl_say(say, NL_SAY_NOTICE, "not running tests/%s: %s", n, why);
      continue;
    }
    g_ptr_array_add(tests, g_strdup(n));
  }
  g_ptr_array_sort(tests, nl_strv_cmp);
  if (tests->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "no tests in '%s' (executable files, run in name order)", dir);
    g_ptr_array_unref(tests);
    return NULL;
  }
  return tests;
}

/* One test being run: it has a process group of its own, so that a timeout
 * or an interrupt stops whatever it started too. */
typedef struct {
  GMainLoop *loop;
  GPid pid;
  char *out;
  gboolean timed_out;
} Running;

/* The signal that interrupted `netlab test`, and the test or the `up` it
 * interrupted. */
static int interrupted;
static Running *current;
static GPid up_pid;

static void stop_group(Running *t, int sig) {
  if (t && t->pid > 0) kill(-t->pid, sig);
}

static gboolean on_signal(gpointer data) {
  interrupted = GPOINTER_TO_INT(data);
  if (up_pid > 0) kill(up_pid, interrupted);
  stop_group(current, SIGTERM);
  return G_SOURCE_CONTINUE;
}

static gboolean on_test_timeout(gpointer data) {
  Running *t = data;
  t->timed_out = TRUE;
  stop_group(t, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void on_test_done(GObject *p, GAsyncResult *res, gpointer data) {
  Running *t = data;
  g_subprocess_communicate_utf8_finish(G_SUBPROCESS(p), res, &t->out, NULL, NULL);
  g_main_loop_quit(t->loop);
}

typedef struct {
  const char *labdir, *name;
  pid_t *pid; /* shared with the child, which writes its pid there */
} Exec;

/* In the test's process, right before the exec: its own process group,
 * and the whole path checked once more (a test listed before `up` is run
 * long after). */
static void own_group(gpointer data) {
  const Exec *e = data;
  setpgid(0, 0);
  *e->pid = getpid();
  struct stat st;
  if (check_test(e->labdir, e->name, &st) != TEST_OK) {
    static const char msg[] = "netlab: the test's path changed before it could run\n";
    if (write(1, msg, sizeof msg - 1) < 0) _exit(126);
    _exit(126);
  }
}

static void on_up_done(GObject *p, GAsyncResult *res, gpointer loop) { g_main_loop_quit(loop); }

/* `netlab up` in a process of its own: the embedded libvirt driver locks its
 * state directory for as long as the process that loaded it lives, and the
 * tests must be free to run `netlab status`. */
gboolean nl_testrun_up(const char *labdir, const char *uri, gboolean vmcore, GError **error) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, self ? self : "netlab");
  if (uri) {
    g_ptr_array_add(argv, "--connect");
    g_ptr_array_add(argv, (char *)uri);
  }
  g_ptr_array_add(argv, "up");
  if (vmcore) g_ptr_array_add(argv, "--vmcore-on-panic");
  g_ptr_array_add(argv, (char *)labdir);
  g_ptr_array_add(argv, NULL);
  g_autoptr(GSubprocess) p =
      g_subprocess_newv((const char *const *)argv->pdata, G_SUBPROCESS_FLAGS_NONE, error);
  if (!p) return FALSE;
  up_pid = atoi(g_subprocess_get_identifier(p));
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_subprocess_wait_async(p, NULL, on_up_done, loop);
  g_main_loop_run(loop);
  up_pid = 0;
  if (g_subprocess_get_successful(p)) return TRUE;
  /* up has said what went wrong, and taken down what it started. */
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "the lab did not come up");
  return FALSE;
}

NlTestResult *nl_testrun_one(const char *labdir, const char *name, guint timeout_s) {
  NlTestResult *r = g_new0(NlTestResult, 1);
  r->name = g_strdup(name);
  g_autofree char *path = g_build_filename(labdir, "tests", name, NULL);
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autofree char *bindir = self ? g_path_get_dirname(self) : g_strdup("");
  g_autofree char *pathenv = g_strdup_printf("%s:%s", bindir, g_getenv("PATH"));

  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE |
                                G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_set_cwd(l, labdir);
  g_subprocess_launcher_setenv(l, "NETLAB_LAB", labdir, TRUE);
  g_subprocess_launcher_setenv(l, "NETLAB", self ? self : "netlab", TRUE);
  g_subprocess_launcher_setenv(l, "PATH", pathenv, TRUE);
  /* The test's pid, from the test itself: GSubprocess forgets it once the
   * process is reaped, which a test that ends at once may be before we
   * ask; its process group outlives it. */
  pid_t *pid = mmap(NULL, sizeof *pid, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (pid == MAP_FAILED) {
    r->why = g_strdup_printf("mmap: %s", g_strerror(errno));
    r->output = g_strdup("");
    return r;
  }
  *pid = 0;
  Exec ex = {labdir, name, pid};
  g_subprocess_launcher_set_child_setup(l, own_group, &ex, NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;
  TestCheck c = check_test(labdir, name, &st);
  if (c != TEST_OK) {
    r->why = check_why(c, labdir, name, &st);
    r->output = g_strdup("");
    munmap(pid, sizeof *pid);
    return r;
  }
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawn(l, &error, path, NULL);
  if (!p) {
    r->why = g_strdup(error->message);
    r->output = g_strdup("");
    munmap(pid, sizeof *pid);
    return r;
  }
  Running t = {.loop = g_main_loop_new(NULL, FALSE), .pid = *pid};
  munmap(pid, sizeof *pid);
  current = &t;
  guint timer = g_timeout_add_seconds(timeout_s, on_test_timeout, &t);
  g_subprocess_communicate_utf8_async(p, NULL, NULL, on_test_done, &t);
  g_main_loop_run(t.loop);
  if (!t.timed_out) g_source_remove(timer);
  g_subprocess_wait(p, NULL, NULL);
  /* What the test left running in its group goes with it. */
  stop_group(&t, SIGKILL);
  current = NULL;
  g_main_loop_unref(t.loop);

  r->secs = (g_get_monotonic_time() - t0) / 1e6;
  r->output = t.out ? t.out : g_strdup("");
  gboolean tap_ok = nl_tap_verdict(r->output, &r->why);
  if (t.timed_out || interrupted) {
    g_free(r->why);
    r->why = t.timed_out ? g_strdup_printf("timed out after %u s", timeout_s)
                         : g_strdup_printf("interrupted by signal %d", interrupted);
  } else if (g_subprocess_get_if_signaled(p)) {
    g_free(r->why);
    r->why = g_strdup_printf("killed by signal %d", g_subprocess_get_term_sig(p));
  } else if (g_subprocess_get_exit_status(p) != 0) {
    g_free(r->why);
    r->why = g_strdup_printf("exited with status %d", g_subprocess_get_exit_status(p));
  }
  r->passed = tap_ok && !r->why;
  return r;
}

void nl_testrun_catch_signals(void) {
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (guint i = 0; i < G_N_ELEMENTS(sigs); i++)
    g_unix_signal_add(sigs[i], on_signal, GINT_TO_POINTER(sigs[i]));
}

int nl_testrun_interrupted(void) { return interrupted; }
