#include "budget.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util.h"

/* The old fixed timeout, enough for a small lab on a loaded machine. */
#define TIMEOUT_MIN_S 300
/* A boot costs a few CPU seconds under TCG (more on Debian's kernel than
 * on a built one, more the more VMs boot at once), and on a shared machine
 * a lab gets only its share of the cores: a large lab overran the old fixed
 * timeout. 60 s of a core per VM keeps the timeout for hangs. */
#define TCG_S_PER_VM_CORE 60
#define KVM_S_PER_VM_CORE 5

guint nl_budget_timeout(guint vms, gboolean kvm) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  guint per = kvm ? KVM_S_PER_VM_CORE : TCG_S_PER_VM_CORE;
  guint t = per * vms / (guint)MAX(cores, 1);
  return MAX(t, TIMEOUT_MIN_S);
}

/* vde_switch has 32 ports unless told: a LAN of more NICs failed to plug
 * the rest in. Captures plug in as ports too. */
#define SWITCH_PORTS_MIN 32
#define CAPTURE_PORTS 16

guint nl_budget_lan_ports(const NlLab *lab, const char *lan) {
  guint nics = 0;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++)
      if (strcmp(((NlNic *)node->nics->pdata[j])->lan, lan) == 0) nics++;
  }
  /* lab.ext's tap takes a port of its own. */
  return MAX(SWITCH_PORTS_MIN, nics + CAPTURE_PORTS + (nl_lab_lan_ext(lab, lan) ? 1 : 0));
}

/* Measured in `up` of 64 VMs: 5 descriptors per VM, and about 20 of its
 * own; twice that, for libvirt's passing ones. */
#define FDS_PER_VM 10
#define FDS_BASE 64

gboolean nl_budget_fds(guint vms, GError **error) {
  rlim_t need = FDS_BASE + (rlim_t)FDS_PER_VM * vms;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return nl_set_errno(error, errno, "getrlimit");
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return TRUE;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "%u VMs need about %lu open files, and the hard limit is %lu (ulimit -Hn)", vms,
                (unsigned long)need, (unsigned long)rl.rlim_max);
    return FALSE;
  }
  rl.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return nl_set_errno(error, errno, "setrlimit");
  return TRUE;
}
