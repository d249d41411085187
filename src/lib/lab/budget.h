/* What a lab asks of the host as it grows, decided before anything starts:
 * how long its boot may take, how many ports each LAN's switch needs, and
 * how many file descriptors `up` holds. */
#pragma once

#include <glib.h>

#include "lab.h"

/* How long `up` waits, by default, for VMS VMs to be ready. Under TCG a boot
 * is CPU work that VMs started together share: the budget grows with the VMs
 * per host core. */
guint nl_budget_timeout(guint vms, gboolean kvm);

/* The ports LAN's switch gets: one per NIC on it, and room for captures. */
guint nl_budget_lan_ports(const NlLab *lab, const char *lan);

/* `up` holds a few descriptors per VM (its control socket, libvirt's
 * monitor socket, an eventfd, a BPF program and map). Raises the soft
 * RLIMIT_NOFILE as far as the hard one when VMS VMs need it, and fails,
 * naming both, when even the hard limit is too low. */
gboolean nl_budget_fds(guint vms, GError **error);
