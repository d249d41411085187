/* netlab test: bring a lab up (unless it is up), run the executables in
 * LABDIR/tests/ in name order on the host, report TAP (and JUnit), keep
 * artifacts of a failure, and take the lab down again. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "cmd.h"
#include "domxml.h"
#include "exec.h"
#include "postmortem.h"
#include "results.h"
#include "runner.h"
#include "run.h"
#include "state.h"
#include "util.h"
#include "vmcore.h"

/* A test's result (results.h). */
typedef NlTestResult Result;

/* A test the runner will not run, said in TAP. */
static void tap_comment(NlSayLevel level, const char *message, gpointer data) {
  printf("# %s\n", message);
}
static const NlProgress tap_note = {tap_comment, NULL};

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
    g_autoptr(GError) e = NULL;
    if (lfd < 0)
      nl_set_errno(&e, errno, "cannot create '%s'", dst);
    else
      nl_console_log_keep(lab->dir, node->name, lfd, &e);
    if (lfd >= 0) close(lfd);
    g_string_append_printf(index, "%s/console.log: its serial console, from %s%s%s\n", node->name,
                           p.log, e ? ": " : "", e ? e->message : "");
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

/* The vmcores the run's panics left (written by status or down, see
 * vmcore.h), linked into the artifacts DIR: the same file, mode 0600. */
static void keep_vmcores(const char *labdir, gint64 since, const char *dir, GString *index) {
  g_autoptr(GPtrArray) cores = nl_vmcore_list(labdir);
  for (guint i = 0; i < cores->len; i++) {
    NlVmcore *c = cores->pdata[i];
    struct stat st;
    if (stat(c->path, &st) != 0 || st.st_mtime < since) continue;
    g_autofree char *base = g_path_get_basename(c->path);
    g_autofree char *to = g_build_filename(dir, base, NULL);
    gboolean linked = link(c->path, to) == 0;
    g_string_append_printf(index, "%s: the vmcore of %s's kernel panic%s%s\n",
                           linked ? base : c->path, c->node, linked ? ", also " : "",
                           linked ? c->path : "");
  }
}

static int interrupted(void) {
  fprintf(stderr, "netlab: test interrupted by signal %d\n", nl_testrun_interrupted());
  return 128 + nl_testrun_interrupted();
}

/* Runs TESTS in order, each said in TAP as it ends, into RESULTS, until
 * the last or a signal. Returns how many failed. */
static guint run_tests(const char *labdir, GPtrArray *tests, int timeout, GPtrArray *results) {
  printf("1..%u\n", tests->len);
  fflush(stdout);
  guint failed = 0;
  for (guint i = 0; i < tests->len && !nl_testrun_interrupted(); i++) {
    Result *r = nl_testrun_one(labdir, tests->pdata[i], timeout);
    g_ptr_array_add(results, r);
    g_auto(GStrv) lines = g_strsplit(r->output, "\n", -1);
    for (char **l = lines; *l; l++)
      if (**l || l[1]) printf("# %s\n", *l);
    printf("%s %u - %s (%.1f s)%s%s\n", r->passed ? "ok" : "not ok", i + 1, r->name, r->secs,
           r->why ? ": " : "", r->why ? r->why : "");
    fflush(stdout);
    failed += !r->passed;
  }
  return failed;
}

/* Panicked kernels first: their vmcores are written, and their VMs
 * stopped, by a status (in a child: the embedded libvirt driver stays with
 * the process that opens it), so the post-mortem does not wait on a
 * paused VM's agent. */
static void stop_panicked(const char *labdir) {
  g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
  const char *sv[] = {self ? self : "netlab", "status", labdir, NULL};
  g_spawn_sync(NULL, (char **)sv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL,
               NULL);
}

/* What a failure leaves in DIR while the lab is up: the captures, the
 * tests' output, the consoles, the files of the nodes without a disk (gone
 * with their VM). The nodes with a disk go in DISK_NODES (NULL-ended),
 * read once their VM stopped. */
static void keep_while_up(const char *labdir, const NlLab *lab, const NlState *st, const char *dir,
                          GPtrArray *caps, GPtrArray *results, GPtrArray *disk_nodes,
                          GString *index) {
  stop_captures(caps, dir);
  collect(lab, st, dir, results, index);
  g_autoptr(GPtrArray) tmpfs_nodes = g_ptr_array_new();
  for (guint i = 0; i < lab->nodes->len; i++) {
    NlNode *node = lab->nodes->pdata[i];
    g_ptr_array_add(node->disk_mib ? disk_nodes : tmpfs_nodes, node->name);
  }
  g_ptr_array_add(tmpfs_nodes, NULL);
  g_ptr_array_add(disk_nodes, NULL);
  g_autoptr(GError) pm = NULL;
  if (tmpfs_nodes->len > 1 && !nl_postmortem(labdir, (char **)tmpfs_nodes->pdata, dir, index, &pm))
    g_string_append_printf(index, "(nodes without a disk: %s)\n", pm->message);
}

/* What a failure leaves in DIR once the lab's VMs stopped: the nodes'
 * disks, the vmcores of the run (newer than STARTED), and the INDEX. */
static void keep_after_down(const char *labdir, const char *dir, GPtrArray *disk_nodes,
                            gint64 started, GString *index) {
  g_autoptr(GError) pm = NULL;
  if (disk_nodes->len > 1 && !nl_postmortem(labdir, (char **)disk_nodes->pdata, dir, index, &pm))
    g_string_append_printf(index, "(nodes with a disk: %s)\n", pm->message);
  keep_vmcores(labdir, started, dir, index);
  g_autofree char *index_path = g_build_filename(dir, "INDEX", NULL);
  g_string_prepend(index, "What netlab kept after the failure, and where each came from.\n\n");
  g_autoptr(GError) e = NULL;
  if (!nl_write_file(index_path, index->str, index->len, 0644, &e))
    nl_say(&nl_cmd_say, NL_SAY_WARNING, "%s", e->message);
}

/* The lab we brought up goes down; a failure is said, not returned. */
static void take_down(NlState *st) {
  g_autoptr(GError) down = NULL;
  if (!nl_state_lock(st, TRUE, &down) || !nl_run_down(st, &nl_cmd_say, &down))
    fprintf(stderr, "netlab: %s\n", down->message);
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *junit_file = NULL, *artifacts = NULL;
  gboolean keep = FALSE, vmcore = FALSE;
  int timeout = 600;
  /* vmcores newer than this are the run's. */
  gint64 started = g_get_real_time() / G_USEC_PER_SEC;
  const GOptionEntry entries[] = {
      {"keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Leave the lab up afterwards", NULL},
      {"junit", 0, 0, G_OPTION_ARG_FILENAME, &junit_file, "Also write JUnit XML", "FILE"},
      {"artifacts", 0, 0, G_OPTION_ARG_FILENAME, &artifacts,
       "Where to keep what a failure leaves (default: the lab's data directory, "
       "artifacts/TIME)",
       "DIR"},
      {"test-timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Kill a test after S seconds (600)", "S"},
      {"vmcore-on-panic", 0, 0, G_OPTION_ARG_NONE, &vmcore,
       "Bring the lab up with `up --vmcore-on-panic`: a failure keeps the vmcores of panics", NULL},
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
  g_autoptr(GPtrArray) tests = nl_testrun_find(labdir, &tap_note, error);
  if (!tests) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;

  /* Interrupted, `up` tears the lab down, or the running test is stopped,
   * the rest are not run, and the lab goes down as after the last test. */
  nl_testrun_catch_signals();

  /* A lab someone brought up by hand stays up; one we start, we stop. */
  gboolean ours = !nl_state_exists(st);
  if (ours && !nl_testrun_up(labdir, g->uri, vmcore, error)) {
    if (!nl_testrun_interrupted()) return -1;
    g_clear_error(error);
    return interrupted();
  }

  g_autoptr(GPtrArray) caps = start_captures(lab, st);
  g_autoptr(GPtrArray) results =
      g_ptr_array_new_with_free_func((GDestroyNotify)nl_test_result_free);
  guint failed = run_tests(labdir, tests, timeout, results);

  /* A VM that died (a panic, a QEMU crash) is worth a look even when the
   * tests did not notice. */
  g_autoptr(GPtrArray) dead = nl_testrun_interrupted() ? NULL : dead_vms(lab, st);
  g_autofree char *dir = NULL;
  g_autoptr(GString) index = g_string_new(NULL);
  g_autoptr(GPtrArray) disk_nodes = g_ptr_array_new();
  g_autoptr(GError) no_dir = NULL;
  if ((failed || (dead && dead->len)) && !nl_testrun_interrupted() &&
      !(dir = make_artifacts_dir(labdir, artifacts, &no_dir)))
    nl_say(&nl_cmd_say, NL_SAY_WARNING, "no artifacts kept: %s", no_dir->message);
  if (dir && vmcore && ours) stop_panicked(labdir);
  if (dir) keep_while_up(labdir, lab, st, dir, caps, results, disk_nodes, index);
  stop_captures(caps, NULL);
  g_clear_pointer(&caps, g_ptr_array_unref);
  if (junit_file) nl_junit_write(junit_file, lab->name ? lab->name : lab->dir, results, error);

  if (ours && !keep) take_down(st);
  if (dir) {
    keep_after_down(labdir, dir, disk_nodes, started, index);
    for (guint i = 0; dead && i < dead->len; i++)
      printf("# VM '%s' stopped during the tests\n", (char *)dead->pdata[i]);
    printf("# %u of %u tests failed; artifacts in %s (see INDEX)\n", failed, tests->len, dir);
  }
  if (nl_testrun_interrupted()) return interrupted();
  if (error && *error) return -1;
  return failed ? 1 : 0;
}

const NlCmd nl_cmd_test = {"test", NULL, "run a lab's tests (TAP), up and down around them",
                           .target = NL_TARGET_LAB, .run = run};
