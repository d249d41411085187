/* The libvirt backend (its calls into libvirt are in the module
 * netlab-virt.so, virt-libvirt.c). By default the embedded QEMU driver with its root in the lab's state
 * directory, so no daemon has to run; any other URI works the same. */
#pragma once

#include <glib.h>

typedef struct NlVirt NlVirt;

/* URI NULL: qemu:///embed?root=STATEDIR, with a qemu.conf that needs no
 * libvirt user, no virtlogd and changes no file's owner. */
NlVirt *nl_virt_open(const char *uri, const char *statedir, GError **error);
void nl_virt_close(NlVirt *v);

/* Whether this process has loaded libvirt (see main.c for why it matters). */
gboolean nl_virt_loaded(void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlVirt, nl_virt_close)

const char *nl_virt_uri(const NlVirt *v);

/* Starts a transient domain. Safe to call from several threads at once. */
gboolean nl_virt_create(NlVirt *v, const char *xml, GError **error);

typedef struct {
  char *name;
  const char *state; /* running, paused, shut off, crashed... */
  int pid;           /* QEMU's, 0 when unknown */
} NlDomainInfo;

/* Domains whose names start with PREFIX (all when PREFIX is ""). */
GPtrArray *nl_virt_list(NlVirt *v, const char *prefix, GError **error);

/* Stops the domain at once (its disk is a tmpfs: nothing to lose). A domain
 * that is already gone is not an error. */
gboolean nl_virt_destroy(NlVirt *v, const char *name, GError **error);

/* Runs COMMAND in the QEMU human monitor (HMP) of domain NAME and returns
 * its output, as `virsh qemu-monitor-command --hmp` does. */
char *nl_virt_hmp(NlVirt *v, const char *name, const char *command, GError **error);

/* Nodes on other hosts (remote.c): a directory storage pool NAME at PATH
 * that holds their boot files; a file uploaded into it from PARTS, one after
 * the other, whose path on the host is returned; the pool removed with its
 * files. */
gboolean nl_virt_pool_create(NlVirt *v, const char *name, const char *path, GError **error);
char *nl_virt_upload(NlVirt *v, const char *pool, const char *vol, GBytes *const *parts,
                     guint n_parts, GError **error);
gboolean nl_virt_pool_delete(NlVirt *v, const char *name, GError **error);
/* The first line (at most MAX bytes) the guest writes on its virtio port
 * CHANNEL, read through libvirt's stream API. Blocks. */
char *nl_virt_channel_line(NlVirt *v, const char *domain, const char *channel, gsize max,
                           GError **error);

/* Joins the client socket FD to PORT of the VM DOMAIN, through libvirt's
 * stream API, until either side closes: PORT is serial0 or serial1 (a
 * serial port) or a virtio port's name. Blocks. */
gboolean nl_virt_relay(NlVirt *v, const char *domain, const char *port, int fd, GError **error);

/* What a host has, as far as libvirt tells: QEMU EMULATOR, and an entry
 * NAME in its directory DIR (a transient storage pool lists it). */
gboolean nl_virt_has_emulator(NlVirt *v, const char *emulator, GError **error);
gboolean nl_virt_dir_has(NlVirt *v, const char *dir, const char *name, GError **error);

/* The QEMU command line (one shell line, environment first) that libvirt
 * renders from domain NAME's XML, with paths where a running QEMU has
 * inherited fds: what a bare QEMU runs to compare with netlab's (the
 * bench's floor). */
char *nl_virt_native(NlVirt *v, const char *name, GError **error);

/* The domain name for NODE: the node's own name in an embedded root, which
 * belongs to one lab; "netlab-<lab id>-<node>" on a shared libvirt. */
char *nl_domain_name(const NlVirt *v, const char *lab_id, const char *node);

/* Copies libvirt's QEMU capabilities between the state directory and the
 * user's cache, so only the first lab pays for probing QEMU (~4 s). */
void nl_virt_save_caps(const char *statedir);
