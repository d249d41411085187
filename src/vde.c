#include "vde.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domxml.h"
#include "util.h"

#define VDE_SWITCH "/usr/bin/vde_switch"

int nl_vde_pid(const NlState *st, const char *lan) {
  return nl_proc_alive(st, "switch", lan);
}

/* In the child, before exec: its own session (a Ctrl-C at up's terminal is
 * up's to handle), then the QEMU user. */
static void child_setup(gpointer qu) {
  setsid();
  nl_qemu_user_become(qu);
}

gboolean nl_vde_start(const NlState *st, const NlQemuUser *qu, const char *lan,
                      GError **error) {
  g_autofree char *landir = nl_state_path(st, "lan");
  g_autofree char *sock = nl_lan_sock(st->dir, lan);
  g_autofree char *mgmt = g_strconcat(sock, ".mgmt", NULL);
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  /* The switch runs as the QEMU user and makes its sockets here. */
  if (!nl_qemu_user_own(qu, landir, 0700, error)) return FALSE;
  /* Not -daemon: then only its pidfile, which the QEMU user writes (or
   * fails to write on a full disk), would tell its pid. In the foreground
   * it runs a console on stdin and exits at its end: its stdin is a pipe
   * whose other end it holds itself, as fd 3, so that end never comes. */
  const char *argv[] = {VDE_SWITCH, "-sock", sock, "-mgmt", mgmt, "--mode", "0600",
                        "--mgmtmode", "0600", NULL};
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
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot start the switch of '%s': %s (is vde2 installed?)", lan,
                local->message);
    return FALSE;
  }
  if (!nl_proc_record(st, "switch", lan, pid, VDE_SWITCH, error)) {
    /* Unrecorded, `down` would not know it: it goes now. */
    kill(pid, SIGKILL);
    return FALSE;
  }
  /* QEMU fails at once if the control socket is not there yet. */
  for (int i = 0; i < 2500; i++) {
    if (g_file_test(ctl, G_FILE_TEST_EXISTS)) return TRUE;
    if (!nl_proc_alive(st, "switch", lan)) break;
    g_usleep(2000);
  }
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "the switch of '%s' did not come up (no '%s')", lan, ctl);
  return FALSE;
}
