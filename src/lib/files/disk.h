/* Nodes' disks, netlab's side: where they live, which need preparing before
 * a boot, and files in and out of them. libguestfs itself is in
 * netlab-disk.so (modules/disk-libguestfs.c, disk-backend.h), loaded only
 * when a disk's content is touched.
 *
 * Layout: DATA/disks/NODE.qcow2 (the lab's data directory, layout.h), ext4 labelled "netlab", with
 * upper/ and work/ at its root (the overlay's upper and work directories);
 * NODE.dirty beside it while a VM runs on it and until `down` has synced
 * it, so the next `up` checks it (e2fsck) first. */
#pragma once

#include <glib.h>

#include "disk-backend.h"
#include "lab.h"

/* DATA/disks */
char *nl_disk_dir(const char *labdir);
/* DATA/disks/NODE.qcow2 */
char *nl_disk_path(const char *labdir, const char *node);

/* The disk a running QEMU uses must be readable and writable by the user
 * QEMU runs as: netlab-qemu when netlab runs as root (else QEMU runs as the
 * caller, who owns the file already). */
gboolean nl_disk_grant_qemu(const char *path, GError **error);

/* The qcow2 check (qcow2.h) of the disk at PATH, opened without following
 * a link: before every use of a node's disk. An error names it. */
gboolean nl_disk_check(const char *path, GError **error);

/* Checks the lab's disks that `up` would create against the free space:
 * "lab.conf:LINE: ..." errors (NL_ERROR_INPUT), before anything starts. */
gboolean nl_disk_check_space(const NlLab *lab, GError **error);

/* Creates the disks of LAB's nodes that have none yet and checks those left
 * dirty, all in one libguestfs launch, and none when nothing needs it; in a
 * child with the QEMU user's rights (privdrop.h), every existing disk
 * first passing the qcow2 check.
 * NOTE is told of each disk created or checked ("created, 2048 MiB",
 * "checked: clean"). */
typedef void (*NlDiskNote)(const char *node, const char *what, gpointer data);
gboolean nl_disk_prepare(const NlLab *lab, NlDiskNote note, gpointer data, GError **error);

/* Whether NODE's disk may hold unsynced writes (a VM runs or ran on it and
 * was not stopped by `down` after a sync). */
gboolean nl_disk_set_dirty(const char *labdir, const char *node, gboolean dirty, GError **error);

/* When NODE last booted on its disk (0: never): `save` does not overwrite
 * lab files changed since, unless forced. */
gboolean nl_disk_mark_booted(const char *labdir, const char *node, GError **error);
gint64 nl_disk_booted(const char *labdir, const char *node);

/* A disk of the lab directory, for status and wipe. */
typedef struct {
  char *node;
  char *path;
  guint64 virtual_bytes; /* the guest's view, from the qcow2 header */
  guint64 used_bytes;    /* what the file takes on the host */
  gboolean dirty;
} NlDiskInfo;
void nl_disk_info_free(NlDiskInfo *d);
/* The disks under DATA/disks, by node name. */
GPtrArray *nl_disk_list(const char *labdir);
/* Removes NODE's disk; FALSE with no error when it has none. */
gboolean nl_disk_remove(const char *labdir, const char *node, GError **error);

/* libguestfs, loaded on first use, with its environment set for this host
 * (the direct backend; TCG when KVM is not usable). */
const NlDiskBackend *nl_disk_backend(GError **error);
