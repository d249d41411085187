/* Where a lab's LANs run when its nodes are on several hosts (see
 * hosts.h): pure functions of the lab model. */
#pragma once

#include "lab.h"

/* Whether the NICs on LAN sit on more than one host (the host `up` runs on
 * counting as one). */
gboolean nl_lan_spans(const NlLab *lab, const char *lan);

/* Whether LAN runs where `up` runs: it spans no hosts and its NICs are
 * there. */
gboolean nl_lan_local(const NlLab *lab, const char *lan);

/* Whether LAN is a wire (two interfaces, link.h) rather than a switch. */
gboolean nl_lan_wire(const NlLab *lab, const char *lan);

/* Per NIC of NODE, the VDE URL it plugs into, or NULL for its wirefilter
 * and the LAN's vde_switch: a LAN that spans hosts is a vxvde:// network on
 * the underlay, and so is one on a single other host, where netlab cannot
 * start a vde_switch (vxvde refuses a TTL of 0, which would keep its
 * multicast in the host: it reaches the underlay, where no other host
 * listens to its group). */
GPtrArray *nl_nic_urls(const NlLab *lab, const NlNode *node);

/* What a lab on several hosts does not get, once each, as "FILE:LINE: ..."
 * where it has a line: /hostlab is a copy on a node of another host, and a
 * NIC that plugs into a vxvde network has no wirefilter (no impairment). */
GPtrArray *nl_remote_notes(const NlLab *lab);
