/* From the lab model to what libvirt and the guest read: the domain XML and
 * the node's configuration files. Pure functions: no I/O, tested without a VM. */
#pragma once

#include "lab.h"
#include "layout.h"

/* Everything about one VM that is not in the lab model. */
typedef struct {
  const char *domain;   /* libvirt domain name */
  const char *emulator; /* /usr/bin/qemu-system-x86_64 */
  gboolean kvm;         /* else TCG */
  const char *kernel;   /* image QEMU boots */
  const char *initrd;   /* NULL: the kernel mounts its root itself */
  const char *cmdline;
  const char *statedir;
  guint mem_mib;
  guint cpus;
  const char *labdir;   /* the lab directory as QEMU reaches it (read-only) */
  gboolean have_shared; /* LABDIR/shared exists: mount it at /shared */
  const char *shared;   /* LABDIR/shared as QEMU reaches it; NULL: under LABDIR */
  gboolean shared_ro;   /* share shared/ read-only (no user xattrs there) */
  const char *log;      /* the console's log file, as QEMU reaches it */
  const char *disk;     /* the node's qcow2 disk (vda), or NULL: tmpfs */
  /* On another host (see hosts.h): its root is the node's, the node's
   * configuration is in its initramfs, and its serial ports and virtio
   * ports are reached through libvirt's streams, not sockets here. */
  gboolean remote;
  /* Per NIC, NULL or a VDE URL it plugs into rather than its wirefilter
   * (a node on another host). Every NIC on a vxvde LAN (span.h) gets the
   * MTU SPAN_MTU. */
  char *const *nic_urls;
  guint span_mtu;
  /* The node's root: NULL for the host's ("/"), else an unpacked image
   * (image.h), shared read-only in the mapped-xattr model that shows the
   * owners, modes and links its xattrs hold; MODULES, the booted kernel's
   * /lib/modules/VERSION, then goes along read-only (NULL: none). */
  const char *image_root;
  const char *modules;
} NlDomainSpec;

/* The kernel command line netlab always passes, then LAB_APPEND, then the
 * node's append. Each piece is there for boot speed or to run without an init
 * system; see the comments in domxml.c. */
char *nl_domain_cmdline(const NlLab *lab, const NlNode *node);

char *nl_domain_xml(const NlLab *lab, const NlNode *node, const NlDomainSpec *spec);

/* The node's configuration for templates/stage2, as files: name -> content.
 * node.sh (sourced: NL_NAME, NL_MACS, the env lines exported), sysctl and exec
 * (one per line), mounts (which optional shares exist). AGENT is the path of
 * netlab-agent, which the guest runs from the shared root. */
GHashTable *nl_guest_conf(const NlNode *node, gboolean have_shared, const char *agent);

/* FILES (from nl_guest_conf()) for a node on an image's root: node.sh says
 * so (the first stage checks the root has a shell), and mounts names the
 * modules share when there is one. */
void nl_guest_conf_image(GHashTable *files, gboolean modules);
