/* Where a lab's LANs run when its nodes are on several hosts (see
 * hosts.h): pure functions of the lab model. */
#pragma once

#include "lab.h"

/* Whether LAN has a vde_switch where `up` runs: a NIC of a node there is
 * on it, in the whole lab (NlLab's lan_where), started or not. Each such NIC has its wirefilter, as on any LAN. */
gboolean nl_lan_here(const NlLab *lab, const char *lan);

/* Whether LAN is a vxvde:// network on the underlay: it spans hosts, or is
 * on a single other host, where netlab cannot start a vde_switch (vxvde
 * refuses a TTL of 0, which would keep its multicast in the host: it
 * reaches the underlay, where no other host listens to its group). When it
 * also has a switch here, a vde_plug joins the two. */
gboolean nl_lan_vxvde(const NlLab *lab, const char *lan);

/* Fails, saying why, when NODE runs on another host, where netlab runs
 * only what libvirt runs: no wirefilter or switch for WHAT ("impairment",
 * "capture") to act on. */
gboolean nl_nic_here(const NlNode *node, const char *what, GError **error);

/* Whether LAN is a wire (two interfaces, link.h) rather than a switch. */
gboolean nl_lan_wire(const NlLab *lab, const char *lan);

/* What a lab on several hosts does not get, once each, as "FILE:LINE: ..."
 * where it has a line: /hostlab is a copy on a node of another host, and a
 * NIC of such a node has no wirefilter (no impairment). */
GPtrArray *nl_remote_notes(const NlLab *lab);
