/* What a lab asks of the host: the switch ports per LAN, up's default
 * timeout, the descriptor limit. */
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "budget.h"
#include "tap.h"

/* A lab of N nodes, each with one NIC on LAN A, and a second pair on B. */
static NlLab *lab_of(const char *dir, int n) {
  GString *conf = g_string_new(NULL);
  for (int i = 0; i < n; i++) g_string_append_printf(conf, "n%d[0]=\"A\"\n", i);
  g_string_append(conf, "n0[1]=\"B\"\nn1[1]=\"B\"\n");
  g_autofree char *path = g_build_filename(dir, "lab.conf", NULL);
  g_file_set_contents(path, conf->str, -1, NULL);
  g_string_free(conf, TRUE);
  return nl_lab_load(dir, NULL, NULL);
}

int main(void) {
  g_autofree char *dir = g_dir_make_tmp("test-budget.XXXXXX", NULL);
  g_autoptr(NlLab) big = lab_of(dir, 64);
  TAP_OK(big != NULL, "a lab of 64 nodes on one LAN loads");
  if (big) {
    TAP_OK(nl_budget_lan_ports(big, "A") == 64 + 16,
           "a LAN of 64 NICs gets a port each and 16 for captures (%u)",
           nl_budget_lan_ports(big, "A"));
    TAP_OK(nl_budget_lan_ports(big, "B") == 32, "a LAN of 2 NICs keeps vde_switch's 32 (%u)",
           nl_budget_lan_ports(big, "B"));
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  TAP_OK(nl_budget_timeout(2, FALSE) == 300, "2 VMs: 300 s");
  TAP_OK(nl_budget_timeout(1000, FALSE) == 60 * 1000 / (guint)cores,
         "1000 VMs under TCG: 60 s per VM per core (%u)", nl_budget_timeout(1000, FALSE));
  TAP_OK(nl_budget_timeout(1000, TRUE) < nl_budget_timeout(1000, FALSE), "less under KVM");

  /* Lowering a limit needs no privilege. */
  struct rlimit low = {64, 64};
  TAP_OK(setrlimit(RLIMIT_NOFILE, &low) == 0, "lowered the limit to 64");
  g_autoptr(GError) e = NULL;
  TAP_OK(!nl_budget_fds(64, &e) && e && strstr(e->message, "ulimit -Hn"),
         "a hard limit of 64 refuses 64 VMs, naming it (%s)", e ? e->message : "");
  g_autofree char *conf = g_build_filename(dir, "lab.conf", NULL);
  g_unlink(conf);
  g_rmdir(dir);
  return tap_done();
}
