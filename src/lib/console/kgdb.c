#include "kgdb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "kernel.h"
#include "rsp.h"
#include "util.h"

static const char *const needed[] = {"CONFIG_KGDB", "CONFIG_KGDB_SERIAL_CONSOLE", NULL};

#define KGDBOC "/sys/module/kgdboc/parameters/kgdboc"

/* How long the kernel may take to stop once sysrq g is sent, and to answer
 * when it is stopped already: TCG on a loaded machine is slow. */
#define BREAK_IN_MS 60000
#define STOPPED_MS 10000
/* What an earlier session left on the line comes within this. */
#define DRAIN_MS 300
/* A line with no packet in this much is noise, dropped. */
#define NOISE_MAX (64 * 1024)

/* The configuration of the kernel K runs: its build tree's .config, beside
 * its symbols or its image, or the distro's /boot/config-VERSION. */
static char *config_of(const NlKernelSyms *k) {
  const char *near[] = {k->vmlinux, k->kernel};
  for (guint i = 0; i < G_N_ELEMENTS(near); i++) {
    if (!near[i]) continue;
    g_autofree char *dir = g_path_get_dirname(near[i]);
    g_autofree char *config = g_build_filename(dir, ".config", NULL);
    if (g_file_test(config, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&config);
  }
  g_autofree char *distro = k->version ? g_strconcat("/boot/config-", k->version, NULL) : NULL;
  return distro && g_file_test(distro, G_FILE_TEST_IS_REGULAR) ? g_steal_pointer(&distro) : NULL;
}

#define BUILD_HINT                                                                           \
  "boot a kernel built with `netlab kernel build --config net --config debug` (`%s[kernel]=" \
  "\"<release>-net-debug\"` in lab.conf), which has them"

gboolean nl_kgdb_check_kernel(const NlKernelSyms *k, const char *node, GError **error) {
  const char *what = k->version ? k->version : k->kernel ? k->kernel : "?";
  g_autofree char *config = config_of(k);
  g_autofree char *text = NULL;
  if (!config || !g_file_get_contents(config, &text, NULL, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' runs on another host, where gdb reaches its kernel only through KGDB, and "
                "kernel %s has no configuration to tell whether it has KGDB (no .config beside "
                "it, no /boot/config-%s): " BUILD_HINT,
                node, what, k->version ? k->version : "<release>", node);
    return FALSE;
  }
  g_autofree char *lacks = nl_kernel_config_lacks(text, needed);
  if (lacks) {
    g_set_error(
        error, NL_ERROR, NL_ERROR_FAILED,
        "'%s' runs on another host, where gdb reaches its kernel only through KGDB "
        "(libvirt has no stream to QEMU's GDB stub), and kernel %s lacks %s (%s): " BUILD_HINT,
        node, what, lacks, config, node);
    return FALSE;
  }
  return TRUE;
}

/* Text from the guest, which is not trusted, fit for a message. */
static char *printable(const char *s) {
  char *out = g_strndup(g_strstrip((char *)s), 64);
  for (char *c = out; *c; c++)
    if (!g_ascii_isprint(*c)) *c = '?';
  return out;
}

/* A script run by the agent; returns its first line, printable. */
static char *guest_sh(const NlVm *vm, const char *script, GError **error) {
  char *argv[] = {"sh", "-c", (char *)script, NULL};
  g_autofree char *out = nl_exec_output(vm->st->dir, vm->node, argv, error);
  if (!out) return NULL;
  out[strcspn(out, "\n")] = '\0';
  return printable(out);
}

/* ---- gdb's remote protocol, as much as telling a stopped KGDB needs ----- */

/* Reads FD into LINE until it holds a whole packet ("$payload#xx"), until
 * DEADLINE (monotonic, us). Returns the payload, or NULL. */
static char *read_packet(int fd, GString *line, gint64 deadline) {
  for (;;) {
    char *payload = nl_rsp_take(line);
    if (payload) return payload;
    if (line->len > NOISE_MAX) g_string_truncate(line, 0);
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || (poll(&p, 1, left) < 0 && errno != EINTR)) return NULL;
    if (!(p.revents & (POLLIN | POLLHUP))) continue;
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return NULL;
    g_string_append_len(line, chunk, n);
  }
}

/* Reads and drops what FD has until it is quiet for DRAIN_MS. */
static void drain(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  char chunk[512];
  while (poll(&p, 1, DRAIN_MS) > 0 && read(fd, chunk, sizeof chunk) > 0) {
  }
}

/* "?": why did the target stop. */
#define ASK_WHY "$?#3f"

/* Whether VM's kernel answers on its serial1 socket as a stopped KGDB does,
 * within TIMEOUT_MS: its reply to '?' is "S" and the signal. BEFORE, when
 * given, runs once the line is clean and before the question goes out. Each
 * packet is acknowledged ('+'), as KGDB resends it until it is. */
static gboolean kgdb_answers(const NlVm *vm, guint timeout_ms, void (*before)(gpointer),
                             gpointer data, GError **error) {
  int fd = nl_unix_connect(vm->paths.serial1, error);
  if (fd < 0) return FALSE;
  drain(fd);
  if (before) before(data);
  g_autoptr(GString) line = g_string_new(NULL);
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  gboolean stopped = FALSE;
  gboolean asked = nl_write_all(fd, ASK_WHY, strlen(ASK_WHY));
  while (asked && !stopped) {
    g_autofree char *payload = read_packet(fd, line, deadline);
    if (!payload || !nl_write_all(fd, "+", 1)) break;
    stopped = payload[0] == 'S';
    /* A KGDB that a gdb had been connected to reports the stop first ("T05
     * thread..."), and took our '$' for gdb reconnecting: ask again. */
    if (!stopped) asked = nl_write_all(fd, ASK_WHY, strlen(ASK_WHY));
  }
  close(fd);
  if (!stopped)
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "the kernel of '%s' did not answer as KGDB on ttyS1 in %u s", vm->node,
                timeout_ms / 1000);
  return stopped;
}

/* ---- breaking in ---------------------------------------------------------- */

/* The write to /proc/sysrq-trigger returns only once the kernel runs again:
 * its exec runs in a thread of its own that nobody waits for, and ends when
 * the kernel resumes or when its session gives up on a silent agent. */
typedef struct {
  NlExec x;
  char *statedir, *vm;
} Trigger;

static gpointer sysrq_g(gpointer data) {
  Trigger *t = data;
  nl_exec_run(&t->x, NULL);
  close(t->x.out_fd);
  g_free(t->statedir);
  g_free(t->vm);
  g_free(t);
  return NULL;
}

static void break_in(gpointer data) {
  const NlVm *vm = data;
  static char *argv[] = {"sh", "-c", "echo g >/proc/sysrq-trigger", NULL};
  Trigger *t = g_new0(Trigger, 1);
  t->statedir = g_strdup(vm->st->dir);
  t->vm = g_strdup(vm->node);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  t->x = (NlExec){.statedir = t->statedir,
                  .vm = t->vm,
                  .argv = argv,
                  .in_fd = -1,
                  .out_fd = null,
                  .err_fd = null};
  g_thread_unref(g_thread_new("sysrq-g", sysrq_g, t));
}

/* kgdboc on ttyS1, unless a program has the port open: gdbserver, most
 * likely, which KGDB would fight for every byte. */
static const char set_script[] =
    "p=" KGDBOC
    "\n"
    "[ -w $p ] || { echo none; exit 0; }\n"
    "f=$(find /proc/[0-9]*/fd -maxdepth 1 -lname /dev/ttyS1 2>/dev/null | head -n 1)\n"
    "if [ -n \"$f\" ]; then pid=${f#/proc/}; pid=${pid%%/*}\n"
    "  echo \"busy $pid $(cat /proc/$pid/comm 2>/dev/null)\"; exit 0; fi\n"
    "echo ttyS1 >$p && echo set\n";

static const char release_script[] = "p=" KGDBOC
                                     "\n"
                                     "[ -w $p ] && [ -n \"$(cat $p)\" ] || exit 0\n"
                                     "echo >$p && echo released\n";

/* Stops VM's kernel in KGDB. */
static gboolean stop_kernel(const NlVm *vm, const NlProgress *say, GError **error) {
  g_autoptr(GError) agent = NULL;
  g_autofree char *set = guest_sh(vm, set_script, &agent);
  if (!set) {
    /* A kernel an earlier gdb left stopped runs no agent, but answers. */
    if (g_error_matches(agent, NL_ERROR, NL_ERROR_EXEC) &&
        kgdb_answers(vm, STOPPED_MS, NULL, NULL, NULL)) {
      nl_say(say, NL_SAY_NOTICE,
             "%s: its kernel is stopped in KGDB already (an earlier gdb left it so)", vm->node);
      return TRUE;
    }
    g_propagate_prefixed_error(error, g_steal_pointer(&agent),
                               "cannot set KGDB on ttyS1 of '%s': ", vm->node);
    return FALSE;
  }
  if (g_str_has_prefix(set, "busy ")) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "ttyS1 of '%s' is open by process %s in the VM (gdbserver of `netlab gdb "
                "--serial`?): KGDB needs the port; end it first (`monitor exit` in its gdb, "
                "or `netlab exec %s kill PID`)",
                vm->node, set + 5, vm->node);
    return FALSE;
  }
  if (!g_str_equal(set, "set")) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "the kernel of '%s' has no kgdboc (%s is missing or read-only)", vm->node, KGDBOC);
    return FALSE;
  }
  nl_say(say, NL_SAY_PROGRESS, "%s: kgdboc on ttyS1, breaking in (sysrq g)", vm->node);
  return kgdb_answers(vm, BREAK_IN_MS, break_in, (gpointer)vm, error);
}

/* ---- gdb ------------------------------------------------------------------ */

/* gdb gets the terminal's signals as a child does; it is its Ctrl-C. */
static void child_signals(gpointer data) {
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
}

static int run_gdb(char **gdb, GError **error) {
  struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  int status = 0;
  fflush(NULL);
  gboolean ran = g_spawn_sync(NULL, gdb, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN,
                              child_signals, NULL, NULL, NULL, &status, error);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  if (!ran) {
    g_prefix_error(error, "cannot run gdb: ");
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int nl_kgdb_session(const NlVm *vm, char **gdb, const NlProgress *say, GError **error) {
  if (!stop_kernel(vm, say, error)) return -1;
  int rc = run_gdb(gdb, error);
  if (rc < 0) return -1;
  /* gdb's detach, kill or quit resumes the kernel; only a running kernel
   * answers the agent. */
  g_autoptr(GError) e = NULL;
  g_autofree char *released = guest_sh(vm, release_script, &e);
  if (!released)
    nl_say(say, NL_SAY_WARNING,
           "%s: its kernel did not answer after gdb (%s): if gdb left it stopped, `netlab gdb %s "
           "-- -batch -ex detach` resumes it",
           vm->node, e->message, vm->node);
  return rc;
}

gboolean nl_kgdb_release(const NlVm *vm, const NlProgress *say, GError **error) {
  g_autoptr(GError) e = NULL;
  g_autofree char *released = guest_sh(vm, release_script, &e);
  if (!released) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot tell whether KGDB holds ttyS1 of '%s' (%s): if `netlab gdb %s` left its "
                "kernel stopped, `netlab gdb %s -- -batch -ex detach` resumes it",
                vm->node, e->message, vm->node, vm->node);
    return FALSE;
  }
  if (*released) nl_say(say, NL_SAY_NOTICE, "%s: ttyS1 freed from KGDB for gdbserver", vm->node);
  return TRUE;
}
