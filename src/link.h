/* Each interface's wire: a wirefilter between the VM's NIC and its LAN's
 * switch, which impairs what crosses it (delay, loss, rate...), and the
 * link state QEMU shows the guest (carrier up or down). */
#pragma once

#include "impair.h"
#include "lab.h"
#include "sandbox.h"
#include "state.h"
#include "virt.h"

/* Starts the wirefilter of NODE's interface NIC (through nl_vde_spawn(), as
 * the QEMU user), plugged into the switch of NIC's LAN, with the impairment
 * lab.conf gives it. The NIC plugs into nl_layout_nic() once this returns. */
gboolean nl_link_start(const NlState *st, const NlQemuUser *qu, const char *node, const NlNic *nic,
                       GError **error);

/* The impairment in force on an interface (none if never set). */
void nl_link_get(const char *statedir, const char *node, guint index, NlImpair *imp);

/* Puts IMP in force on an interface, and records it. */
gboolean nl_link_set(const char *statedir, const char *node, guint index, const NlImpair *imp,
                     GError **error);

/* Carrier up or down, as the guest sees it (QEMU's set_link), and recorded. */
gboolean nl_link_set_state(NlVirt *virt, const char *domain, const char *statedir, const char *node,
                           guint index, gboolean up, GError **error);

gboolean nl_link_is_up(const char *statedir, const char *node, guint index);

/* Removes an interface's records (impairment, carrier down): its
 * wirefilter is gone (a node restarts). */
gboolean nl_link_forget(const char *statedir, const char *node, guint index, GError **error);
