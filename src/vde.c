#include "vde.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "domxml.h"
#include "state.h"
#include "util.h"

static char *lan_file(const char *statedir, const char *lan, const char *suffix) {
  g_autofree char *base = nl_lan_sock(statedir, lan);
  return g_strconcat(base, suffix, NULL);
}

int nl_vde_pid(const char *statedir, const char *lan) {
  g_autofree char *pidfile = lan_file(statedir, lan, ".pid");
  return nl_pidfile_alive(pidfile, "vde_switch");
}

char *nl_vde_mgmt_path(const char *statedir, const char *lan) {
  return lan_file(statedir, lan, ".mgmt");
}

gboolean nl_vde_spawn(const char *what, const char *const *argv, const char *pidfile,
                      const char *ready, GError **error) {
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;
  if (!g_spawn_sync(NULL, (char **)argv, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                    NULL, &err, &status, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot start %s: %s (is vde2 installed?)",
                what, local->message);
    return FALSE;
  }
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s failed: %s", what, g_strstrip(err));
    return FALSE;
  }
  /* -daemon forks after binding, but do not trust the order: QEMU fails at
   * once if the socket is not there yet. */
  g_autofree char *comm = g_path_get_basename(argv[0]);
  for (int i = 0; i < 500; i++) {
    if (g_file_test(ready, G_FILE_TEST_EXISTS) && nl_pidfile_alive(pidfile, comm) > 0)
      return TRUE;
    g_usleep(2000);
  }
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s did not come up (no '%s')", what, ready);
  return FALSE;
}

gboolean nl_vde_start(const char *statedir, const char *lan, GError **error) {
  g_autofree char *landir = g_build_filename(statedir, "lan", NULL);
  g_autofree char *sock = nl_lan_sock(statedir, lan);
  g_autofree char *mgmt = nl_vde_mgmt_path(statedir, lan);
  g_autofree char *pidfile = lan_file(statedir, lan, ".pid");
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  g_autofree char *what = g_strdup_printf("the switch of '%s'", lan);
  if (g_mkdir_with_parents(landir, 0700) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s'", landir);
    return FALSE;
  }
  const char *argv[] = {"vde_switch", "-sock", sock, "-mgmt", mgmt, "--mode", "0600",
                        "--mgmtmode", "0600",
                        "-daemon", "-pidfile", pidfile, NULL};
  return nl_vde_spawn(what, argv, pidfile, ctl, error);
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
