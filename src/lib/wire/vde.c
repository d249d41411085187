#include "vde.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "layout.h"
#include "util.h"

#define VDE_SWITCH "/usr/bin/vde_switch"
#define VDE_PLUG "/usr/bin/vde_plug"
/* The description a cable's port has on its switch (port/print). */
#define CABLE_DESCR "netlab-cable"

int nl_vde_pid(const NlState *st, const char *lan) {
  int pid = nl_proc_alive(st, "switch", lan);
  return pid ? pid : nl_proc_alive(st, "wire", lan);
}

/* How long a VDE program may take to make its socket, and how often to
 * look. */
#define READY_TIMEOUT_MS 5000
#define READY_POLL_MS 2

typedef struct {
  const NlState *st;
  const char *kind, *name, *ready;
} Spawned;

/* Ready, or dead: either way there is no more to wait for. */
static gboolean ready_or_dead(gpointer data) {
  const Spawned *s = data;
  return g_file_test(s->ready, G_FILE_TEST_EXISTS) || !nl_proc_alive(s->st, s->kind, s->name);
}

/* In the child, before exec: its own session (a Ctrl-C at up's terminal is
 * up's to handle), then the QEMU user. */
static void child_setup(gpointer qu) {
  setsid();
  nl_qemu_user_become(qu);
}

gboolean nl_vde_spawn(const NlState *st, const NlQemuUser *qu, const char *kind, const char *name,
                      const char *what, const char *const *argv, const char *ready,
                      GError **error) {
  /* Not daemonized: then only a pidfile, which the QEMU user writes (or
   * fails to write on a full disk), would tell its pid. In the foreground
   * vde_switch and wirefilter run a console on stdin and exit at its end:
   * their stdin is a pipe whose other end they hold themselves, as fd 3, so
   * that end never comes. */
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return nl_set_errno(error, errno, "pipe");
  int source[] = {p[1]}, target[] = {3};
  GPid pid = 0;
  g_autoptr(GError) local = NULL;
  gboolean spawned = g_spawn_async_with_pipes_and_fds(
      NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, child_setup,
      (gpointer)qu, p[0], -1, -1, source, target, 1, &pid, NULL, NULL, NULL, &local);
  close(p[0]);
  close(p[1]);
  if (!spawned) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot start %s: %s (is vde2 installed?)", what,
                local->message);
    return FALSE;
  }
  if (!nl_proc_record(st, kind, name, pid, argv[0], error)) {
    /* Unrecorded, `down` would not know it: it goes now. */
    kill(pid, SIGKILL);
    return FALSE;
  }
  /* QEMU fails at once if the socket is not there yet. */
  Spawned s = {st, kind, name, ready};
  nl_wait_until(ready_or_dead, &s, READY_TIMEOUT_MS, READY_POLL_MS);
  if (g_file_test(ready, G_FILE_TEST_EXISTS)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s did not come up (no '%s')", what, ready);
  return FALSE;
}

gboolean nl_vde_start(const NlState *st, const NlQemuUser *qu, const char *lan, const char *tap,
                      guint ports, GError **error) {
  g_autofree char *landir = nl_layout_lans(st->dir);
  g_autofree char *sock = nl_layout_lan(st->dir, lan);
  g_autofree char *mgmt = nl_layout_lan_mgmt(st->dir, lan);
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  g_autofree char *what = g_strdup_printf("the switch of '%s'", lan);
  /* The switch runs as the QEMU user and makes its sockets here. */
  if (!nl_qemu_user_own(qu, landir, 0700, error)) return FALSE;
  g_autofree char *nports = g_strdup_printf("%u", ports);
  /* A hub: as a switch, vde_switch drops the 802.1Q frames of every VLAN
   * it was not told of, which a lab's VLAN interfaces and bridges send. A
   * LAN of two interfaces is a wire, never a switch (link.h). */
  const char *argv[] = {VDE_SWITCH,   "--hub", "-sock", sock,   "-mgmt", mgmt, "--mode", "0600",
                        "--mgmtmode", "0600",  "-n",    nports, "--tap", tap,  NULL};
  if (!tap) argv[12] = NULL;
  return nl_vde_spawn(st, qu, "switch", lan, what, argv, ctl, error);
}

int nl_vde_cable_pid(const NlState *st, const char *lan) { return nl_proc_alive(st, "cable", lan); }

typedef struct {
  const NlState *st;
  const char *lan, *mgmt;
} Cable;

static gboolean plugged_or_dead(gpointer data) {
  const Cable *c = data;
  g_autofree char *ports = nl_vde_mgmt(c->mgmt, "port/print", NULL);
  return (ports && strstr(ports, CABLE_DESCR)) || !nl_vde_cable_pid(c->st, c->lan);
}

gboolean nl_vde_cable_start(const NlState *st, const NlQemuUser *qu, const char *lan,
                            const char *url, GError **error) {
  g_autofree char *sock = nl_layout_lan(st->dir, lan);
  g_autofree char *mgmt = nl_layout_lan_mgmt(st->dir, lan);
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  g_autofree char *what =
      g_strdup_printf("the vde_plug joining the switch of '%s' to %s", lan, url);
  const char *argv[] = {VDE_PLUG, "-D", CABLE_DESCR, sock, url, NULL};
  if (!nl_vde_spawn(st, qu, "cable", lan, what, argv, ctl, error)) return FALSE;
  /* It makes no file: ready once the switch lists it. */
  Cable c = {st, lan, mgmt};
  nl_wait_until(plugged_or_dead, &c, READY_TIMEOUT_MS, 20);
  if (nl_vde_cable_pid(st, lan)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "%s exited at once (does the underlay have a "
              "route to 239.0.0.0/8, or LAB_UNDERLAY's dev?)",
              what);
  return FALSE;
}

/* The management protocol of vde_switch and wirefilter: a banner ending in a
 * prompt, then per command its output and a line "NNNN text", where 1000 is
 * success. */
#define MGMT_MAX (256 * 1024)

static gboolean read_until(int fd, GString *buf, gboolean (*done)(const GString *),
                           GError **error) {
  char chunk[4096];
  while (!done(buf)) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || buf->len + n > MGMT_MAX) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "the management socket %s",
                  n < 0    ? g_strerror(errno)
                  : n == 0 ? "closed"
                           : "said too much");
      return FALSE;
    }
    g_string_append_len(buf, chunk, n);
  }
  return TRUE;
}

static gboolean has_prompt(const GString *b) { return g_str_has_suffix(b->str, "$ "); }

/* The status line: at the start of a line, four digits from 1000 on, then
 * a space. */
static const char *status_line(const char *text) {
  for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
    if (l[0] == '1' && g_ascii_isdigit(l[1]) && g_ascii_isdigit(l[2]) && g_ascii_isdigit(l[3]) &&
        l[4] == ' ')
      return l;
  return NULL;
}

static gboolean has_status(const GString *b) {
  const char *l = status_line(b->str);
  return l && strchr(l, '\n');
}

char *nl_vde_mgmt(const char *sock, const char *command, GError **error) {
  int fd = nl_unix_connect(sock, error);
  if (fd < 0) return NULL;
  g_autoptr(GString) banner = g_string_new(NULL);
  g_autoptr(GString) reply = g_string_new(NULL);
  g_autofree char *line = g_strconcat(command, "\n", NULL);
  gboolean ok = read_until(fd, banner, has_prompt, error) &&
                write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
                read_until(fd, reply, has_status, error);
  close(fd);
  if (!ok) {
    if (error && !*error)
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot send '%s' to '%s'", command, sock);
    return NULL;
  }
  const char *st = status_line(reply->str);
  if (strncmp(st, "1000 ", 5) != 0) {
    g_autofree char *why = g_strndup(st + 5, strcspn(st + 5, "\r\n"));
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' failed at '%s': %s", command, sock, why);
    return NULL;
  }
  /* The output is what comes between "0000 DATA END WITH '.'" and ".". */
  const char *data = strstr(reply->str, "0000 DATA END WITH '.'\n");
  if (!data) return g_strdup("");
  data += strlen("0000 DATA END WITH '.'\n");
  const char *end = strstr(data, "\n.\n");
  return g_strndup(data, end ? (gsize)(end - data + 1) : 0);
}
