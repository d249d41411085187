#include "vde.h"

#include <string.h>
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

gboolean nl_vde_start(const char *statedir, const char *lan, GError **error) {
  g_autofree char *landir = g_build_filename(statedir, "lan", NULL);
  g_autofree char *sock = nl_lan_sock(statedir, lan);
  g_autofree char *mgmt = lan_file(statedir, lan, ".mgmt");
  g_autofree char *pidfile = lan_file(statedir, lan, ".pid");
  g_autofree char *ctl = g_build_filename(sock, "ctl", NULL);
  if (g_mkdir_with_parents(landir, 0700) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s'", landir);
    return FALSE;
  }
  const char *argv[] = {"vde_switch", "-sock", sock, "-mgmt", mgmt, "--mode", "0600",
                        "--mgmtmode", "0600",
                        "-daemon", "-pidfile", pidfile, NULL};
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;
  if (!g_spawn_sync(NULL, (char **)argv, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                    NULL, &err, &status, &local)) {
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
  for (int i = 0; i < 500; i++) {
    if (g_file_test(ctl, G_FILE_TEST_EXISTS) && nl_vde_pid(statedir, lan) > 0)
      return TRUE;
    g_usleep(2000);
  }
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "the switch of '%s' did not come up (no '%s')", lan, ctl);
  return FALSE;
}
