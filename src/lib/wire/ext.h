/* A LAN joined at layer 2 to the host's interfaces (Kathará's lab.ext):
 * its vde_switch holds a tap (vde_switch --tap), and a Linux bridge holds
 * that tap and the host's interface, or the 802.1Q sub-interface netlab
 * makes on it for "DEV.VLAN". Every interface netlab creates or changes is
 * recorded in the state directory (layout.h's STATE/ext) before it does, so
 * that `down` undoes exactly that, after a crash too. Needs CAP_NET_ADMIN. */
#pragma once

#include <glib.h>

#include "lab.h"
#include "sandbox.h"
#include "state.h"

/* Whether the host can connect LAB's lab.ext as it is: CAP_NET_ADMIN, each
 * host interface there (a VLAN's parent), no other bridge's port, each LAN
 * with its switch where `up` runs. Every problem found, one per line as
 * "lab.ext:LINE: ...", in an NL_ERROR_INPUT error. Starts nothing. */
gboolean nl_ext_check(const NlLab *lab, GError **error);

/* The tap LAN's switch holds (nl_vde_start), created persistent and owned
 * by QU so that the unprivileged switch can open it; NULL, and nothing
 * made, for a LAN that lab.ext does not name. Names are unique per lab:
 * "nl" + 8 hex of ST's id + 't' or 'b' (the bridge) + the LAN's rank. */
char *nl_ext_tap_create(const NlState *st, const NlQemuUser *qu, const NlLab *lab, const char *lan,
                        GError **error);

/* The bridge of LAN, with its tap and each host interface lab.ext names
 * for it (a VLAN sub-interface made if missing), all up. After the switch
 * opened the tap. */
gboolean nl_ext_connect(const NlState *st, const NlLab *lab, const char *lan, GError **error);

/* The state key NL_EXT_KEY + LAN lists the host interfaces LAN is joined
 * to, one per line, once it is. */
#define NL_EXT_KEY "ext."

/* Undoes what ST's records say: the user's interfaces leave netlab's
 * bridges and go down again if netlab brought them up; netlab's VLAN
 * sub-interfaces, taps and bridges are deleted. What fails is added to
 * NOTES. Idempotent. */
void nl_ext_down(const NlState *st, GPtrArray *notes);

/* "A: the host's veth-a" or "A: the host's eth0.10 (VLAN 10 on eth0, made
 * by netlab)": what lab.ext connects, one line per entry, for check and
 * status. */
char *nl_ext_describe(const NlExt *e);
