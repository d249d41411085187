/* netlab-svc's unit files: where they are found, how they are read (drop-ins,
 * aliases, init.d scripts without one, specifiers), and how an Exec line
 * splits into words. Pure parsing but for reading the files. */
#include "svc.h"

static const char *const unit_dirs[] = {
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    NULL,
};

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

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) oom();
  return p;
}

char *xprintf(const char *fmt, ...) {
  va_list ap;
  char *s;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) oom();
  va_end(ap);
  return s;
}

void strv_add(Strv *s, char *owned) {
  char **v = realloc(s->v, (s->n + 2) * sizeof(char *));
  if (!v) oom();
  s->v = v;
  s->v[s->n++] = owned;
  s->v[s->n] = NULL;
}

void strv_clear(Strv *s) {
  for (int i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

/* Sets KEY=VALUE in an environment list, replacing an earlier KEY. */
void env_set(Strv *env, const char *kv) {
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

char *read_text(const char *path, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *buf = xmalloc(max + 1);
  ssize_t n, len = 0;
  while (len < (ssize_t)max && (n = read(fd, buf + len, max - len)) > 0) len += n;
  close(fd);
  buf[len] = '\0';
  return buf;
}

int write_text(const char *path, const char *text) {
  char *tmp = xprintf("%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  if (fd >= 0) close(fd);
  ok = ok && rename(tmp, path) == 0;
  free(tmp);
  return ok ? 0 : -1;
}

/* ---- Unit files ---- */

int parse_seconds(const char *v, int fallback) {
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
char *expand_specifiers(const Unit *u, const char *s) {
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
int parse_unit_file(Unit *u, const char *path) {
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

void unit_defaults(Unit *u) {
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
int unit_load(Unit *u, const char *arg) {
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

/* ---- Running a unit's commands ---- */

/* Words of an Exec line, with quotes and ${VAR}/$VAR from ENV, as systemd
 * splits them: a bare $VAR word becomes as many words as its value has. */
void exec_words(const char *line, const Strv *env, Strv *argv) {
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
int read_env_file(const char *path, Strv *env) {
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
