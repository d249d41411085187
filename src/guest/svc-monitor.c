/* netlab-svc's supervision: the monitor a `systemctl start` forks for a
 * unit, which runs its commands, tells when it is up, reaps its processes
 * and records its state. */
#include "svc.h"

/* ---- Processes and time ---- */

int pid_alive(pid_t pid) {
  if (pid <= 0) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char *stat = read_text(path, 512);
  if (!stat) return 0;
  /* A zombie has exited: it is only waiting for its parent. */
  char *paren = strrchr(stat, ')');
  int alive = paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
  free(stat);
  return alive;
}

static pid_t read_pid(const char *path) {
  char *text = read_text(path, 64);
  pid_t pid = text ? atoi(text) : 0;
  free(text);
  return pid;
}

long long now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- The unit's state, as the monitor records it ---- */

char *state_path(const Unit *u, const char *file) {
  return xprintf(STATE_DIR "/%s/%s", u->name, file);
}

void state_read(const Unit *u, State *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->active, sizeof s->active, "inactive");
  snprintf(s->sub, sizeof s->sub, "dead");
  char *path = state_path(u, "state");
  char *text = read_text(path, 4096);
  free(path);
  char *save = NULL;
  for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(l, '=');
    if (!eq) continue;
    *eq++ = '\0';
    if (strcmp(l, "active") == 0)
      snprintf(s->active, sizeof s->active, "%s", eq);
    else if (strcmp(l, "sub") == 0)
      snprintf(s->sub, sizeof s->sub, "%s", eq);
    else if (strcmp(l, "main") == 0)
      s->main = atoi(eq);
    else if (strcmp(l, "monitor") == 0)
      s->monitor = atoi(eq);
    else if (strcmp(l, "since") == 0)
      s->since = atoll(eq);
    else if (strcmp(l, "result") == 0)
      snprintf(s->result, sizeof s->result, "%s", eq);
    else if (strcmp(l, "status") == 0)
      snprintf(s->status, sizeof s->status, "%s", eq);
  }
  free(text);
}

void state_write(const Unit *u, const State *s) {
  char *text = xprintf("active=%s\nsub=%s\nmain=%d\nmonitor=%d\nsince=%lld\nresult=%s\nstatus=%s\n",
                       s->active, s->sub, s->main, s->monitor, s->since, s->result, s->status);
  char *path = state_path(u, "state");
  write_text(path, text);
  free(path);
  free(text);
}

/* The state as it is now: a monitor killed with SIGKILL cannot record what
 * became of its service, so "active" with neither the monitor nor the main
 * process alive is a failure. A service started outside systemctl (by its
 * init.d script) is running if its PIDFile names a live process. */
void state_now(const Unit *u, State *s) {
  state_read(u, s);
  int monitor = pid_alive(s->monitor);
  if ((strcmp(s->active, "active") == 0 && strcmp(s->sub, "running") == 0) ||
      strcmp(s->active, "activating") == 0 || strcmp(s->active, "deactivating") == 0) {
    if (!monitor && !pid_alive(s->main)) {
      snprintf(s->active, sizeof s->active, "failed");
      snprintf(s->sub, sizeof s->sub, "failed");
      if (!s->result[0]) snprintf(s->result, sizeof s->result, "its monitor was killed");
    }
  }
  if (strcmp(s->active, "active") != 0 && !monitor && u->pidfile) {
    pid_t pid = read_pid(u->pidfile);
    if (pid_alive(pid)) {
      snprintf(s->active, sizeof s->active, "active");
      snprintf(s->sub, sizeof s->sub, "running");
      snprintf(s->result, sizeof s->result, "started outside systemctl");
      s->main = pid;
      s->monitor = 0;
    }
  }
}

static void log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(int fd, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  if (write(fd, buf, n) < 0) return;
}

/* The environment a service's commands see: systemd's is clean too. */
static void service_env(const Unit *u, Strv *env, pid_t main) {
  env_set(env, PATH_ENV);
  env_set(env, "LANG=C.UTF-8");
  /* netlab's init.d scripts call systemctl unless systemctl called them. */
  env_set(env, "NETLAB_SVC=1");
  for (int i = 0; i < u->env.n; i++) env_set(env, u->env.v[i]);
  for (int i = 0; i < u->env_files.n; i++) {
    const char *f = u->env_files.v[i];
    int optional = f[0] == '-';
    if (read_env_file(f + optional, env) < 0 && !optional)
      fprintf(stderr, "%s: cannot read EnvironmentFile %s\n", u->name, f);
  }
  if (main > 0) {
    char *kv = xprintf("MAINPID=%d", main);
    env_set(env, kv);
    free(kv);
  }
  if (u->runtime_dirs.n) {
    char *kv = xprintf("RUNTIME_DIRECTORY=/run/%s", u->runtime_dirs.v[0]);
    env_set(env, kv);
    free(kv);
  }
  struct passwd *pw = u->user ? getpwnam(u->user) : NULL;
  if (pw) {
    char *kv[] = {xprintf("HOME=%s", pw->pw_dir), xprintf("USER=%s", pw->pw_name),
                  xprintf("LOGNAME=%s", pw->pw_name), xprintf("SHELL=%s", pw->pw_shell)};
    for (int i = 0; i < 4; i++) {
      env_set(env, kv[i]);
      free(kv[i]);
    }
  }
}

/* In the child: become the unit's user, unless the line starts with '+' or
 * '!' (full privileges). */
static void drop_privileges(const Unit *u) {
  gid_t gid = 0;
  struct passwd *pw = u->user ? getpwnam(u->user) : NULL;
  if (u->user && !pw) {
    fprintf(stderr, "%s: no user '%s'\n", u->name, u->user);
    _exit(217);
  }
  if (pw) gid = pw->pw_gid;
  if (u->group) {
    struct group *gr = getgrnam(u->group);
    if (!gr) {
      fprintf(stderr, "%s: no group '%s'\n", u->name, u->group);
      _exit(216);
    }
    gid = gr->gr_gid;
  }
  if ((u->group || pw) && setgid(gid) < 0) _exit(216);
  if (pw && (initgroups(pw->pw_name, gid) < 0 || setuid(pw->pw_uid) < 0)) _exit(217);
}

/* Forks one Exec line with its output in LOGFD; returns its pid, or 0 when
 * the line is empty. *IGNORE is set by a '-' prefix (failure is success). */
pid_t spawn(const Unit *u, const char *line, const Strv *extra_env, pid_t main, int logfd,
            int *ignore) {
  int ignore_rc = 0, privileged = 0, argv0 = 0;
  for (; *line && strchr("-@+!:", *line); line++) {
    if (*line == '-')
      ignore_rc = 1;
    else if (*line == '@')
      argv0 = 1;
    else if (*line == '+' || *line == '!')
      privileged = 1;
  }
  if (ignore) *ignore = ignore_rc;
  Strv env = {0};
  service_env(u, &env, main);
  for (int i = 0; extra_env && i < extra_env->n; i++) env_set(&env, extra_env->v[i]);
  Strv words = {0};
  exec_words(line, &env, &words);
  if (words.n == 0 || (argv0 && words.n < 2)) {
    strv_clear(&words);
    strv_clear(&env);
    return 0;
  }
  pid_t pid = fork();
  if (pid < 0) {
    log_line(logfd, "%s: cannot fork: %s", u->name, strerror(errno));
  } else if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    setsid();
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    if (chdir(u->workdir && u->workdir[0] != '-' ? u->workdir : "/") < 0 &&
        !(u->workdir && u->workdir[0] == '-'))
      _exit(200);
    if (!privileged) drop_privileges(u);
    putenv((char *)PATH_ENV);
    char *file = words.v[0];
    char **argv = argv0 ? words.v + 1 : words.v;
    execvpe(file, argv, env.v);
    fprintf(stderr, "%s: cannot run %s: %s\n", u->name, file, strerror(errno));
    _exit(203);
  }
  strv_clear(&words);
  strv_clear(&env);
  return pid < 0 ? -1 : pid;
}

/* systemd's words for how a process ended. */
/* The signal's abbreviation (TERM); glibc has it, musl (the static copy
 * image nodes run, see meson.build) does not. */
static const char *signal_name(int sig) {
#ifdef __GLIBC__
  return sigabbrev_np(sig);
#else
  static char num[16];
  snprintf(num, sizeof num, "%d", sig);
  return num;
#endif
}

static void describe_exit(int status, char *out, size_t len) {
  if (WIFEXITED(status))
    snprintf(out, len, "code=exited, status=%d/%s", WEXITSTATUS(status),
             WEXITSTATUS(status) ? "FAILURE" : "SUCCESS");
  else if (WIFSIGNALED(status))
    snprintf(out, len, "code=killed, signal=%s",
             signal_name(WTERMSIG(status)) ? signal_name(WTERMSIG(status)) : "?");
  else
    snprintf(out, len, "code=unknown");
}

/* ---- The monitor ---- */

typedef struct {
  Unit *u;
  State st;
  int logfd, sigfd, notify_fd, ready_fd, main_fd;
  pid_t ctl; /* the control process being waited for */
  int ctl_status, ctl_done;
  int main_status, main_done, main_known;
  int ready; /* READY=1 */
  int stop;  /* SIGTERM: stop the unit */
} Mon;

int pidfd_open_(pid_t pid) { return syscall(SYS_pidfd_open, pid, 0); }

static void mon_set_main(Mon *m, pid_t pid) {
  if (m->main_fd >= 0) close(m->main_fd);
  m->st.main = pid;
  m->main_done = 0;
  m->main_known = 0;
  m->main_fd = pid > 0 ? pidfd_open_(pid) : -1;
  if (pid > 0 && m->main_fd < 0) m->main_done = 1;
}

static void mon_notify_message(Mon *m, char *msg) {
  char *save = NULL;
  for (char *l = strtok_r(msg, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (strcmp(l, "READY=1") == 0)
      m->ready = 1;
    else if (strncmp(l, "MAINPID=", 8) == 0 && atoi(l + 8) > 0)
      mon_set_main(m, atoi(l + 8));
    else if (strncmp(l, "STATUS=", 7) == 0) {
      snprintf(m->st.status, sizeof m->st.status, "%s", l + 7);
      state_write(m->u, &m->st);
    }
  }
}

/* Waits up to TIMEOUT_MS for one round of events: children exiting (all are
 * reaped, as a subreaper must), the main process ending, notify messages,
 * SIGTERM. */
static void mon_pump(Mon *m, int timeout_ms) {
  struct pollfd pfd[3] = {
      {.fd = m->sigfd, .events = POLLIN},
      {.fd = m->notify_fd, .events = POLLIN},
      {.fd = m->main_done ? -1 : m->main_fd, .events = POLLIN},
  };
  if (poll(pfd, 3, timeout_ms) <= 0) return;
  if (pfd[0].revents) {
    struct signalfd_siginfo si;
    while (read(m->sigfd, &si, sizeof si) == sizeof si)
      if (si.ssi_signo == SIGTERM) m->stop = 1;
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == m->ctl) {
      m->ctl_status = status;
      m->ctl_done = 1;
    }
    if (pid == m->st.main) {
      m->main_status = status;
      m->main_known = 1;
      m->main_done = 1;
    }
  }
  if (pfd[1].revents) {
    char buf[4096];
    ssize_t n = recv(m->notify_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n > 0) {
      buf[n] = '\0';
      mon_notify_message(m, buf);
    }
  }
  /* The main process is not always our child: a PIDFile may name another. */
  if (pfd[2].revents) m->main_done = 1;
}

/* Runs one control command and waits for it; its exit status, or -1 when
 * it timed out (then it is killed). */
static int mon_run(Mon *m, const char *line, int timeout_s) {
  int ignore = 0;
  m->ctl_done = 0;
  m->ctl = spawn(m->u, line, NULL, m->st.main, m->logfd, &ignore);
  if (m->ctl <= 0) return m->ctl == 0 ? 0 : 1;
  long long end = mono_ms() + timeout_s * 1000LL;
  while (!m->ctl_done && mono_ms() < end) mon_pump(m, end - mono_ms());
  if (!m->ctl_done) {
    kill(-m->ctl, SIGKILL);
    kill(m->ctl, SIGKILL);
    log_line(m->logfd, "%s: control process %d timed out after %d s, killed", m->u->name, m->ctl,
             timeout_s);
    m->ctl = 0;
    return -1;
  }
  m->ctl = 0;
  if (ignore) return 0;
  if (m->ctl_status != 0) {
    char how[128];
    describe_exit(m->ctl_status, how, sizeof how);
    snprintf(m->st.result, sizeof m->st.result, "control process %.100s", how);
    log_line(m->logfd, "%s: control process exited, %s", m->u->name, how);
  }
  return m->ctl_status;
}

static int mon_run_all(Mon *m, const Strv *lines, int timeout_s) {
  for (int i = 0; i < lines->n; i++) {
    int rc = mon_run(m, lines->v[i], timeout_s);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Every live process below ROOT (for the monitor: its children, and what
 * the service orphaned, re-parented to it as subreaper); with DIRECT, only
 * ROOT's children. */
static int process_tree(pid_t root, int direct, pid_t *out, int max) {
  enum { MAXP = 4096 };
  static pid_t pids[MAXP], ppids[MAXP];
  int n = 0, found = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < MAXP) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    char *stat = read_text(path, 512);
    char *paren = stat ? strrchr(stat, ')') : NULL;
    if (paren && paren[2] != 'Z') {
      pids[n] = atoi(e->d_name);
      ppids[n++] = atoi(paren + 4);
    }
    free(stat);
  }
  if (d) closedir(d);
  /* Breadth first from ROOT. */
  pid_t queue[MAXP];
  int head = 0, tail = 0;
  queue[tail++] = root;
  while (head < tail) {
    pid_t p = queue[head++];
    for (int i = 0; i < n; i++) {
      if (ppids[i] != p) continue;
      if (found < max) out[found++] = pids[i];
      if (tail < MAXP && !direct) queue[tail++] = pids[i];
    }
  }
  return found;
}

int descendants(pid_t root, pid_t *out, int max) { return process_tree(root, 0, out, max); }

static int kill_tree(Mon *m, int sig) {
  pid_t pids[1024];
  int n = descendants(getpid(), pids, 1024);
  for (int i = 0; i < n; i++) kill(pids[i], sig);
  if (m->st.main > 0 && !m->main_done) {
    kill(m->st.main, sig);
    n++;
  }
  return n;
}

static void remove_tree(const char *path) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/rm", "rm", "-rf", "--", path, (char *)NULL);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, NULL, 0);
}

static void runtime_dirs(const Unit *u, int create) {
  for (int i = 0; i < u->runtime_dirs.n; i++) {
    char *path = xprintf("/run/%s", u->runtime_dirs.v[i]);
    if (!create) {
      remove_tree(path);
    } else if (mkdir(path, u->runtime_mode) == 0 || errno == EEXIST) {
      chmod(path, u->runtime_mode);
      struct passwd *pw = u->user ? getpwnam(u->user) : NULL;
      struct group *gr = u->group ? getgrnam(u->group) : NULL;
      if (pw || gr)
        if (chown(path, pw ? pw->pw_uid : (uid_t)-1,
                  gr   ? gr->gr_gid
                  : pw ? pw->pw_gid
                       : (gid_t)-1) < 0)
          log_line(2, "%s: cannot chown %s: %s", u->name, path, strerror(errno));
    }
    free(path);
  }
}

static void mon_state(Mon *m, const char *active, const char *sub) {
  snprintf(m->st.active, sizeof m->st.active, "%s", active);
  snprintf(m->st.sub, sizeof m->st.sub, "%s", sub);
  m->st.since = now_s();
  state_write(m->u, &m->st);
}

/* Tells the waiting `systemctl start` how the start went, once. */
static void mon_report(Mon *m, const char *how) {
  if (m->ready_fd < 0) return;
  if (write(m->ready_fd, how, strlen(how)) < 0) { /* it gave up waiting */
  }
  close(m->ready_fd);
  m->ready_fd = -1;
}

/* Stops everything the unit runs: ExecStop, then SIGTERM to the whole tree
 * (only the main process with KillMode=process), SIGKILL after the stop
 * timeout, then ExecStopPost. */
static void mon_stop(Mon *m, int exec_stop, const char *active, const char *sub) {
  mon_state(m, "deactivating", "stop");
  if (exec_stop && (!m->main_done || m->st.main <= 0))
    mon_run_all(m, &m->u->stop, m->u->timeout_stop);
  long long end = mono_ms() + m->u->timeout_stop * 1000LL;
  if (m->u->kill_process_only) {
    if (m->st.main > 0 && !m->main_done) kill(m->st.main, SIGTERM);
    while (!m->main_done && mono_ms() < end) mon_pump(m, 100);
    if (!m->main_done) kill(m->st.main, SIGKILL);
  } else {
    kill_tree(m, SIGTERM);
    while (kill_tree(m, 0) > 0 && mono_ms() < end) mon_pump(m, 100);
    if (kill_tree(m, SIGKILL) > 0)
      log_line(m->logfd, "%s: processes left after %d s, killed", m->u->name, m->u->timeout_stop);
    for (int i = 0; i < 50 && kill_tree(m, 0) > 0; i++) mon_pump(m, 100);
  }
  mon_run_all(m, &m->u->stop_post, m->u->timeout_stop);
  runtime_dirs(m->u, 0);
  mon_state(m, active, sub);
}

static int mon_notify_socket(Mon *m, Strv *env) {
  char *path = state_path(m->u, "notify");
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    free(path);
    return -1;
  }
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  unlink(path);
  m->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int rc = m->notify_fd >= 0 && bind(m->notify_fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  /* The service may run as another user. */
  chmod(path, 0666);
  char *kv = xprintf("NOTIFY_SOCKET=%s", path);
  strv_add(env, kv);
  free(path);
  return rc ? 0 : -1;
}

static void mon_fail(Mon *m, const char *why) {
  log_line(m->logfd, "%s: failed: %s", m->u->name, why);
  if (!m->st.result[0]) snprintf(m->st.result, sizeof m->st.result, "%s", why);
  /* As systemd: a start that failed gets no ExecStop, only the kill. */
  mon_stop(m, 0, "failed", "failed");
  char *msg = xprintf("fail %s\n", why);
  mon_report(m, msg);
  free(msg);
}

/* Starts the service and reports how that went; 0 if it is up. */
static int mon_start(Mon *m) {
  Unit *u = m->u;
  mon_state(m, "activating", "start");
  runtime_dirs(u, 1);
  if (mon_run_all(m, &u->start_pre, u->timeout_start) != 0) {
    mon_fail(m, "the control process exited with error code");
    return -1;
  }
  const char *type = u->type;
  if (strcmp(type, "oneshot") == 0) {
    if (mon_run_all(m, &u->start, u->timeout_start) != 0) {
      mon_fail(m, "the control process exited with error code");
      return -1;
    }
  } else if (strcmp(type, "forking") == 0) {
    if (mon_run_all(m, &u->start, u->timeout_start) != 0) {
      mon_fail(m, "the control process exited with error code");
      return -1;
    }
    /* The daemon may write its PIDFile after the parent has exited. */
    long long end = mono_ms() + u->timeout_start * 1000LL;
    pid_t main = 0;
    while (u->pidfile && !(main = read_pid(u->pidfile), pid_alive(main)) && mono_ms() < end)
      mon_pump(m, 50);
    if (u->pidfile && !pid_alive(main)) {
      mon_fail(m, "its PIDFile names no live process");
      return -1;
    }
    /* No PIDFile: systemd guesses the one process the start left. */
    pid_t kids[2];
    if (!u->pidfile && !u->sysv && process_tree(getpid(), 1, kids, 2) == 1) main = kids[0];
    if (main > 0) mon_set_main(m, main);
  } else {
    if (u->start.n != 1) {
      mon_fail(m, "a service that is not oneshot needs exactly one ExecStart");
      return -1;
    }
    Strv env = {0};
    int notify = strcmp(type, "notify") == 0;
    if (notify && mon_notify_socket(m, &env) < 0) {
      strv_clear(&env);
      mon_fail(m, "cannot create its notify socket");
      return -1;
    }
    pid_t pid = spawn(u, u->start.v[0], &env, 0, m->logfd, NULL);
    strv_clear(&env);
    if (pid <= 0) {
      mon_fail(m, "cannot start its ExecStart");
      return -1;
    }
    mon_set_main(m, pid);
    state_write(u, &m->st);
    long long end = mono_ms() + u->timeout_start * 1000LL;
    while (notify && !m->ready && !m->main_done && mono_ms() < end) mon_pump(m, end - mono_ms());
    if (notify && !m->ready) {
      mon_fail(m, m->main_done ? "the main process exited before READY=1"
                               : "a timeout was exceeded waiting for READY=1");
      return -1;
    }
  }
  if (mon_run_all(m, &u->start_post, u->timeout_start) != 0) {
    mon_fail(m, "the control process exited with error code");
    return -1;
  }
  /* A main process that already exited is the supervisor's to report. */
  pid_t one;
  if (m->st.main > 0 ||
      (strcmp(type, "oneshot") != 0 && !u->remain && descendants(getpid(), &one, 1) > 0))
    mon_state(m, "active", "running");
  else if (u->remain)
    mon_state(m, "active", "exited");
  else
    mon_state(m, "inactive", "dead");
  log_line(m->logfd, "Started %s.", u->description ? u->description : u->name);
  mon_report(m, "ok\n");
  return 0;
}

/* After the start: reaps until the main process exits, or `stop` asks. */
static void mon_supervise(Mon *m) {
  Unit *u = m->u;
  for (;;) {
    if (m->stop) {
      mon_stop(m, 1, "inactive", "dead");
      log_line(m->logfd, "Stopped %s.", u->description ? u->description : u->name);
      return;
    }
    if (m->st.main > 0 && m->main_done) {
      char how[128] = "code=exited, status=unknown (not a child of its monitor)";
      if (m->main_known) describe_exit(m->main_status, how, sizeof how);
      log_line(m->logfd, "%s: Main process exited, %s", u->name, how);
      snprintf(m->st.result, sizeof m->st.result, "%s", how);
      int ok = m->main_known && m->main_status == 0;
      m->st.main = 0;
      if (u->remain) {
        mon_state(m, "active", "exited");
      } else {
        mon_stop(m, 1, ok ? "inactive" : "failed", ok ? "dead" : "failed");
        return;
      }
    }
    /* Nothing left to watch: a oneshot, or an init.d script's daemons gone. */
    pid_t one;
    if (m->st.main <= 0 && descendants(getpid(), &one, 1) == 0) return;
    mon_pump(m, m->st.main > 0 ? -1 : 1000);
  }
}

void monitor(Unit *u, int ready_fd, int logfd) {
  Mon m = {.u = u, .logfd = logfd, .notify_fd = -1, .ready_fd = ready_fd, .main_fd = -1};
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  char title[16];
  snprintf(title, sizeof title, "svc:%.11s", u->name);
  prctl(PR_SET_NAME, title);
  /* Nothing of the caller's: `netlab exec r1 systemctl start x` ends only
   * when every copy of its output pipe is closed. */
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(logfd, 1);
  dup2(logfd, 2);
  for (int fd = 3; fd < 1024; fd++)
    if (fd != ready_fd && fd != logfd) close(fd);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  m.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  m.st.monitor = getpid();
  if (mon_start(&m) == 0) mon_supervise(&m);
  exit(0);
}
