/* Each interface's wire: a wirefilter between the VM's NIC and its LAN's
 * switch, which impairs what crosses it (delay, loss, rate...), and the
 * link state QEMU shows the guest (carrier up or down).
 *
 * A LAN of exactly two interfaces on this host (most links of real labs)
 * has no switch: one wirefilter joins the two NICs (a wire), and carries
 * both ends' impairments (nl_impair_join). A frame crosses one process
 * instead of three, which is what keeps TCP across it near a direct
 * link's speed under TCG (doc/performance.md). */
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

/* Starts the wire of NIC's LAN (NIC->end >= 0), through nl_vde_spawn(),
 * as the QEMU user, with each end's impairment: the one recorded, if the
 * lab ran with it, else lab.conf's. Both NICs plug into
 * nl_layout_wire_end() once this returns. */
gboolean nl_link_start_wire(const NlState *st, const NlQemuUser *qu, const char *node,
                            const NlNic *nic, GError **error);

/* Makes QEMU send a few frames out of every NIC of DOMAIN (HMP
 * announce_self). A wire that started again (its other end restarted)
 * is reached through a socket this end's QEMU still has connected to the
 * old one: libvdeplug's ptp reconnects it on the first send that fails. */
gboolean nl_link_announce(NlVirt *virt, const char *domain, GError **error);

/* The impairment in force on an interface (none if never set). */
void nl_link_get(const char *statedir, const char *node, guint index, NlImpair *imp);

/* Puts IMP in force on NODE's interface NIC, and records it. */
gboolean nl_link_set(const char *statedir, const char *node, const NlNic *nic, const NlImpair *imp,
                     GError **error);

/* Carrier up or down, as the guest sees it (QEMU's set_link), and recorded. */
gboolean nl_link_set_state(NlVirt *virt, const char *domain, const char *statedir, const char *node,
                           guint index, gboolean up, GError **error);

gboolean nl_link_is_up(const char *statedir, const char *node, guint index);

/* Removes an interface's records (impairment, carrier down): its
 * wirefilter is gone (a node restarts). */
gboolean nl_link_forget(const char *statedir, const char *node, guint index, GError **error);
