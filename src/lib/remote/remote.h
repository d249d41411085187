/* Nodes on other hosts, through libvirt's remote driver: the connections,
 * the boot files carried there in a storage pool, and what the state
 * directory records so that `down` finds them after any crash. */
#pragma once

#include "lab.h"
#include "state.h"
#include "virt.h"

typedef struct NlRemote NlRemote;

/* Connects to every host of LAB that a node runs on, before anything
 * starts: an unreachable host is an error naming it. NULL without error
 * when every node runs where `up` runs. */
NlRemote *nl_remote_open(const NlLab *lab, const NlState *st, GError **error);

/* The hosts the state directory records, those that answer; each one that
 * does not is a line in *UNREACHABLE ("host 'h2' (URI): why"). */
NlRemote *nl_remote_open_recorded(const NlState *st, GPtrArray *unreachable);

void nl_remote_close(NlRemote *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlRemote, nl_remote_close)

/* Records the hosts in ST ("hosts"), for `down` and `status`. */
gboolean nl_remote_record(const NlRemote *r, const NlState *st, GError **error);

/* The connection to host NAME. */
NlVirt *nl_remote_virt(const NlRemote *r, const char *host);
/* The hosts' names, in LAB_HOSTS order. */
GPtrArray *nl_remote_hosts(const NlRemote *r);

/* Whether NODE's host can run it, as far as libvirt can tell: it has QEMU
 * EMULATOR and, when the node's kernel has modules (MODDIR, their directory
 * here), the same /lib/modules/<version>, since the node loads them off
 * that host's root. The programs the lab runs are not checked. */
gboolean nl_remote_check(NlRemote *r, const NlNode *node, const char *emulator, const char *moddir,
                         GError **error);

/* Puts NODE's boot files on its host: the kernel KERNEL, and the initramfs
 * INITRD followed by an archive of the node's configuration (FILES, name ->
 * content; PROGRAMS, guest name -> host path) and a copy of the lab
 * directory. Their paths on that host go in *KERNEL_AT and *INITRD_AT. */
gboolean nl_remote_boot(NlRemote *r, const NlLab *lab, const NlNode *node, const char *kernel,
                        const char *initrd, GHashTable *files, GHashTable *programs,
                        char **kernel_at, char **initrd_at, GError **error);

/* What `status` says of the nodes on other hosts: node name -> "HOST STATE"
 * (running, paused..., stopped: not on its host, unreachable: the host does
 * not answer), from what `up` recorded in ST. */
GHashTable *nl_remote_node_states(const NlState *st);

/* Records which host each node runs on and the vxvde:// URL of each vxvde
 * LAN (span.h), chosen so that no other lab up from here has it: what
 * `up` wires and `status` shows. */
gboolean nl_remote_record_lab(const NlLab *lab, const NlState *st, GError **error);

/* Per NIC of NODE, the vxvde:// URL it plugs into (as recorded), or NULL
 * for its wirefilter and the LAN's switch here: the NICs of a node on
 * another host plug into their LAN's vxvde network. */
GPtrArray *nl_remote_nic_urls(const NlState *st, const NlNode *node);

/* Starts a netlab-relay (relay.c) per node of LAB on another host, which
 * serves its console, serial and agent sockets in the state directory, as
 * QEMU does for a local node; recorded in ST, so `down` stops it. */
gboolean nl_remote_relay_start(const NlRemote *r, const NlLab *lab, const NlState *st,
                               GError **error);

/* Stops the lab's VMs on every host and removes its storage pools. Each
 * failure is a line in NOTES. */
void nl_remote_down(NlRemote *r, const NlState *st, GPtrArray *notes);

/* The lab's files and directories a node on another host does not get in
 * its /hostlab copy because other users may not read them ("/NAME/..."). */
GPtrArray *nl_remote_unreadable(const char *labdir);
