/* netlab-svc: `systemctl` and `service` in a node, which has no systemd.
 * templates/init links /usr/bin/systemctl and /usr/sbin/service to this file,
 * so the startup scripts of Kathará's labs (`systemctl start frr`) work as
 * they are written.
 *
 * There is no service manager running: each `systemctl start` forks a small
 * monitor for the unit, which becomes a child subreaper (every process the
 * service forks and orphans is re-parented to it, as systemd's cgroup keeps
 * them together), runs the unit's commands with their output in the unit's
 * log, tells the waiting `systemctl` when the service is up (Type=simple at
 * once, forking when ExecStart has exited and PIDFile names a live process,
 * notify on READY=1), then reaps until the main process exits or `stop`
 * sends it SIGTERM. The monitor records the unit's state in a file that
 * `status` and `is-active` read, so they tell what happened, even to a
 * daemon that died at once. docker-systemctl-replacement keeps no process
 * per service and polls pids; a monitor gets exit codes and a service's
 * whole process tree, for the price of one small process.
 *
 * Plain C and libc only: it runs under software emulation, where every
 * library costs time to load. */
#include "svc.h"

/* ---- The commands ---- */

static int quiet;

static int unit_or_complain(Unit *u, const char *arg, const char *verb) {
  int found = unit_load(u, arg);
  if (found > 0) return 0;
  if (found < 0) {
    fprintf(stderr, "Failed to %s %s: Unit %s is masked.\n", verb, u->name, u->name);
    return 1;
  }
  fprintf(stderr, "Failed to %s %s: Unit %s not found.\n", verb, u->name, u->name);
  return EXIT_NO_UNIT;
}

static int is_running(const State *s) {
  return strcmp(s->active, "active") == 0 || strcmp(s->active, "activating") == 0 ||
         strcmp(s->active, "reloading") == 0;
}

/* systemd skips a unit whose condition fails, and `start` succeeds. */
static const char *failed_condition(const Unit *u) {
  for (int i = 0; i < u->conditions.n; i++) {
    const char *c = u->conditions.v[i];
    int negate = c[0] == '!';
    if ((access(c + negate, F_OK) == 0) == negate) return c;
  }
  return NULL;
}

/* Daemons log to syslog (BIND says why its configuration fails nowhere
 * else) and a node runs no syslog daemon: the first service to start
 * brings up busybox's, logging into a 512 KiB ring in memory (a daemon's
 * debug logging cannot fill the node's memory), which `busybox logread`
 * prints and status searches for a unit's own lines. Without busybox (an
 * image may lack it) daemons log nowhere, as before. */
#define BUSYBOX "/bin/busybox"

static void ensure_syslog(void) {
  struct stat st;
  if (stat("/dev/log", &st) == 0 || access(BUSYBOX, X_OK) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
    execl(BUSYBOX, "busybox", "syslogd", "-C512", (char *)NULL);
    _exit(127);
  }
  if (pid < 0) return;
  waitpid(pid, NULL, 0);
  /* It daemonizes before it binds /dev/log: a service's first lines
   * would be lost without this wait. */
  for (int i = 0; i < 100 && stat("/dev/log", &st) != 0; i++) usleep(10000);
}

/* The last LINES (at most 64) lines syslog has from process PID
 * ("name[PID]: ..."). */
static void print_syslog_of(pid_t pid, int lines, FILE *to, const char *indent) {
  struct stat st;
  if (pid <= 0 || lines <= 0 || stat("/dev/log", &st) != 0) return;
  FILE *f = popen(BUSYBOX " logread 2>/dev/null", "r");
  if (!f) return;
  char tag[32];
  snprintf(tag, sizeof tag, "[%d]: ", (int)pid);
  char *found[64] = {0};
  int n = 0;
  char line[1024];
  while (fgets(line, sizeof line, f))
    if (strstr(line, tag)) {
      free(found[n % 64]);
      found[n++ % 64] = xprintf("%s", line);
    }
  pclose(f);
  int from = n - (lines < 64 ? lines : 64);
  for (int i = from > 0 ? from : 0; i < n; i++) fprintf(to, "%s%s", indent, found[i % 64]);
  for (int i = 0; i < 64; i++) free(found[i]);
}

static int do_start(Unit *u) {
  State s;
  state_now(u, &s);
  if (is_running(&s)) return 0;
  const char *cond = failed_condition(u);
  if (cond) {
    char *dir = xprintf(STATE_DIR "/%s", u->name);
    mkdir(STATE_DIR, 0755);
    mkdir(dir, 0755);
    free(dir);
    snprintf(s.active, sizeof s.active, "inactive");
    snprintf(s.sub, sizeof s.sub, "dead");
    snprintf(s.result, sizeof s.result, "skipped: ConditionPathExists=%.80s was not met", cond);
    s.since = now_s();
    s.monitor = s.main = 0;
    state_write(u, &s);
    return 0;
  }
  char *dir = xprintf(STATE_DIR "/%s", u->name);
  mkdir(STATE_DIR, 0755);
  mkdir(dir, 0755);
  free(dir);
  ensure_syslog();
  char *log = state_path(u, "log");
  int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  free(log);
  int p[2];
  if (logfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
    fprintf(stderr, "Failed to start %s: %s\n", u->name, strerror(errno));
    return 1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "Failed to start %s: %s\n", u->name, strerror(errno));
    return 1;
  }
  if (pid == 0) {
    close(p[0]);
    /* Keep LOGFD and the pipe across the monitor's own execs: none. */
    monitor(u, p[1], logfd);
  }
  close(p[1]);
  close(logfd);
  char buf[512];
  ssize_t n, len = 0;
  while (len < (ssize_t)sizeof buf - 1 && (n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += n;
  buf[len] = '\0';
  close(p[0]);
  /* The monitor outlives this process; it is reaped by whoever inherits it. */
  if (strncmp(buf, "ok", 2) == 0) return 0;
  const char *why = len > 5 ? buf + 5 : "the service manager died";
  buf[strcspn(buf, "\n")] = '\0';
  fprintf(stderr, "Job for %s failed because %s.\nSee \"systemctl status %s\" for details.\n",
          u->name, why, u->name);
  /* There is no journal to look in: the service's own last words, here. */
  State after;
  state_read(u, &after);
  print_syslog_of(after.main, 10, stderr, "  ");
  return 1;
}

static int wait_gone(pid_t pid, int timeout_s) {
  int fd = pidfd_open_(pid);
  if (fd < 0) return 0;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int rc = poll(&pfd, 1, timeout_s * 1000);
  close(fd);
  return rc > 0 ? 0 : -1;
}

/* Runs LINES from this process, with the output in the unit's log. */
static int run_here(Unit *u, const Strv *lines, pid_t main) {
  char *log = state_path(u, "log");
  char *dir = xprintf(STATE_DIR "/%s", u->name);
  mkdir(STATE_DIR, 0755);
  mkdir(dir, 0755);
  int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  free(log);
  free(dir);
  int rc = 0;
  for (int i = 0; i < lines->n && rc == 0; i++) {
    int ignore = 0, status = 0;
    pid_t pid = spawn(u, lines->v[i], NULL, main, logfd < 0 ? 2 : logfd, &ignore);
    if (pid > 0 && waitpid(pid, &status, 0) == pid && status != 0 && !ignore) rc = 1;
    if (pid < 0) rc = 1;
  }
  if (logfd >= 0) close(logfd);
  return rc;
}

static int do_stop(Unit *u) {
  State s;
  state_now(u, &s);
  if (s.monitor > 0 && pid_alive(s.monitor)) {
    kill(s.monitor, SIGTERM);
    if (wait_gone(s.monitor, u->timeout_stop * 2 + 10) < 0) {
      fprintf(stderr, "Failed to stop %s: its processes did not exit\n", u->name);
      return 1;
    }
    return 0;
  }
  if (strcmp(s.active, "active") == 0 && strcmp(s.sub, "exited") == 0) {
    /* RemainAfterExit, nothing left running: only ExecStop to run. */
    int rc = run_here(u, &u->stop, 0);
    snprintf(s.active, sizeof s.active, "inactive");
    snprintf(s.sub, sizeof s.sub, "dead");
    s.since = now_s();
    state_write(u, &s);
    return rc;
  }
  if (strcmp(s.result, "started outside systemctl") == 0) {
    /* Started by its init.d script: stop it the unit's way all the same. */
    run_here(u, &u->stop, s.main);
    if (pid_alive(s.main)) kill(s.main, SIGTERM);
    wait_gone(s.main, u->timeout_stop);
  }
  return 0;
}

static int do_reload(Unit *u) {
  State s;
  state_now(u, &s);
  if (u->reload.n == 0) {
    fprintf(stderr, "Failed to reload %s: Job type reload is not applicable for unit %s.\n",
            u->name, u->name);
    return 1;
  }
  if (!is_running(&s)) {
    fprintf(stderr, "%s is not active, cannot reload.\n", u->name);
    return 1;
  }
  if (run_here(u, &u->reload, s.main) != 0) {
    fprintf(stderr,
            "Job for %s failed because the control process exited with error code.\n"
            "See \"systemctl status %s\" for details.\n",
            u->name, u->name);
    return 1;
  }
  return 0;
}

static char *enabled_path(const Unit *u) { return xprintf(ENABLED_DIR "/%s", u->name); }

static int is_enabled(const Unit *u) {
  char *path = enabled_path(u);
  int on = access(path, F_OK) == 0;
  free(path);
  if (on) return 1;
  /* What the package's `enable` recorded on the host. */
  for (const char *const *t =
           (const char *const[]){"multi-user.target.wants", "network.target.wants",
                                 "default.target.wants", NULL};
       *t; t++) {
    char *link = xprintf("/etc/systemd/system/%s/%s", *t, u->name);
    on = access(link, F_OK) == 0;
    free(link);
    if (on) return 1;
  }
  return 0;
}

static void format_time(long long t, char *out, size_t len) {
  time_t tt = t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  char when[64];
  strftime(when, sizeof when, "%a %Y-%m-%d %H:%M:%S UTC", &tm);
  long long ago = now_s() - t;
  if (ago < 60)
    snprintf(out, len, "%s; %llds ago", when, ago);
  else if (ago < 3600)
    snprintf(out, len, "%s; %lldmin %llds ago", when, ago / 60, ago % 60);
  else
    snprintf(out, len, "%s; %lldh %lldmin ago", when, ago / 3600, ago / 60 % 60);
}

static void print_proc(pid_t pid, const char *indent) {
  char path[64], cmd[201];
  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return;
  cmd[n] = '\0';
  for (ssize_t i = 0; i + 1 < n; i++)
    if (!cmd[i]) cmd[i] = ' ';
  printf("%s%d %s\n", indent, pid, cmd);
}

static void print_log_tail(const Unit *u, int lines) {
  char *path = state_path(u, "log");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  if (fd < 0) return;
  off_t size = lseek(fd, 0, SEEK_END);
  off_t from = size > 16384 ? size - 16384 : 0;
  char buf[16385];
  ssize_t n = pread(fd, buf, sizeof buf - 1, from);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  if (buf[n - 1] == '\n') buf[--n] = '\0';
  char *start = buf + n;
  int count = 0;
  while (start > buf && count < lines)
    if (*--start == '\n') count++;
  if (*start == '\n') start++;
  printf("\n%s\n", start);
}

static int do_status(Unit *u, int lines) {
  State s;
  state_now(u, &s);
  int enabled = is_enabled(u);
  const char *dot = is_running(&s) ? "●" : strcmp(s.active, "failed") == 0 ? "×" : "○";
  printf("%s %s - %s\n", dot, u->name, u->description ? u->description : u->name);
  printf("     Loaded: loaded (%s; %s)\n", u->path,
         u->sysv   ? "generated"
         : enabled ? "enabled"
                   : "disabled");
  char when[128] = "";
  if (s.since) format_time(s.since, when, sizeof when);
  pid_t one;
  /* An init.d script's daemons: running, as systemd shows them. */
  const char *sub = strcmp(s.sub, "exited") == 0 && s.monitor > 0 && pid_alive(s.monitor) &&
                            descendants(s.monitor, &one, 1) > 0
                        ? "running"
                        : s.sub;
  printf("     Active: %s (%s)%s%s\n", s.active, sub, s.since ? " since " : "", when);
  if (s.result[0] && strcmp(s.active, "active") != 0)
    printf("     Result: %s\n", s.result);
  else if (strcmp(s.result, "started outside systemctl") == 0)
    printf("       Note: started outside systemctl (its PIDFile names a live process)\n");
  if (s.main > 0 && pid_alive(s.main)) {
    char path[64], *comm;
    snprintf(path, sizeof path, "/proc/%d/comm", s.main);
    comm = read_text(path, 64);
    if (comm) comm[strcspn(comm, "\n")] = '\0';
    printf("   Main PID: %d (%s)\n", s.main, comm ? comm : "?");
    free(comm);
  }
  if (s.status[0]) printf("     Status: \"%s\"\n", s.status);
  if (s.monitor > 0 && pid_alive(s.monitor)) {
    pid_t pids[64];
    int n = descendants(s.monitor, pids, 64);
    printf("      Tasks: %d\n    Monitor: %d (netlab-svc, as systemd's cgroup)\n", n, s.monitor);
    for (int i = 0; i < n; i++) print_proc(pids[i], "             ├─");
  }
  char *notes = state_path(u, "notes");
  char *text = read_text(notes, 8192);
  free(notes);
  if (text && *text) printf("      Notes:\n%s", text);
  free(text);
  if (lines > 0) print_log_tail(u, lines);
  print_syslog_of(s.main, lines, stdout, "");
  return is_running(&s) ? 0 : EXIT_NOT_RUNNING;
}

static int usage(FILE *to) {
  fputs(
      "usage: systemctl [OPTIONS] COMMAND UNIT...\n"
      "netlab's systemctl manages services in a node without systemd:\n"
      "  start stop restart try-restart reload reload-or-restart status\n"
      "  is-active is-failed is-enabled enable disable cat daemon-reload\n",
      to);
  return to == stderr ? 1 : 0;
}

static int unit_cmd(const char *verb, const char *arg, int lines, int now) {
  Unit u;
  int rc;
  if (strcmp(verb, "status") == 0) {
    int found = unit_load(&u, arg);
    if (found <= 0) {
      fprintf(stderr, found < 0 ? "Unit %s is masked.\n" : "Unit %s could not be found.\n", u.name);
      return EXIT_NO_UNIT_STATUS;
    }
    return do_status(&u, lines);
  }
  if (strcmp(verb, "is-active") == 0 || strcmp(verb, "is-failed") == 0) {
    State s;
    if (unit_load(&u, arg) > 0) {
      state_now(&u, &s);
    } else {
      memset(&s, 0, sizeof s);
      snprintf(s.active, sizeof s.active, "inactive");
    }
    if (!quiet) printf("%s\n", s.active);
    if (strcmp(verb, "is-failed") == 0) return strcmp(s.active, "failed") == 0 ? 0 : 1;
    return strcmp(s.active, "active") == 0 ? 0 : EXIT_NOT_RUNNING;
  }
  if (strcmp(verb, "is-enabled") == 0) {
    if ((rc = unit_or_complain(&u, arg, "get unit file state for")) != 0) return 1;
    int on = is_enabled(&u);
    if (!quiet) printf("%s\n", on ? "enabled" : "disabled");
    return on ? 0 : 1;
  }
  if ((rc = unit_or_complain(&u, arg, verb)) != 0) return rc;
  if (strcmp(verb, "start") == 0) return do_start(&u);
  if (strcmp(verb, "stop") == 0) return do_stop(&u);
  if (strcmp(verb, "restart") == 0 || strcmp(verb, "try-restart") == 0) {
    State s;
    state_now(&u, &s);
    if (strcmp(verb, "try-restart") == 0 && !is_running(&s)) return 0;
    return do_stop(&u) || do_start(&u);
  }
  if (strcmp(verb, "reload") == 0) return do_reload(&u);
  if (strcmp(verb, "reload-or-restart") == 0) {
    State s;
    state_now(&u, &s);
    if (u.reload.n && is_running(&s)) return do_reload(&u);
    return do_stop(&u) || do_start(&u);
  }
  if (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0) {
    /* Recorded for is-enabled; a node boots only once, so it changes
     * nothing else. */
    mkdir(STATE_DIR, 0755);
    mkdir(ENABLED_DIR, 0755);
    char *path = enabled_path(&u);
    if (verb[0] == 'e') {
      int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) close(fd);
    } else {
      unlink(path);
    }
    free(path);
    if (now) return verb[0] == 'e' ? do_start(&u) : do_stop(&u);
    return 0;
  }
  if (strcmp(verb, "cat") == 0) {
    char *text = read_text(u.path, 1 << 20);
    printf("# %s\n%s", u.path, text ? text : "");
    free(text);
    return 0;
  }
  return 1;
}

static const char *const unit_verbs[] = {
    "start",  "stop",      "restart",   "try-restart", "reload", "reload-or-restart",
    "status", "is-active", "is-failed", "is-enabled",  "enable", "disable",
    "cat",    NULL,
};

static int systemctl(int argc, char **argv) {
  int lines = STATUS_LINES, now = 0;
  const char *verb = NULL;
  Strv units = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
      quiet = 1;
    else if (strcmp(a, "--now") == 0)
      now = 1;
    else if (strcmp(a, "-n") == 0 && i + 1 < argc)
      lines = atoi(argv[++i]);
    else if (strncmp(a, "--lines=", 8) == 0)
      lines = atoi(a + 8);
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
      return usage(stdout);
    else if (strcmp(a, "--user") == 0) {
      fputs("systemctl: --user is not supported by netlab's systemctl\n", stderr);
      return 1;
    } else if (a[0] == '-') {
      /* --no-pager, --no-block, -l, --full, --system...: nothing to do. */
    } else if (!verb)
      verb = a;
    else
      strv_add(&units, xstrdup(a));
  }
  if (!verb) return usage(stderr);
  if (strcmp(verb, "daemon-reload") == 0 || strcmp(verb, "daemon-reexec") == 0) return 0;
  int known = 0;
  for (int i = 0; unit_verbs[i]; i++) known |= strcmp(unit_verbs[i], verb) == 0;
  if (!known) {
    fprintf(stderr,
            "systemctl: '%s' is not supported by netlab's systemctl (a node has no systemd)\n",
            verb);
    return 1;
  }
  if (units.n == 0) {
    fprintf(stderr, "Too few arguments.\n");
    return 1;
  }
  int rc = 0;
  for (int i = 0; i < units.n; i++) {
    if (i && strcmp(verb, "status") == 0) printf("\n");
    int r = unit_cmd(verb, units.v[i], lines, now);
    if (r > rc) rc = r;
  }
  strv_clear(&units);
  return rc;
}

/* service NAME ACTION: a unit's actions through the unit, anything else by
 * the init.d script, as Debian's service does when systemd runs. */
static int service(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--status-all") == 0)) {
    fputs("service: --status-all is not supported by netlab's service\n", stderr);
    return 1;
  }
  if (argc < 3) {
    fputs(
        "Usage: service < option > | --status-all | [ service_name [ command | --full-restart ] ]\n",
        stderr);
    return 1;
  }
  const char *name = argv[1], *action = argv[2];
  if (strcmp(action, "--full-restart") == 0) action = "restart";
  if (strcmp(action, "force-reload") == 0) action = "reload-or-restart";
  static const char *const mapped[] = {
      "start", "stop", "restart", "try-restart", "reload", "reload-or-restart", "status", NULL};
  int via_unit = 0;
  for (int i = 0; mapped[i]; i++) via_unit |= strcmp(mapped[i], action) == 0;
  Unit u;
  if (via_unit && unit_load(&u, name) > 0) return unit_cmd(action, name, STATUS_LINES, 0);
  char *script = xprintf("/etc/init.d/%s", name);
  if (access(script, X_OK) != 0) {
    fprintf(stderr, "%s: unrecognized service\n", name);
    return 1;
  }
  char *envp[] = {(char *)PATH_ENV, (char *)"LANG=C.UTF-8", (char *)"TERM=dumb", NULL};
  argv[1] = script;
  execve(script, argv + 1, envp);
  fprintf(stderr, "service: cannot run %s: %s\n", script, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  /* `netlab-svc systemctl ...` too, for tests on the host. */
  if (strcmp(self, "netlab-svc") == 0 && argc > 1) {
    argv++;
    argc--;
    self = argv[0];
  }
  if (strcmp(self, "service") == 0) return service(argc, argv);
  if (strcmp(self, "systemctl") == 0) return systemctl(argc, argv);
  fprintf(stderr, "netlab-svc: run as systemctl or service, not as '%s'\n", self);
  return 1;
}
