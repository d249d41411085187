#include "vde.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "domxml.h"
#include "util.h"

#define VDE_SWITCH "/usr/bin/vde_switch"

int nl_vde_pid(const NlState *st, const char *lan) {
  return nl_proc_alive(st, "switch", lan);
}

char *nl_vde_mgmt_path(const char *statedir, const char *lan) {
  g_autofree char *sock = nl_lan_sock(statedir, lan);
  return g_strconcat(sock, ".mgmt", NULL);
}

/* The pid in PIDFILE, which the program writes once it listens; only
 * believed if that process runs EXE as the QEMU user. */
static int daemon_pid(const char *pidfile, const char *exe, const NlQemuUser *qu) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(pidfile, &text, NULL, NULL)) return 0;
  int pid = atoi(text);
  g_autofree char *exe_link = g_strdup_printf("/proc/%d/exe", pid);
  g_autofree char *runs = g_file_read_link(exe_link, NULL);
  g_autofree char *proc = g_strdup_printf("/proc/%d", pid);
  GStatBuf sb;
  if (pid <= 0 || !runs || strcmp(runs, exe) != 0 || g_stat(proc, &sb) != 0 ||
      sb.st_uid != qu->uid)
    return 0;
  return pid;
}

gboolean nl_vde_spawn(const NlState *st, const NlQemuUser *qu, const char *kind,
                      const char *name, const char *what, const char *const *argv,
                      const char *pidfile, const char *ready, GError **error) {
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                    nl_qemu_user_become, (gpointer)qu, NULL, &err, &status, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot start %s: %s (is vde2 installed?)",
                what, local->message);
    return FALSE;
  }
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s failed: %s", what, g_strstrip(err));
    return FALSE;
  }
  /* It forks after binding, but do not trust the order: QEMU fails at once
   * if the socket is not there yet. */
  int pid = 0;
  for (int i = 0; i < 500; i++) {
    if (g_file_test(ready, G_FILE_TEST_EXISTS) && (pid = daemon_pid(pidfile, argv[0], qu)) > 0)
      return nl_proc_record(st, kind, name, pid, argv[0], error);
    g_usleep(2000);
  }
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s did not come up (no '%s')", what, ready);
  return FALSE;
}

gboolean nl_vde_start(const NlState *st, const NlQemuUser *qu, const char *lan,
                      GError **error) {
  g_autofree char *landir = nl_state_path(st, "lan");
  g_autofree char *sock = nl_lan_sock(st->dir, lan);
  g_autofree char *mgmt = nl_vde_mgmt_path(st->dir, lan);
  g_autofree char *pidfile = g_strconcat(sock, ".pid", NULL);
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  g_autofree char *what = g_strdup_printf("the switch of '%s'", lan);
  /* The switch runs as the QEMU user and makes its sockets here. */
  if (!nl_qemu_user_own(qu, landir, 0700, error)) return FALSE;
  const char *argv[] = {VDE_SWITCH, "-sock", sock, "-mgmt", mgmt, "--mode", "0600",
                        "--mgmtmode", "0600",
                        "-daemon", "-pidfile", pidfile, NULL};
  return nl_vde_spawn(st, qu, "switch", lan, what, argv, pidfile, ctl, error);
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
                  n < 0 ? g_strerror(errno) : n == 0 ? "closed" : "said too much");
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
    if (l[0] == '1' && g_ascii_isdigit(l[1]) && g_ascii_isdigit(l[2]) &&
        g_ascii_isdigit(l[3]) && l[4] == ' ')
      return l;
  return NULL;
}

static gboolean has_status(const GString *b) {
  const char *l = status_line(b->str);
  return l && strchr(l, '\n');
}

char *nl_vde_mgmt(const char *sock, const char *command, GError **error) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(sock) >= sizeof sa.sun_path) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "socket path '%s' is too long", sock);
    return NULL;
  }
  strcpy(sa.sun_path, sock);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot connect to '%s': %s", sock,
                g_strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  g_autoptr(GString) banner = g_string_new(NULL);
  g_autoptr(GString) reply = g_string_new(NULL);
  g_autofree char *line = g_strconcat(command, "\n", NULL);
  gboolean ok = read_until(fd, banner, has_prompt, error) &&
                write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
                read_until(fd, reply, has_status, error);
  close(fd);
  if (!ok) {
    if (error && !*error)
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot send '%s' to '%s'", command,
                  sock);
    return NULL;
  }
  const char *st = status_line(reply->str);
  if (strncmp(st, "1000 ", 5) != 0) {
    g_autofree char *why = g_strndup(st + 5, strcspn(st + 5, "\r\n"));
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' failed at '%s': %s", command,
                sock, why);
    return NULL;
  }
  /* The output is what comes between "0000 DATA END WITH '.'" and ".". */
  const char *data = strstr(reply->str, "0000 DATA END WITH '.'\n");
  if (!data) return g_strdup("");
  data += strlen("0000 DATA END WITH '.'\n");
  const char *end = strstr(data, "\n.\n");
  return g_strndup(data, end ? (gsize)(end - data + 1) : 0);
}
