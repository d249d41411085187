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
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATE_DIR "/run/netlab-svc"
#define ENABLED_DIR STATE_DIR "/enabled"
#define PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_START_TIMEOUT 90
#define DEFAULT_STOP_TIMEOUT 10
#define STATUS_LINES 10

/* systemd's exit codes for the commands it fails (systemctl(1)). */
enum { EXIT_NOT_RUNNING = 3, EXIT_NO_UNIT_STATUS = 4, EXIT_NO_UNIT = 5 };

static const char *const unit_dirs[] = {
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    NULL,
};

typedef struct {
  char **v;
  int n;
} Strv;

typedef struct {
  char name[256];      /* frr.service */
  char path[PATH_MAX]; /* the unit file, or the init.d script */
  int sysv;            /* an /etc/init.d script with no unit file */
  char *description;
  char *type; /* simple, exec, forking, notify, oneshot, ... */
  Strv start_pre, start, start_post, stop, stop_post, reload;
  char *pidfile;
  Strv env;       /* Environment=, as KEY=VALUE */
  Strv env_files; /* EnvironmentFile=, '-' prefix: optional */
  char *user, *group, *workdir;
  Strv runtime_dirs;
  mode_t runtime_mode;
  int remain;            /* RemainAfterExit */
  int kill_process_only; /* KillMode=process */
  int timeout_start, timeout_stop;
  Strv conditions; /* ConditionPathExists=, '!' negates */
} Unit;

/* ---- Small helpers ---- */

static void oom(void) {
  fputs("systemctl: out of memory\n", stderr);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) oom();
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) oom();
  return p;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...) {
  va_list ap;
  char *s;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) oom();
  va_end(ap);
  return s;
}

static void strv_add(Strv *s, char *owned) {
  char **v = realloc(s->v, (s->n + 2) * sizeof(char *));
  if (!v) oom();
  s->v = v;
  s->v[s->n++] = owned;
  s->v[s->n] = NULL;
}

static void strv_clear(Strv *s) {
  for (int i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

/* Sets KEY=VALUE in an environment list, replacing an earlier KEY. */
static void env_set(Strv *env, const char *kv) {
  size_t klen = strcspn(kv, "=");
  for (int i = 0; i < env->n; i++) {
    if (strncmp(env->v[i], kv, klen) == 0 && env->v[i][klen] == '=') {
      free(env->v[i]);
      env->v[i] = xstrdup(kv);
      return;
    }
  }
  strv_add(env, xstrdup(kv));
}

static const char *env_get(const Strv *env, const char *key, size_t klen) {
  for (int i = 0; i < env->n; i++)
    if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=') return env->v[i] + klen + 1;
  return NULL;
}

static char *read_text(const char *path, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *buf = xmalloc(max + 1);
  ssize_t n, len = 0;
  while (len < (ssize_t)max && (n = read(fd, buf + len, max - len)) > 0) len += n;
  close(fd);
  buf[len] = '\0';
  return buf;
}

static int write_text(const char *path, const char *text) {
  char *tmp = xprintf("%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  if (fd >= 0) close(fd);
  ok = ok && rename(tmp, path) == 0;
  free(tmp);
  return ok ? 0 : -1;
}

static int pid_alive(pid_t pid) {
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

static long long now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- Unit files ---- */

static int parse_seconds(const char *v, int fallback) {
  if (strcmp(v, "infinity") == 0) return 24 * 3600;
  char *end;
  double n = strtod(v, &end);
  if (end == v) return fallback;
  while (*end == ' ') end++;
  if (*end == '\0' || strcmp(end, "s") == 0 || strcmp(end, "sec") == 0) return (int)n;
  if (strcmp(end, "min") == 0 || strcmp(end, "m") == 0) return (int)(n * 60);
  if (strcmp(end, "ms") == 0) return n >= 1000 ? (int)(n / 1000) : 1;
  return fallback;
}

/* The name without ".service", and the parts of a template instance. */
static void unit_parts(const Unit *u, char *prefix, char *instance, char *plain) {
  size_t len = strlen(u->name) - strlen(".service");
  snprintf(plain, 256, "%.*s", (int)len, u->name);
  const char *at = strchr(plain, '@');
  snprintf(prefix, 256, "%.*s", at ? (int)(at - plain) : (int)len, plain);
  snprintf(instance, 256, "%s", at ? at + 1 : "");
}

/* systemd's % specifiers that Debian's units use; an unknown one is kept. */
static char *expand_specifiers(const Unit *u, const char *s) {
  char prefix[256], instance[256], plain[256], host[256] = "";
  unit_parts(u, prefix, instance, plain);
  gethostname(host, sizeof host - 1);
  size_t cap = strlen(s) * 2 + 256, len = 0;
  char *out = xmalloc(cap);
  for (; *s; s++) {
    const char *add = NULL;
    char one[3] = {0};
    if (*s == '%' && s[1]) {
      switch (*++s) {
        case 'n': add = u->name; break;
        case 'N': add = plain; break;
        case 'p': add = prefix; break;
        case 'i':
        case 'I': add = instance; break;
        case 't': add = "/run"; break;
        case 'S': add = "/var/lib"; break;
        case 'C': add = "/var/cache"; break;
        case 'L': add = "/var/log"; break;
        case 'E': add = "/etc"; break;
        case 'T': add = "/tmp"; break;
        case 'V': add = "/var/tmp"; break;
        case 'h': add = "/root"; break;
        case 'u': add = u->user ? u->user : "root"; break;
        case 'H':
        case 'l': add = host; break;
        case '%': add = "%"; break;
        default:
          one[0] = '%';
          one[1] = *s;
          add = one;
          break;
      }
    } else {
      one[0] = *s;
      add = one;
    }
    size_t alen = strlen(add);
    if (len + alen + 1 > cap) {
      cap = (len + alen + 1) * 2;
      out = realloc(out, cap);
      if (!out) oom();
    }
    memcpy(out + len, add, alen);
    len += alen;
  }
  out[len] = '\0';
  return out;
}

static void set_str(char **field, const char *v) {
  free(*field);
  *field = *v ? xstrdup(v) : NULL;
}

/* An empty assignment empties a list, as in systemd. */
static void list_add(Strv *list, const char *v) {
  if (*v)
    strv_add(list, xstrdup(v));
  else
    strv_clear(list);
}

/* Environment="A=1" "B=2 3": words, each KEY=VALUE. */
static void add_environment(Unit *u, const char *v) {
  while (*v) {
    while (isspace((unsigned char)*v)) v++;
    if (!*v) break;
    char word[4096];
    size_t n = 0;
    char quote = 0;
    for (; *v && (quote || !isspace((unsigned char)*v)); v++) {
      if (!quote && (*v == '"' || *v == '\''))
        quote = *v;
      else if (quote && *v == quote)
        quote = 0;
      else if (n < sizeof word - 1)
        word[n++] = *v;
    }
    word[n] = '\0';
    if (strchr(word, '=')) env_set(&u->env, word);
  }
}

static void set_service_key(Unit *u, const char *key, const char *v) {
  if (strcmp(key, "Type") == 0)
    set_str(&u->type, v);
  else if (strcmp(key, "ExecStartPre") == 0)
    list_add(&u->start_pre, v);
  else if (strcmp(key, "ExecStart") == 0)
    list_add(&u->start, v);
  else if (strcmp(key, "ExecStartPost") == 0)
    list_add(&u->start_post, v);
  else if (strcmp(key, "ExecStop") == 0)
    list_add(&u->stop, v);
  else if (strcmp(key, "ExecStopPost") == 0)
    list_add(&u->stop_post, v);
  else if (strcmp(key, "ExecReload") == 0)
    list_add(&u->reload, v);
  else if (strcmp(key, "PIDFile") == 0)
    set_str(&u->pidfile, v);
  else if (strcmp(key, "Environment") == 0)
    add_environment(u, v);
  else if (strcmp(key, "EnvironmentFile") == 0)
    list_add(&u->env_files, v);
  else if (strcmp(key, "User") == 0)
    set_str(&u->user, v);
  else if (strcmp(key, "Group") == 0)
    set_str(&u->group, v);
  else if (strcmp(key, "WorkingDirectory") == 0)
    set_str(&u->workdir, v);
  else if (strcmp(key, "RemainAfterExit") == 0)
    u->remain = strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
                strcasecmp(v, "on") == 0;
  else if (strcmp(key, "KillMode") == 0)
    u->kill_process_only = strcmp(v, "process") == 0;
  else if (strcmp(key, "RuntimeDirectory") == 0) {
    char *copy = xstrdup(v), *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
      strv_add(&u->runtime_dirs, xstrdup(w));
    free(copy);
  } else if (strcmp(key, "RuntimeDirectoryMode") == 0)
    u->runtime_mode = strtol(v, NULL, 8);
  else if (strcmp(key, "TimeoutStartSec") == 0)
    u->timeout_start = parse_seconds(v, u->timeout_start);
  else if (strcmp(key, "TimeoutStopSec") == 0)
    u->timeout_stop = parse_seconds(v, u->timeout_stop);
  else if (strcmp(key, "TimeoutSec") == 0)
    u->timeout_start = u->timeout_stop = parse_seconds(v, u->timeout_start);
}

/* Reads one unit file or drop-in over U. Continuation lines end in '\'. */
static int parse_unit_file(Unit *u, const char *path) {
  char *text = read_text(path, 1 << 20);
  if (!text) return -1;
  char section[64] = "";
  char *save = NULL;
  char *logical = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    size_t len = strlen(line);
    int more = len > 0 && line[len - 1] == '\\';
    if (more) line[len - 1] = ' ';
    char *joined = logical ? xprintf("%s%s", logical, line) : xstrdup(line);
    free(logical);
    logical = NULL;
    if (more) {
      logical = joined;
      continue;
    }
    char *l = joined;
    while (isspace((unsigned char)*l)) l++;
    if (*l == '[') {
      snprintf(section, sizeof section, "%.*s", (int)strcspn(l + 1, "]"), l + 1);
    } else if (*l && *l != '#' && *l != ';' && strchr(l, '=')) {
      char *eq = strchr(l, '=');
      char *kend = eq;
      while (kend > l && isspace((unsigned char)kend[-1])) kend--;
      *kend = '\0';
      char *v = eq + 1;
      while (isspace((unsigned char)*v)) v++;
      size_t vl = strlen(v);
      while (vl && isspace((unsigned char)v[vl - 1])) v[--vl] = '\0';
      char *value = expand_specifiers(u, v);
      if (strcmp(section, "Unit") == 0 && strcmp(l, "Description") == 0)
        set_str(&u->description, value);
      else if (strcmp(section, "Unit") == 0 && strcmp(l, "ConditionPathExists") == 0)
        list_add(&u->conditions, value);
      else if (strcmp(section, "Service") == 0)
        set_service_key(u, l, value);
      free(value);
    }
    free(joined);
  }
  free(logical);
  free(text);
  return 0;
}

static int has_suffix(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* NAME.d/ *.conf (drop-ins) in every unit directory, in name order, after the unit. */
static void parse_dropins(Unit *u, const char *name) {
  Strv files = {0};
  for (int i = 0; unit_dirs[i]; i++) {
    char *dir = xprintf("%s/%s.d", unit_dirs[i], name);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
      if (has_suffix(e->d_name, ".conf")) strv_add(&files, xprintf("%s/%s", dir, e->d_name));
    if (d) closedir(d);
    free(dir);
  }
  if (files.n) qsort(files.v, files.n, sizeof(char *), cmp_str);
  for (int i = 0; i < files.n; i++) parse_unit_file(u, files.v[i]);
  strv_clear(&files);
}

/* A unit file DIR/NAME; 1 found, 0 not, -1 masked (a link to /dev/null). */
static int find_in_dirs(const char *name, char *path) {
  for (int i = 0; unit_dirs[i]; i++) {
    snprintf(path, PATH_MAX, "%s/%s", unit_dirs[i], name);
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      if (strcmp(target, "/dev/null") == 0) return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) return 1;
  }
  return 0;
}

/* A unit another one names as Alias= (bind9.service is named.service);
 * systemd knows it from the links `enable` makes, which a host that never
 * ran systemd may lack. */
static int find_alias(const char *name, char *path, char *real) {
  for (int i = 0; unit_dirs[i]; i++) {
    DIR *d = opendir(unit_dirs[i]);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (!has_suffix(e->d_name, ".service")) continue;
      snprintf(path, PATH_MAX, "%s/%s", unit_dirs[i], e->d_name);
      char *text = read_text(path, 1 << 16);
      char *alias = text ? strstr(text, "\nAlias=") : NULL;
      int hit = 0;
      for (; alias && !hit; alias = strstr(alias + 1, "\nAlias=")) {
        char *v = alias + strlen("\nAlias=");
        size_t n = strcspn(v, "\n");
        char *line = xprintf("%.*s", (int)n, v), *save = NULL;
        for (char *w = strtok_r(line, " \t", &save); w && !hit; w = strtok_r(NULL, " \t", &save))
          hit = strcmp(w, name) == 0;
        free(line);
      }
      free(text);
      if (hit) {
        snprintf(real, 256, "%s", e->d_name);
        closedir(d);
        return 1;
      }
    }
    if (d) closedir(d);
  }
  return 0;
}

static void unit_defaults(Unit *u) {
  u->runtime_mode = 0755;
  u->timeout_start = DEFAULT_START_TIMEOUT;
  u->timeout_stop = DEFAULT_STOP_TIMEOUT;
}

/* An init.d script run as systemd's sysv generator does: forking, no main
 * process guessed, active once `start` succeeded. */
static void sysv_unit(Unit *u, const char *script) {
  snprintf(u->path, sizeof u->path, "%s", script);
  u->sysv = 1;
  u->type = xstrdup("forking");
  u->remain = 1;
  strv_add(&u->start, xprintf("%s start", script));
  strv_add(&u->stop, xprintf("%s stop", script));
  strv_add(&u->reload, xprintf("%s reload", script));
  u->description = xprintf("LSB: %s", script);
}

/* "frr" or "frr.service" or an alias: 1 found, 0 not found, -1 masked. */
static int unit_load(Unit *u, const char *arg) {
  memset(u, 0, sizeof *u);
  unit_defaults(u);
  if (has_suffix(arg, ".service"))
    snprintf(u->name, sizeof u->name, "%s", arg);
  else
    snprintf(u->name, sizeof u->name, "%s.service", arg);
  char file[256];
  snprintf(file, sizeof file, "%s", u->name);
  int found = find_in_dirs(file, u->path);
  if (found == 0 && strchr(u->name, '@')) {
    /* foo@bar.service from foo@.service */
    snprintf(file, sizeof file, "%.*s.service", (int)(strchr(u->name, '@') - u->name + 1), u->name);
    found = find_in_dirs(file, u->path);
  }
  /* An alias is the unit it names: one state for both names. */
  if (found == 0 && find_alias(u->name, u->path, file)) {
    found = 1;
    snprintf(u->name, sizeof u->name, "%s", file);
  }
  if (found < 0) return -1;
  /* A unit file that links to another is an alias of it, as `enable`
   * makes them (bind9.service -> named.service). */
  char real[PATH_MAX];
  if (found && !strchr(u->name, '@') && realpath(u->path, real)) {
    const char *base = strrchr(real, '/') + 1;
    if (has_suffix(base, ".service") && strcmp(base, file) != 0) {
      snprintf(u->name, sizeof u->name, "%s", base);
      snprintf(file, sizeof file, "%s", base);
    }
  }
  if (found) {
    parse_unit_file(u, u->path);
    parse_dropins(u, file);
    if (!u->type) u->type = xstrdup(u->start.n ? "simple" : "oneshot");
    return 1;
  }
  char script[PATH_MAX];
  snprintf(script, sizeof script, "/etc/init.d/%.*s", (int)(strlen(u->name) - 8), u->name);
  if (access(script, X_OK) == 0) {
    sysv_unit(u, script);
    return 1;
  }
  return 0;
}

/* ---- The unit's state, as the monitor records it ---- */

typedef struct {
  char active[32]; /* active, activating, deactivating, failed, inactive */
  char sub[32];    /* running, exited, dead, failed, start, stop */
  pid_t main, monitor;
  long long since;
  char result[128]; /* how the main process or a control process ended */
  char status[256]; /* STATUS= from the service (Type=notify) */
} State;

static char *state_path(const Unit *u, const char *file) {
  return xprintf(STATE_DIR "/%s/%s", u->name, file);
}

static void state_read(const Unit *u, State *s) {
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

static void state_write(const Unit *u, const State *s) {
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
static void state_now(const Unit *u, State *s) {
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

/* ---- Running a unit's commands ---- */

/* Words of an Exec line, with quotes and ${VAR}/$VAR from ENV, as systemd
 * splits them: a bare $VAR word becomes as many words as its value has. */
static void exec_words(const char *line, const Strv *env, Strv *argv) {
  const char *s = line;
  while (*s) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) break;
    size_t cap = strlen(s) + 1, n = 0;
    char *w = xmalloc(cap);
    char quote = 0;
    int quoted = 0;
    for (; *s && (quote || !isspace((unsigned char)*s)); s++) {
      if (!quote && (*s == '"' || *s == '\'')) {
        quote = *s;
        quoted = 1;
      } else if (quote && *s == quote) {
        quote = 0;
      } else if (*s == '\\' && s[1] && quote != '\'') {
        s++;
        w[n++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      } else {
        w[n++] = *s;
      }
    }
    w[n] = '\0';
    size_t vlen = strspn(w + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    if (!quoted && w[0] == '$' && vlen && w[1 + vlen] == '\0') {
      const char *val = env_get(env, w + 1, vlen);
      char *copy = xstrdup(val ? val : ""), *save = NULL;
      for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
        strv_add(argv, xstrdup(t));
      free(copy);
      free(w);
      continue;
    }
    /* ${VAR} anywhere in a word */
    Strv parts = {0};
    char *p = w, *open;
    while ((open = strstr(p, "${")) && strchr(open, '}')) {
      char *close = strchr(open, '}');
      strv_add(&parts, xprintf("%.*s", (int)(open - p), p));
      const char *val = env_get(env, open + 2, close - open - 2);
      strv_add(&parts, xstrdup(val ? val : ""));
      p = close + 1;
    }
    strv_add(&parts, xstrdup(p));
    size_t total = 1;
    for (int i = 0; i < parts.n; i++) total += strlen(parts.v[i]);
    char *joined = xmalloc(total);
    joined[0] = '\0';
    for (int i = 0; i < parts.n; i++) strcat(joined, parts.v[i]);
    strv_add(argv, joined);
    strv_clear(&parts);
    free(w);
  }
}

/* KEY=VALUE lines of an EnvironmentFile=, '#' and ';' comments. */
static int read_env_file(const char *path, Strv *env) {
  char *text = read_text(path, 1 << 20);
  if (!text) return -1;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    while (isspace((unsigned char)*l)) l++;
    if (*l == '#' || *l == ';' || !strchr(l, '=')) continue;
    if (strncmp(l, "export ", 7) == 0) l += 7;
    char *eq = strchr(l, '=');
    char *v = eq + 1;
    size_t vl = strlen(v);
    while (vl && isspace((unsigned char)v[vl - 1])) v[--vl] = '\0';
    if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
      v[vl - 1] = '\0';
      v++;
    }
    char *kv = xprintf("%.*s=%s", (int)(eq - l), l, v);
    env_set(env, kv);
    free(kv);
  }
  free(text);
  return 0;
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
static pid_t spawn(const Unit *u, const char *line, const Strv *extra_env, pid_t main, int logfd,
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

static int pidfd_open_(pid_t pid) { return syscall(SYS_pidfd_open, pid, 0); }

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

static int descendants(pid_t root, pid_t *out, int max) { return process_tree(root, 0, out, max); }

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

static void monitor(Unit *u, int ready_fd, int logfd) {
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
