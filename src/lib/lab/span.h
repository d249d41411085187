/* Where a lab's LANs run when its nodes are on several hosts (see
 * hosts.h), and the vxvde:// network a LAN that spans hosts becomes: pure
 * functions of the lab model. */
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
GPtrArray *nl_span_notes(const NlLab *lab);

/* The vxvde:// address of LAN: a multicast group in 239.0.0.0/8 and a VNI,
 * each 24 bits of a hash of the machine that runs `up` (SEED_HOST), the
 * lab's path, the LAN's name and SALT (0 for the first choice, another for
 * another), so two labs (or two LANs of one lab) share neither unless both
 * 24-bit values collide. */
char *nl_span_url(const char *seed_host, const char *lab_dir, const char *lan, guint salt,
                  const NlUnderlay *u);

/* What makes two vxvde networks one, their group and VNI ("239.1.2.3/77"),
 * from a URL nl_span_url() made; NULL for anything else. */
char *nl_span_id(const char *url);

/* LAN's address (nl_span_url), with the first salt whose group and VNI
 * TAKEN (a set of nl_span_id() strings) lacks. */
char *nl_span_pick(const char *seed_host, const char *lab_dir, const char *lan, const NlUnderlay *u,
                   GHashTable *taken);

/* The largest frame vde_switch carries (its VDE_MTU of 1504, with the
 * Ethernet header): what a NIC here reaches a spanning LAN through. */
#define NL_SWITCH_MTU 1500

/* The MTU of a guest NIC on a spanning LAN, the same for every NIC on it:
 * the underlay's less VXLAN's, at most a switch's. */
guint nl_span_mtu(const NlUnderlay *u);
