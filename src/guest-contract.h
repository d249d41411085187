/* The contract between the host and the guest's boot: the names both sides
 * use, written down once. The host side is C (domxml.c renders the shares
 * and ports, run.c writes the configuration and reads the control port);
 * the guest side is shell (templates/init, templates/stage2), which reads
 * the same values from /netlab/contract, a file the initramfs gets from
 * nl_guest_contract() below; the agent (agent.c) includes this header and
 * agent-proto.h. Change a name here and both sides follow. */
#pragma once

/* (No GLib here: the agent includes this header.) */

/* 9p mount tags. The host's root is the one the kernel could mount itself
 * (root=/dev/root). */
#define NL_GUEST_TAG_ROOT "/dev/root"
#define NL_GUEST_TAG_CONF "netlab"     /* STATE/conf/NODE, read-only */
#define NL_GUEST_TAG_LAB "hostlab"     /* the lab directory, at /hostlab */
#define NL_GUEST_TAG_SHARED "shared"   /* LABDIR/shared, at /shared */
#define NL_GUEST_TAG_MODULES "modules" /* an image node's /lib/modules/VERSION */

/* Where the guest mounts its configuration share, and the files in it
 * (written by run.c from nl_guest_conf()). */
#define NL_GUEST_CONF_DIR "/run/netlab/conf"
#define NL_GUEST_FILE_NODE "node.sh"  /* sourced: NL_NAME, NL_MACS, NL_AGENT, env */
#define NL_GUEST_FILE_SYSCTL "sysctl" /* one KEY=VALUE per line */
#define NL_GUEST_FILE_EXEC "exec"     /* one command per line, after the startup scripts */
#define NL_GUEST_FILE_MOUNTS "mounts" /* which optional shares exist: "shared" */
#define NL_GUEST_FILE_ULIMIT "ulimit" /* the node's ulimit options, for stage2 */

/* The virtio-serial ports, found by name in /sys/class/virtio-ports. */
#define NL_GUEST_PORT_CTL "netlab.ctl"
#define NL_GUEST_PORT_AGENT "netlab.agent." /* then 0 .. NLA_PORTS-1 */

/* The one line stage2 writes on the control port once the startup scripts
 * ran: "ready RC\n", RC their status (0-255). Anything else fails the VM. */
#define NL_GUEST_CTL_READY "ready"
#define NL_GUEST_CTL_LINE_MAX 64

/* On the kernel command line: the node's disk holds its upper layer. */
#define NL_GUEST_ARG_DISK "netlab.disk=vda"

/* The contract as shell assignments (NL_TAG_CONF=netlab ...), for the
 * guest's scripts: the initramfs carries it as /netlab/contract. */
char *nl_guest_contract(void);
