/* netlab events: what happens to a lab, one line per event, as it happens.
 *
 * netlab's commands append their changes to the lab's event log
 * (events.h); this command follows the log through inotify. The VMs'
 * lifecycle comes from QEMU itself: each VM has a QMP monitor of netlab's
 * own (domxml.c), and one `netlab events` per lab, the one holding
 * STATE/events.lock, listens there and appends what it hears to the log,
 * for every reader. libvirt's domain events would need the embedded
 * driver's connection, which one process at a time may hold: a watcher
 * holding it would lock every other command (link, status...) out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "bootlog.h"
#include "cmd.h"
#include "events.h"
#include "link.h"
#include "sandbox.h"
#include "state.h"
#include "util.h"

/* What one QMP monitor may send before a newline. */
#define QMP_LINE_MAX (64 * 1024)
/* How long a booting VM's monitor socket may take to appear. */
#define QMP_WAIT_MS 60000
#define QMP_RETRY_MS 50

typedef struct Ev Ev;

typedef struct {
  Ev *ev;
  char *node;
  int fd;
  guint src, retry;
  gint64 since;
  GString *in;
  gboolean frozen, stopped;
} Qmp;

struct Ev {
  char *labdir;
  NlState *st;
  char *base, *name; /* the state directory's parent and name */
  gboolean json;
  int ino, wd_base, wd_dir;
  int log_fd;
  GString *partial;
  int lock_fd;      /* events.lock, held: this process watches the VMs */
  gboolean waiting; /* a thread waits for that lock */
  GHashTable *qmp;  /* node -> Qmp */
  GMainLoop *loop;
  int rc;
};

static void out_line(Ev *ev, const char *line) {
  g_autofree char *text = ev->json ? g_strdup(line) : nl_event_text(line);
  if (!text) return;
  if (printf("%s\n", text) < 0 || fflush(stdout) != 0) g_main_loop_quit(ev->loop);
}

/* Prints an event that is not in the log (the initial state). */
static void out_event(Ev *ev, const char *type, const char *const *members) {
  g_autofree char *line = nl_event_json(g_get_real_time() / 1e6, ev->labdir, type, members);
  out_line(ev, line);
}

/* ---- the VMs' QMP monitors (only in the watching process) ---- */

static void qmp_free(Qmp *q) {
  if (q->src) g_source_remove(q->src);
  if (q->retry) g_source_remove(q->retry);
  if (q->fd >= 0) close(q->fd);
  if (q->in) g_string_free(q->in, TRUE);
  g_free(q->node);
  g_free(q);
}

static void node_event(Ev *ev, const char *node, const char *state, const char *why) {
  nl_event_emit(ev->st->dir, ev->labdir, "node", "node", node, "state", state, "why", why, NULL);
}

/* Why a reset stopped NODE, from the end of its console log: PANIC (the
 * kernel's panic line), REBOOT (the kernel's last line of a reboot), or
 * neither yet (netlab-log has not written the console's last lines). */
typedef enum { RESET_UNKNOWN, RESET_PANIC, RESET_REBOOT } ResetWhy;

static ResetWhy console_reset_why(Ev *ev, const char *node) {
  g_auto(NlVmPaths) p = {0};
  nl_layout_vm(&p, ev->st->dir, ev->labdir, node);
  g_autofree char *tail = nl_log_tail(p.log, NL_LOG_PANIC_LINES);
  if (nl_log_panic(tail)) return RESET_PANIC;
  if (strstr(tail, "reboot: Restarting system")) return RESET_REBOOT;
  return RESET_UNKNOWN;
}

/* How long the console log may lag behind QEMU's reset event: netlab-log
 * is one more process on a machine that may be busy. A reset whose log
 * says neither (a triple fault) is told as a reboot after it. */
#define RESET_LOG_MS 5000
#define RESET_POLL_MS 100

typedef struct {
  Ev *ev;
  char *node;
  gint64 until;
} Reset;

static gboolean reset_why(gpointer data) {
  Reset *r = data;
  ResetWhy why = console_reset_why(r->ev, r->node);
  if (why == RESET_UNKNOWN && g_get_monotonic_time() < r->until) return G_SOURCE_CONTINUE;
  node_event(r->ev, r->node, "stopped", nl_event_stop_reason("guest-reset", why == RESET_PANIC));
  g_free(r->node);
  g_free(r);
  return G_SOURCE_REMOVE;
}

static void qmp_send(Qmp *q, const char *cmd) {
  /* A few bytes to a local socket: they fit, or QEMU is gone (EOF next). */
  if (write(q->fd, cmd, strlen(cmd)) < 0) {
  }
}

static void qmp_message(Qmp *q, const char *line) {
  g_autoptr(JsonObject) o = nl_event_object(line);
  if (!o) return;
  const char *event = json_object_get_string_member_with_default(o, "event", NULL);
  if (json_object_has_member(o, "QMP")) {
    qmp_send(q, "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\"}\n");
    return;
  }
  JsonNode *ret = json_object_get_member(o, "return");
  if (ret && JSON_NODE_HOLDS_OBJECT(ret)) {
    /* query-status: why the VM stopped running. */
    const char *status =
        json_object_get_string_member_with_default(json_node_get_object(ret), "status", NULL);
    if (!status) return;
    gboolean frozen = strcmp(status, "paused") == 0 || strcmp(status, "debug") == 0 ||
                      strcmp(status, "suspended") == 0;
    if (frozen && !q->frozen)
      node_event(q->ev, q->node, "frozen", strcmp(status, "debug") == 0 ? "gdb" : status);
    q->frozen = frozen;
    return;
  }
  if (!event) return;
  if (strcmp(event, "SHUTDOWN") == 0) {
    JsonNode *data = json_object_get_member(o, "data");
    const char *reason =
        data && JSON_NODE_HOLDS_OBJECT(data)
            ? json_object_get_string_member_with_default(json_node_get_object(data), "reason", "")
            : "";
    /* The guest is done: libvirt runs QEMU with -no-shutdown, so after a
     * poweroff or a panic it stays until libvirt, if a netlab holds the
     * lab, ends it. */
    q->stopped = TRUE;
    if (strcmp(reason, "guest-reset") != 0) {
      node_event(q->ev, q->node, "stopped", nl_event_stop_reason(reason, FALSE));
      return;
    }
    /* A reset: a panic if the console log says so, once netlab-log has
     * written the console's last lines there. */
    Reset *r = g_new0(Reset, 1);
    r->ev = q->ev;
    r->node = g_strdup(q->node);
    r->until = g_get_monotonic_time() + RESET_LOG_MS * 1000;
    g_timeout_add(RESET_POLL_MS, reset_why, r);
  } else if (strcmp(event, "STOP") == 0) {
    /* A STOP also precedes the end: query-status tells a pause from it. */
    qmp_send(q, "{\"execute\":\"query-status\"}\n");
  } else if (strcmp(event, "RESUME") == 0 && q->frozen) {
    q->frozen = FALSE;
    node_event(q->ev, q->node, "thawed", NULL);
  }
}

static gboolean qmp_readable(int fd, GIOCondition cond, gpointer data) {
  Qmp *q = data;
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return G_SOURCE_CONTINUE;
  if (n > 0) {
    g_string_append_len(q->in, buf, n);
    char *nl;
    while ((nl = memchr(q->in->str, '\n', q->in->len))) {
      *nl = '\0';
      qmp_message(q, q->in->str);
      g_string_erase(q->in, 0, nl - q->in->str + 1);
    }
    if (q->in->len <= QMP_LINE_MAX) return G_SOURCE_CONTINUE;
    /* Not QEMU as we know it: stop listening, say nothing false. */
    q->src = 0;
    g_hash_table_remove(q->ev->qmp, q->node);
    return G_SOURCE_REMOVE;
  }
  /* QEMU is gone: its sockets closed as it exited, zombie or not. Said
   * already if it said SHUTDOWN first. */
  if (!q->stopped)
    node_event(q->ev, q->node, "stopped",
               nl_event_stop_reason(NULL, console_reset_why(q->ev, q->node) == RESET_PANIC));
  q->src = 0;
  g_hash_table_remove(q->ev->qmp, q->node);
  return G_SOURCE_REMOVE;
}

static gboolean qmp_try(gpointer data) {
  Qmp *q = data;
  g_auto(NlVmPaths) p = {0};
  nl_layout_vm(&p, q->ev->st->dir, q->ev->labdir, q->node);
  g_autoptr(GError) error = NULL;
  /* The QEMU user owns the VM's directory: only a socket, reached through
   * the very inode looked at, never a link it put there to another. */
  int at = open(p.qmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat s;
  if (at >= 0 && fstat(at, &s) == 0 && S_ISSOCK(s.st_mode)) {
    g_autofree char *via = g_strdup_printf("/proc/self/fd/%d", at);
    q->fd = nl_unix_connect(via, &error);
  }
  if (at >= 0) close(at);
  if (q->fd < 0) {
    /* QEMU has not made its socket yet (the VM boots), or is gone. */
    if (g_get_monotonic_time() - q->since < QMP_WAIT_MS * 1000) return G_SOURCE_CONTINUE;
    q->retry = 0;
    g_hash_table_remove(q->ev->qmp, q->node);
    return G_SOURCE_REMOVE;
  }
  fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) | O_NONBLOCK);
  q->src = g_unix_fd_add(q->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, qmp_readable, q);
  q->retry = 0;
  return G_SOURCE_REMOVE;
}

/* Listens to NODE's QEMU from now on (again, after a restart). */
static void qmp_watch(Ev *ev, const char *node) {
  if (ev->lock_fd < 0) return;
  Qmp *q = g_new0(Qmp, 1);
  q->ev = ev;
  q->node = g_strdup(node);
  q->fd = -1;
  q->in = g_string_new(NULL);
  q->since = g_get_monotonic_time();
  g_hash_table_replace(ev->qmp, q->node, q);
  if (qmp_try(q) == G_SOURCE_CONTINUE) q->retry = g_timeout_add(QMP_RETRY_MS, qmp_try, q);
}

static GStrv lab_nodes(const NlState *st) {
  g_autofree char *list = nl_state_get(st, "nodes");
  return g_strsplit(list ? g_strstrip(list) : "", "\n", -1);
}

static void watch_all(Ev *ev) {
  g_auto(GStrv) nodes = lab_nodes(ev->st);
  for (char **n = nodes; *n && **n; n++)
    if (nl_proc_alive(ev->st, "qemu", *n)) qmp_watch(ev, *n);
}

typedef struct {
  Ev *ev;
  int fd;
  char *path;
} Waiter;

static void take_watch(Ev *ev);

/* In the main loop: the watcher that was is gone, and this process holds
 * the lock, if it is still the lock of the lab that is up. */
static gboolean got_lock(gpointer data) {
  Waiter *wt = data;
  Ev *ev = wt->ev;
  struct stat a, b;
  gboolean same = fstat(wt->fd, &a) == 0 && stat(wt->path, &b) == 0 && a.st_ino == b.st_ino &&
                  a.st_dev == b.st_dev;
  if (same && ev->lock_fd < 0 && ev->wd_dir >= 0) {
    ev->lock_fd = wt->fd;
    ev->waiting = FALSE;
    watch_all(ev);
  } else {
    /* The lock of a lab that went down: the one up now, if any. */
    close(wt->fd);
    ev->waiting = FALSE;
    if (ev->wd_dir >= 0) take_watch(ev);
  }
  g_free(wt->path);
  g_free(wt);
  return G_SOURCE_REMOVE;
}

static gpointer wait_lock(gpointer data) {
  Waiter *wt = data;
  while (flock(wt->fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  g_idle_add(got_lock, wt);
  return NULL;
}

/* Becomes the process that watches the VMs, if no other is; else takes
 * over when that one ends. */
static void take_watch(Ev *ev) {
  if (ev->lock_fd >= 0 || ev->waiting || !nl_state_exists(ev->st)) return;
  g_autofree char *path = nl_layout_events(ev->st->dir, ".lock");
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    ev->lock_fd = fd;
    watch_all(ev);
    return;
  }
  Waiter *wt = g_new0(Waiter, 1);
  wt->ev = ev;
  wt->fd = fd;
  wt->path = g_steal_pointer(&path);
  ev->waiting = TRUE;
  g_thread_unref(g_thread_new("events-lock", wait_lock, wt));
}

static void drop_watch(Ev *ev) {
  g_hash_table_remove_all(ev->qmp);
  if (ev->lock_fd >= 0) close(ev->lock_fd);
  ev->lock_fd = -1;
}

/* ---- the log ---- */

static void log_line(Ev *ev, const char *line) {
  out_line(ev, line);
  if (ev->lock_fd < 0 || !strstr(line, "\"booting\"")) return;
  /* A VM (re)starts: its new QEMU's monitor. */
  g_autoptr(JsonObject) o = nl_event_object(line);
  if (!o) return;
  const char *type = json_object_get_string_member_with_default(o, "type", "");
  const char *node = json_object_get_string_member_with_default(o, "node", NULL);
  const char *state = json_object_get_string_member_with_default(o, "state", "");
  if (strcmp(type, "node") == 0 && node && strcmp(state, "booting") == 0) qmp_watch(ev, node);
}

static void read_log(Ev *ev) {
  char buf[16384];
  ssize_t n;
  while (ev->log_fd >= 0 && (n = read(ev->log_fd, buf, sizeof buf)) > 0) {
    g_string_append_len(ev->partial, buf, n);
    char *nl;
    while ((nl = memchr(ev->partial->str, '\n', ev->partial->len))) {
      *nl = '\0';
      if (nl - ev->partial->str <= NL_EVENT_LINE_MAX) log_line(ev, ev->partial->str);
      g_string_erase(ev->partial, 0, nl - ev->partial->str + 1);
    }
    /* netlab writes no longer line: not a line of ours. */
    if (ev->partial->len > NL_EVENT_LINE_MAX) g_string_truncate(ev->partial, 0);
  }
}

static void open_log(Ev *ev, gboolean at_end) {
  if (ev->log_fd >= 0) {
    read_log(ev);
    close(ev->log_fd);
  }
  g_string_truncate(ev->partial, 0);
  g_autofree char *path = nl_layout_events(ev->st->dir, "");
  ev->log_fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (ev->log_fd >= 0 && at_end) lseek(ev->log_fd, 0, SEEK_END);
  read_log(ev);
}

/* Starts following the lab's state directory, once it exists. */
static void attach_dir(Ev *ev, gboolean at_end) {
  if (ev->wd_dir >= 0 || !nl_state_exists(ev->st)) return;
  ev->wd_dir =
      inotify_add_watch(ev->ino, ev->st->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF);
  open_log(ev, at_end);
  take_watch(ev);
}

static void detach_dir(Ev *ev) {
  read_log(ev);
  if (ev->log_fd >= 0) close(ev->log_fd);
  ev->log_fd = -1;
  ev->wd_dir = -1;
  drop_watch(ev);
}

static gboolean inotified(int fd, GIOCondition cond, gpointer data) {
  Ev *ev = data;
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t n = read(fd, buf, sizeof buf);
  for (char *p = buf; n > 0 && p < buf + n;) {
    struct inotify_event *e = (struct inotify_event *)p;
    p += sizeof *e + e->len;
    const char *name = e->len ? e->name : "";
    if (e->wd == ev->wd_base && strcmp(name, ev->name) == 0 && (e->mask & IN_CREATE))
      attach_dir(ev, FALSE);
    if (e->wd != ev->wd_dir || ev->wd_dir < 0) continue;
    if (e->mask & (IN_DELETE_SELF | IN_IGNORED)) {
      detach_dir(ev);
    } else if (strcmp(name, "events.log") == 0) {
      if (e->mask & (IN_CREATE | IN_MOVED_TO))
        open_log(ev, FALSE);
      else
        read_log(ev);
    }
  }
  return G_SOURCE_CONTINUE;
}

/* ---- the state at the start ---- */

static void initial_state(Ev *ev) {
  gboolean up = nl_state_exists(ev->st);
  out_event(ev, "lab", (const char *const[]){"state", up ? "up" : "down", NULL});
  if (!up) return;
  g_autofree char *uri = nl_state_get(ev->st, "uri");
  g_auto(GStrv) nodes = lab_nodes(ev->st);
  for (char **n = nodes; *n && **n; n++) {
    gboolean alive = nl_proc_alive(ev->st, "qemu", *n) != 0;
    g_auto(NlVmPaths) p = {0};
    nl_layout_vm(&p, ev->st->dir, ev->labdir, *n);
    g_autofree char *domain = uri ? g_strdup_printf("netlab-%s-%s", ev->st->id, *n) : g_strdup(*n);
    g_autofree char *why = alive ? NULL : nl_vm_why_stopped(ev->st, domain, p.log);
    out_event(ev, "node",
              (const char *const[]){"node", *n, "state", alive ? "running" : "stopped", "why", why,
                                    NULL});
  }
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(NlLab) lab = nl_lab_load(ev->labdir, warnings, NULL);
  for (guint i = 0; lab && i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      g_autofree char *ifname = g_strdup_printf("eth%u", j);
      NlImpair imp;
      nl_link_get(ev->st->dir, node->name, j, &imp);
      g_autofree char *text = nl_impair_format(&imp);
      gboolean link_up = nl_link_is_up(ev->st->dir, node->name, j);
      out_event(ev, "link",
                (const char *const[]){"node", node->name, "interface", ifname, "lan", nic->lan,
                                      "state", link_up ? "up" : "down", NULL});
      if (*text)
        out_event(ev, "impairment",
                  (const char *const[]){"node", node->name, "interface", ifname, "lan", nic->lan,
                                        "impairment", text, NULL});
    }
  }
}

static gboolean on_signal(gpointer data) {
  g_main_loop_quit(((Ev *)data)->loop);
  return G_SOURCE_CONTINUE;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean json = FALSE, initial = FALSE;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per line (doc/events.md)", NULL},
      {"initial-state", 0, 0, G_OPTION_ARG_NONE, &initial,
       "First the lab's current state, as events", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "[LABDIR]: print a lab's events as they happen", entries, &argc, &argv, &t,
                    error))
    return -1;
  g_autoptr(NlState) st = nl_state_for(t.labdir, error);
  if (!st) return -1;
  Ev ev = {.labdir = t.labdir,
           .st = st,
           .json = json,
           .wd_dir = -1,
           .log_fd = -1,
           .lock_fd = -1,
           .partial = g_string_new(NULL),
           .qmp = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)qmp_free),
           .loop = g_main_loop_new(NULL, FALSE)};
  ev.base = g_path_get_dirname(st->dir);
  ev.name = g_path_get_basename(st->dir);
  ev.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  /* The lab may come up later, and go down and up again. */
  ev.wd_base = ev.ino < 0 ? -1 : inotify_add_watch(ev.ino, ev.base, IN_CREATE);
  if (ev.wd_base < 0) {
    nl_set_errno(error, errno, "cannot watch '%s'", ev.base);
    ev.rc = -1;
  } else {
    if (initial) initial_state(&ev);
    attach_dir(&ev, TRUE);
    guint isrc = g_unix_fd_add(ev.ino, G_IO_IN, inotified, &ev);
    guint s1 = g_unix_signal_add(SIGINT, on_signal, &ev);
    guint s2 = g_unix_signal_add(SIGTERM, on_signal, &ev);
    guint s3 = g_unix_signal_add(SIGHUP, on_signal, &ev);
    g_main_loop_run(ev.loop);
    g_source_remove(isrc);
    g_source_remove(s1);
    g_source_remove(s2);
    g_source_remove(s3);
  }
  drop_watch(&ev);
  if (ev.log_fd >= 0) close(ev.log_fd);
  if (ev.ino >= 0) close(ev.ino);
  g_hash_table_unref(ev.qmp);
  g_string_free(ev.partial, TRUE);
  g_main_loop_unref(ev.loop);
  g_free(ev.base);
  g_free(ev.name);
  return ev.rc;
}

const NlCmd nl_cmd_events = {"events", NULL,
                             "print a lab's events (nodes, links, captures) as they happen",
                             .target = NL_TARGET_LAB, .run = run};
