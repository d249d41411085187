#include "vde.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domxml.h"
#include "util.h"

#define VDE_SWITCH "/usr/bin/vde_switch"

int nl_vde_pid(const NlState *st, const char *lan) {
  return nl_proc_alive(st, "switch", lan);
}

/* The switch's pid, from the pidfile it writes once it listens; only
 * believed if that process runs vde_switch as the QEMU user. */
static int switch_pid(const char *pidfile, const NlQemuUser *qu) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(pidfile, &text, NULL, NULL)) return 0;
  int pid = atoi(text);
  g_autofree char *exe_link = g_strdup_printf("/proc/%d/exe", pid);
  g_autofree char *exe = g_file_read_link(exe_link, NULL);
  g_autofree char *proc = g_strdup_printf("/proc/%d", pid);
  GStatBuf sb;
  if (pid <= 0 || !exe || strcmp(exe, VDE_SWITCH) != 0 || g_stat(proc, &sb) != 0 ||
      sb.st_uid != qu->uid)
    return 0;
  return pid;
}

gboolean nl_vde_start(const NlState *st, const NlQemuUser *qu, const char *lan,
                      GError **error) {
  g_autofree char *landir = nl_state_path(st, "lan");
  g_autofree char *sock = nl_lan_sock(st->dir, lan);
  g_autofree char *mgmt = g_strconcat(sock, ".mgmt", NULL);
  g_autofree char *pidfile = g_strconcat(sock, ".pid", NULL);
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  /* The switch runs as the QEMU user and makes its sockets here. */
  if (!nl_qemu_user_own(qu, landir, 0700, error)) return FALSE;
  const char *argv[] = {VDE_SWITCH, "-sock", sock, "-mgmt", mgmt, "--mode", "0600",
                        "--mgmtmode", "0600",
                        "-daemon", "-pidfile", pidfile, NULL};
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                    nl_qemu_user_become, (gpointer)qu, NULL, &err, &status, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot start the switch of '%s': %s (is vde2 installed?)", lan,
                local->message);
    return FALSE;
  }
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "vde_switch for '%s' failed: %s",
                lan, g_strstrip(err));
    return FALSE;
  }
  /* -daemon forks after binding, but do not trust the order: QEMU fails at
   * once if the control socket is not there yet. */
  int pid = 0;
  for (int i = 0; i < 500; i++) {
    if (g_file_test(ctl, G_FILE_TEST_EXISTS) && (pid = switch_pid(pidfile, qu)) > 0)
      return nl_proc_record(st, "switch", lan, pid, VDE_SWITCH, error);
    g_usleep(2000);
  }
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "the switch of '%s' did not come up (no '%s')", lan, ctl);
  return FALSE;
}
