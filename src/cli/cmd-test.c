/* netlab test: bring a lab up (unless it is up), run the executables in
 * LABDIR/tests/ in name order on the host, report TAP (and JUnit), keep
 * artifacts of a failure, and take the lab down again. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "cmd.h"
#include "domxml.h"
#include "exec.h"
#include "postmortem.h"
#include "run.h"
#include "state.h"
#include "util.h"

typedef struct {
  char *name;
  gboolean passed;
  double secs;
  char *output;
  char *why;
} Result;

static void result_free(Result *r) {
  g_free(r->name);
  g_free(r->output);
  g_free(r->why);
  g_free(r);
}

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
  struct stat st;
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

static GPtrArray *find_tests(const char *labdir, GError **error) {
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
      printf("# not running tests/%s: %s\n", n, why);
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

/* A test that prints TAP fails on any "not ok" (not marked TODO) or when it
 * ran fewer tests than it planned; any test fails on a non-zero status. */
static gboolean tap_verdict(const char *out, char **why) {
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
  int planned = -1, ran = 0, failed = 0;
  for (char **l = lines; *l; l++) {
    if (g_str_has_prefix(*l, "ok")) {
      ran++;
    } else if (g_str_has_prefix(*l, "not ok")) {
      ran++;
      if (!strstr(*l, "# TODO")) failed++;
    } else if (g_str_has_prefix(*l, "1..")) {
      planned = atoi(*l + 3);
    }
  }
  if (failed)
    *why = g_strdup_printf("%d of its %d TAP tests failed", failed, ran);
  else if (planned >= 0 && planned != ran)
    *why = g_strdup_printf("planned %d TAP tests, ran %d", planned, ran);
  return !failed && (planned < 0 || planned == ran);
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
} Exec;

/* In the test's process, right before the exec: its own process group,
 * and the whole path checked once more (a test listed before `up` is run
 * long after). */
static void own_group(gpointer data) {
  const Exec *e = data;
  setpgid(0, 0);
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
static gboolean up_lab(const char *labdir, const char *uri, GError **error) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, self ? self : "netlab");
  if (uri) {
    g_ptr_array_add(argv, "--connect");
    g_ptr_array_add(argv, (char *)uri);
  }
  g_ptr_array_add(argv, "up");
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

static Result *run_test(const char *labdir, const char *name, guint timeout_s) {
  Result *r = g_new0(Result, 1);
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
  Exec ex = {labdir, name};
  g_subprocess_launcher_set_child_setup(l, own_group, &ex, NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;
  TestCheck c = check_test(labdir, name, &st);
  if (c != TEST_OK) {
    r->why = check_why(c, labdir, name, &st);
    r->output = g_strdup("");
    return r;
  }
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawn(l, &error, path, NULL);
  if (!p) {
    r->why = g_strdup(error->message);
    r->output = g_strdup("");
    return r;
  }
  Running t = {.loop = g_main_loop_new(NULL, FALSE), .pid = atoi(g_subprocess_get_identifier(p))};
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
  gboolean tap_ok = tap_verdict(r->output, &r->why);
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

/* LAB_CAPTURE: a `netlab capture` of each LAN it names runs while the
 * tests run, into the state directory; a failure keeps the files. */
typedef struct {
  GSubprocess *p;
  char *lan;
  char *file;
} Capture;

static void capture_free(Capture *c) {
  if (c->p) g_object_unref(c->p);
  g_free(c->lan);
  if (c->file) unlink(c->file);
  g_free(c->file);
  g_free(c);
}

static GPtrArray *start_captures(const NlLab *lab, const NlState *st) {
  GPtrArray *caps = g_ptr_array_new_with_free_func((GDestroyNotify)capture_free);
  g_auto(GStrv) lans = lab->capture ? g_strsplit_set(lab->capture, " \t,", -1) : NULL;
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  for (char **lan = lans; lan && *lan; lan++) {
    if (!**lan) continue;
    Capture *c = g_new0(Capture, 1);
    c->lan = g_strdup(*lan);
    c->file = nl_layout_capture(st->dir, *lan);
    g_ptr_array_add(caps, c);
    const char *argv[] = {
        self ? self : "netlab", "capture", "-d", lab->dir, *lan, "-w", c->file, NULL};
    g_autoptr(GError) e = NULL;
    c->p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDERR_PIPE, &e);
    /* Its first line says it captures: the tests start after that. */
    g_autoptr(GDataInputStream) err =
        c->p ? g_data_input_stream_new(g_subprocess_get_stderr_pipe(c->p)) : NULL;
    g_autofree char *line = err ? g_data_input_stream_read_line(err, NULL, NULL, &e) : NULL;
    if (!line || !strstr(line, "capturing on"))
      fprintf(stderr, "netlab: warning: no capture of LAN '%s': %s\n", *lan,
              e      ? e->message
              : line ? line
                     : "it ended");
  }
  return caps;
}

/* Ends the captures (a complete file each), and copies them into DIR. */
static void stop_captures(GPtrArray *caps, const char *dir) {
  for (guint i = 0; i < caps->len; i++) {
    Capture *c = caps->pdata[i];
    if (!c->p) continue;
    g_subprocess_send_signal(c->p, SIGINT);
    g_subprocess_wait(c->p, NULL, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!dir || !g_file_get_contents(c->file, &data, &len, NULL)) continue;
    g_autofree char *name = g_strdup_printf("capture-%s.pcap", c->lan);
    g_autofree char *dst = g_build_filename(dir, name, NULL);
    nl_write_file(dst, data, len, 0600, NULL);
  }
}

/* What a person needs to see why a network test failed, from every VM. */
static void collect(const NlLab *lab, const NlState *st, const char *dir, GPtrArray *results,
                    GString *index) {
  for (guint i = 0; i < results->len; i++) {
    Result *r = results->pdata[i];
    g_autofree char *file = g_strconcat(r->name, ".log", NULL);
    g_autofree char *path = g_build_filename(dir, file, NULL);
    nl_write_file(path, r->output, -1, 0600, NULL);
    g_string_append_printf(index, "%s: the output of test '%s'\n", file, r->name);
  }
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    g_autofree char *vmdir = g_build_filename(dir, node->name, NULL);
    if (mkdir(vmdir, 0700) != 0) continue;
    NlVmPaths p;
    nl_layout_vm(&p, st->dir, lab->dir, node->name);
    g_autofree char *dst = g_build_filename(vmdir, "console.log", NULL);
    int lfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lfd >= 0) {
      nl_console_log_write(p.log, lfd);
      close(lfd);
    }
    g_string_append_printf(index, "%s/console.log: its serial console, from %s\n", node->name,
                           p.log);
    g_string_append_printf(index,
                           "%s/ip-*.txt, dmesg.txt: through the agent, after the "
                           "tests (an error message in them if the VM had stopped)\n",
                           node->name);
    nl_layout_vm_clear(&p);
    nl_postmortem_probes(st->dir, node->name, vmdir);
  }
}

/* The VMs that do not answer the agent after the tests. */
static GPtrArray *dead_vms(const NlLab *lab, const NlState *st) {
  GPtrArray *dead = g_ptr_array_new();
  for (guint i = 0; i < lab->nodes->len; i++) {
    NlNode *node = lab->nodes->pdata[i];
    char *argv[] = {"true", NULL};
    NlExec x = {.statedir = st->dir,
                .vm = node->name,
                .argv = argv,
                .timeout_s = 10,
                .in_fd = -1,
                .out_fd = -1,
                .err_fd = -1};
    g_autoptr(GError) e = NULL;
    if (nl_exec_run(&x, &e) < 0) g_ptr_array_add(dead, node->name);
  }
  return dead;
}

/* TEXT as XML character data: made valid UTF-8, terminal escape sequences
 * (a test's colours) removed, and the control characters XML 1.0 cannot
 * hold, even as references, replaced by U+FFFD; then escaped. */
static char *xml_text(const char *text) {
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  g_autoptr(GString) s = g_string_sized_new(strlen(valid));
  for (const char *c = valid; *c;) {
    if (*c == '\x1b') {
      c++;
      if (*c == '[') {
        /* CSI: parameter and intermediate bytes up to a final 0x40-0x7e. */
        for (c++; *c && (*c < 0x40 || *c > 0x7e); c++) {
        }
        if (*c) c++;
      } else if (*c == ']') {
        /* OSC (a terminal title): up to BEL or ESC \. */
        for (c++; *c && *c != '\a' && *c != '\x1b'; c++) {
        }
        if (*c == '\a') c++;
      } else if (*c) {
        c++;
      }
      continue;
    }
    gunichar u = g_utf8_get_char(c);
    if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r') || u == 0xfffe || u == 0xffff)
      g_string_append_unichar(s, 0xfffd);
    else
      g_string_append_len(s, c, g_utf8_next_char(c) - c);
    c = g_utf8_next_char(c);
  }
  return g_markup_escape_text(s->str, s->len);
}

static void junit(const char *file, const NlLab *lab, GPtrArray *results, GError **error) {
  GString *x = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  guint failures = 0;
  double total = 0;
  for (guint i = 0; i < results->len; i++) {
    Result *r = results->pdata[i];
    failures += !r->passed;
    total += r->secs;
  }
  g_autofree char *name = xml_text(lab->name ? lab->name : lab->dir);
  g_string_append_printf(x,
                         "<testsuite name=\"%s\" tests=\"%u\" failures=\"%u\" "
                         "time=\"%.3f\">\n",
                         name, results->len, failures, total);
  for (guint i = 0; i < results->len; i++) {
    Result *r = results->pdata[i];
    g_autofree char *tn = xml_text(r->name);
    g_autofree char *out = xml_text(r->output);
    g_string_append_printf(x, "  <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n", name, tn,
                           r->secs);
    if (!r->passed) {
      g_autofree char *why = xml_text(r->why ? r->why : "failed");
      g_string_append_printf(x, "    <failure message=\"%s\"/>\n", why);
    }
    g_string_append_printf(x, "    <system-out>%s</system-out>\n  </testcase>\n", out);
  }
  g_string_append(x, "</testsuite>\n");
  nl_write_file(file, x->str, x->len, 0644, error);
  g_string_free(x, TRUE);
}

/* A directory made now, by us, mode 0700, for what a failure leaves:
 * nothing a VM prepared in it. ASKED (--artifacts), else the lab's
 * DATA/artifacts/TIME (layout.h); a suffix .N when it exists. */
static char *make_artifacts_dir(const char *labdir, const char *asked, GError **error) {
  g_autofree char *dir = NULL;
  if (asked) {
    dir = g_strdup(asked);
  } else {
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
    dir = nl_layout_artifacts(labdir, stamp);
  }
  g_autofree char *parent = g_path_get_dirname(dir);
  if (asked ? !nl_mkdir(parent, 0755, error) : !nl_state_data_make(labdir, error)) return NULL;
  g_autofree char *base = g_strdup(dir);
  for (int n = 1; mkdir(dir, 0700) != 0; n++) {
    if (errno != EEXIST || n == 100) {
      nl_set_errno(error, errno, "cannot create '%s'", dir);
      return NULL;
    }
    g_free(dir);
    dir = g_strdup_printf("%s.%d", base, n);
  }
  return g_steal_pointer(&dir);
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *junit_file = NULL, *artifacts = NULL;
  gboolean keep = FALSE;
  int timeout = 600;
  const GOptionEntry entries[] = {
      {"keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Leave the lab up afterwards", NULL},
      {"junit", 0, 0, G_OPTION_ARG_FILENAME, &junit_file, "Also write JUnit XML", "FILE"},
      {"artifacts", 0, 0, G_OPTION_ARG_FILENAME, &artifacts,
       "Where to keep what a failure leaves (default: the lab's data directory, "
       "artifacts/TIME)",
       "DIR"},
      {"test-timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Kill a test after S seconds (600)", "S"},
      {NULL}};
  if (!nl_cmd_parse(g, "run a lab's tests", entries, &argc, &argv, &t, error)) return -1;
  if (timeout <= 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "test: --test-timeout wants seconds above 0, not %d", timeout);
    return -1;
  }
  const char *labdir = t.labdir;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab) return -1;
  g_autoptr(GPtrArray) tests = find_tests(labdir, error);
  if (!tests) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;

  /* Interrupted, `up` tears the lab down, or the running test is stopped,
   * the rest are not run, and the lab goes down as after the last test. */
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (guint i = 0; i < G_N_ELEMENTS(sigs); i++)
    g_unix_signal_add(sigs[i], on_signal, GINT_TO_POINTER(sigs[i]));

  /* A lab someone brought up by hand stays up; one we start, we stop. */
  gboolean ours = !nl_state_exists(st);
  if (ours && !up_lab(labdir, g->uri, error)) {
    if (!interrupted) return -1;
    g_clear_error(error);
    fprintf(stderr, "netlab: test interrupted by signal %d\n", interrupted);
    return 128 + interrupted;
  }

  g_autoptr(GPtrArray) caps = start_captures(lab, st);
  printf("1..%u\n", tests->len);
  fflush(stdout);
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func((GDestroyNotify)result_free);
  guint failed = 0;
  for (guint i = 0; i < tests->len && !interrupted; i++) {
    Result *r = run_test(labdir, tests->pdata[i], timeout);
    g_ptr_array_add(results, r);
    g_auto(GStrv) lines = g_strsplit(r->output, "\n", -1);
    for (char **l = lines; *l; l++)
      if (**l || l[1]) printf("# %s\n", *l);
    printf("%s %u - %s (%.1f s)%s%s\n", r->passed ? "ok" : "not ok", i + 1, r->name, r->secs,
           r->why ? ": " : "", r->why ? r->why : "");
    fflush(stdout);
    failed += !r->passed;
  }

  /* A VM that died (a panic, a QEMU crash) is worth a look even when the
   * tests did not notice. */
  g_autoptr(GPtrArray) dead = interrupted ? NULL : dead_vms(lab, st);
  g_autofree char *dir = NULL;
  g_autoptr(GString) index = g_string_new(NULL);
  g_autoptr(GPtrArray) disk_nodes = g_ptr_array_new();
  g_autoptr(GError) no_dir = NULL;
  if ((failed || (dead && dead->len)) && !interrupted &&
      !(dir = make_artifacts_dir(labdir, artifacts, &no_dir)))
    nl_say(&nl_cmd_say, NL_SAY_WARNING, "no artifacts kept: %s", no_dir->message);
  if (dir) {
    stop_captures(caps, dir);
    collect(lab, st, dir, results, index);
    /* A tmpfs node's files are gone with its VM: read them now. A disk is
     * read once its VM stopped (below). */
    g_autoptr(GPtrArray) tmpfs_nodes = g_ptr_array_new();
    for (guint i = 0; i < lab->nodes->len; i++) {
      NlNode *node = lab->nodes->pdata[i];
      g_ptr_array_add(node->disk_mib ? disk_nodes : tmpfs_nodes, node->name);
    }
    g_ptr_array_add(tmpfs_nodes, NULL);
    g_ptr_array_add(disk_nodes, NULL);
    g_autoptr(GError) pm = NULL;
    if (tmpfs_nodes->len > 1 &&
        !nl_postmortem(labdir, (char **)tmpfs_nodes->pdata, dir, index, &pm))
      g_string_append_printf(index, "(nodes without a disk: %s)\n", pm->message);
  }
  stop_captures(caps, NULL);
  g_clear_pointer(&caps, g_ptr_array_unref);
  if (junit_file) junit(junit_file, lab, results, error);

  if (ours && !keep) {
    g_autoptr(GError) down = NULL;
    if (!nl_state_lock(st, TRUE, &down) || !nl_run_down(st, &nl_cmd_say, &down))
      fprintf(stderr, "netlab: %s\n", down->message);
  }
  if (dir) {
    g_autoptr(GError) pm = NULL;
    if (disk_nodes->len > 1 && !nl_postmortem(labdir, (char **)disk_nodes->pdata, dir, index, &pm))
      g_string_append_printf(index, "(nodes with a disk: %s)\n", pm->message);
    g_autofree char *index_path = g_build_filename(dir, "INDEX", NULL);
    g_string_prepend(index, "What netlab kept after the failure, and where each came from.\n\n");
    g_autoptr(GError) e = NULL;
    if (!nl_write_file(index_path, index->str, index->len, 0644, &e))
      nl_say(&nl_cmd_say, NL_SAY_WARNING, "%s", e->message);
    for (guint i = 0; dead && i < dead->len; i++)
      printf("# VM '%s' stopped during the tests\n", (char *)dead->pdata[i]);
    printf("# %u of %u tests failed; artifacts in %s (see INDEX)\n", failed, tests->len, dir);
  }
  if (interrupted) {
    fprintf(stderr, "netlab: test interrupted by signal %d\n", interrupted);
    return 128 + interrupted;
  }
  if (error && *error) return -1;
  return failed ? 1 : 0;
}

const NlCmd nl_cmd_test = {"test", NULL, "run a lab's tests (TAP), up and down around them",
                           .target = NL_TARGET_LAB, .run = run};
