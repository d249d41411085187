/* What a lab's scripts run that a node's root lacks. Nodes boot on the
 * host's root, so a program a startup script calls must be installed on the
 * host; Kathará's images carry more than a minimal Debian (iptables,
 * bridge-utils, ...). This finds the commands NODE.startup, shared.startup
 * and NODE.shutdown call and the services they start, and names the Debian
 * package for each that is missing. A hint, not a verdict: the scan reads
 * shell the way a person skimming it would (command position only), so a
 * command built at run time is not seen. */
#pragma once

#include <glib.h>

#include "lab.h"

typedef struct {
  char *file;    /* the script, absolute */
  guint line;    /* where it is first called */
  char *what;    /* "iptables", "service bind9", or a kernel option "CONFIG_VXLAN" */
  char *why;     /* for a kernel option, what asks for it: "ip link type vxlan" */
  char *package; /* the Debian package that has it, or Kathará's image
                  * ("kathara/p4") when Debian has none; NULL: not known */
} NlNeed;

void nl_need_free(NlNeed *n);

/* The commands TEXT (a shell script) runs at command position, in order,
 * once each, with their line: an array of NlNeed with package NULL. The
 * services it starts (`systemctl start X`, `service X start`,
 * `/etc/init.d/X start`) come as "service X", the kernel options its
 * commands use as "CONFIG_X" with their why. Pure. */
GPtrArray *nl_needs_scan(const char *text, const char *file);

/* The Debian package that has COMMAND (a name, a path, or "service X"),
 * Kathará's image that has it when Debian 12 has no package ("kathara/p4"),
 * or NULL. */
const char *nl_needs_package(const char *what);

/* The kernel options (what "CONFIG_...") that the scripts of NODE in LAB
 * use, through iptables matches and targets, tc qdiscs and `ip link add
 * ... type`, that the kernel configuration CONFIG (a .config's text) has
 * neither built in nor as a module: an array of NlNeed. */
GPtrArray *nl_needs_kernel_lacks(const NlLab *lab, const NlNode *node, const char *config);

/* What NODE's scripts in LAB call that neither ROOT (the root the node
 * boots: "/" for the host's) nor the node's own directory of the lab has:
 * an array of NlNeed, in script order. */
GPtrArray *nl_needs_missing(const NlLab *lab, const NlNode *node, const char *root);
