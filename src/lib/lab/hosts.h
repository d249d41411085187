/* A lab across several hosts, as lab.conf says it: the hosts a lab names
 * (LAB_HOSTS) and the underlay its spanning LANs ride on (LAB_UNDERLAY);
 * span.h makes a spanning LAN's vxvde:// network of them. Pure functions:
 * no I/O. */
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
