/* netlab-svc's parts (see svc.c for what it is): the unit, the state its
 * monitor records, and what each file offers the others. Plain C and libc
 * only: it runs under software emulation, where every library costs time
 * to load. */
#pragma once

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

typedef struct {
  char active[32]; /* active, activating, deactivating, failed, inactive */
  char sub[32];    /* running, exited, dead, failed, start, stop */
  pid_t main, monitor;
  long long since;
  char result[128]; /* how the main process or a control process ended */
  char status[256]; /* STATUS= from the service (Type=notify) */
} State;

/* svc-unit.c: small helpers, then the unit files and Exec lines (pure
 * parsing but for reading the files; tests/unit/test-svc.c). */
char *xstrdup(const char *s);
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void strv_add(Strv *s, char *owned);
void strv_clear(Strv *s);
/* Sets KV ("KEY=VALUE") in ENV, replacing KEY's value. */
void env_set(Strv *env, const char *kv);
/* The file at PATH if it holds at most MAX bytes, else NULL. */
char *read_text(const char *path, size_t max);
/* Replaces the file at PATH with TEXT (through PATH.tmp). */
int write_text(const char *path, const char *text);
/* "90", "1min", "500ms", "infinity": seconds; FALLBACK when unreadable. */
int parse_seconds(const char *v, int fallback);
/* S with systemd's specifiers (%n %i %p %t ...) of unit U replaced. */
char *expand_specifiers(const Unit *u, const char *s);
/* The [Unit] and [Service] keys netlab-svc honours, from the file at PATH,
 * onto U (a drop-in adds to what came before). */
int parse_unit_file(Unit *u, const char *path);
void unit_defaults(Unit *u);
/* Finds and reads the unit ARG names (frr, frr.service, an alias, an
 * init.d script): 1 when found, 0 when not, -1 when masked (/dev/null). */
int unit_load(Unit *u, const char *arg);
/* The words of an Exec line, with quotes and $VAR/${VAR} from ENV. */
void exec_words(const char *line, const Strv *env, Strv *argv);
/* KEY=VALUE lines of an EnvironmentFile= into ENV. */
int read_env_file(const char *path, Strv *env);

/* svc-monitor.c: a unit's state file, its commands run, and the monitor
 * that supervises it. */
int pid_alive(pid_t pid);
long long now_s(void);
char *state_path(const Unit *u, const char *file);
void state_read(const Unit *u, State *s);
void state_write(const Unit *u, const State *s);
void state_now(const Unit *u, State *s);
pid_t spawn(const Unit *u, const char *line, const Strv *extra_env, pid_t main, int logfd,
            int *ignore);
int pidfd_open_(pid_t pid);
int descendants(pid_t root, pid_t *out, int max);
void monitor(Unit *u, int ready_fd, int logfd);
