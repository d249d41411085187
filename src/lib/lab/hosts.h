/* A lab across several hosts: the hosts a lab names (LAB_HOSTS), the
 * underlay its spanning LANs ride on (LAB_UNDERLAY), and how a LAN that
 * spans hosts becomes a vxvde:// network. Pure functions: no I/O. */
#pragma once

#include <glib.h>

/* One LAB_HOSTS entry: NAME=URI, a libvirt URI such as
 * qemu+ssh://lab@h2/system. */
typedef struct {
  char *name;
  char *uri;
} NlHost;

void nl_host_free(gpointer host);

/* LAB_UNDERLAY="dev=eth1 mtu=9000 ttl=1 port=14789": the multicast
 * interface of every host (NULL: the route to 239.0.0.0/8 decides), the
 * underlay's MTU, the multicast TTL and the UDP port of vxvde. */
typedef struct {
  char *dev;
  guint mtu;
  guint ttl;
  guint port;
} NlUnderlay;

#define NL_UNDERLAY_MTU 1500
#define NL_UNDERLAY_PORT 14789
/* What a VXLAN frame adds over IPv4: outer Ethernet, IP, UDP, VXLAN. */
#define NL_VXLAN_OVERHEAD 50

void nl_underlay_init(NlUnderlay *u);
void nl_underlay_clear(NlUnderlay *u);

/* Appends the NlHost* VALUE names to HOSTS. Returns what is wrong (to
 * free), or NULL. */
char *nl_hosts_parse(const char *value, GPtrArray *hosts);

/* Sets U from VALUE. Returns what is wrong (to free), or NULL. */
char *nl_underlay_parse(const char *value, NlUnderlay *u);

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
