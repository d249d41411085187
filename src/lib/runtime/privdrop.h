/* Work on guest data with the QEMU user's rights, never root's.
 *
 * Whatever reads bytes a guest wrote (a node's files through its agent or
 * its disk, a disk's qcow2 through libguestfs or qemu-img, a gdb stub's
 * replies) runs in a forked child that first becomes the user QEMU runs as:
 * as root, netlab-qemu (setgroups/initgroups, setgid, setuid, checked to be
 * irreversible); as an ordinary user, that user, since QEMU runs as them.
 * The child hands its results back through a pipe, which the parent reads
 * under a size bound: a child that sends more is killed and the call fails
 * with an error naming the bound. A child that fails sends its GError's
 * message back (at most NL_DROP_ERROR_MAX bytes), and the parent's call
 * fails with it.
 *
 * The child keeps none of the caller's open files but its standard ones
 * and KEEP_FD: a lock or a root-owned file the caller holds is not handed
 * to code that parses guest bytes. It may not reach everything the caller
 * can (a lab under /root, root-owned state directories): PREPARE runs in
 * the child before the drop, with the caller's rights, to open exactly
 * what the work needs (a disk by fd, an agent's session port). */
#pragma once

#include <glib.h>

/* The longest error message a child may send back. */
#define NL_DROP_ERROR_MAX 4096

/* In the child before the drop (caller's rights): opens what WORK needs. */
typedef gboolean (*NlDropPrepare)(gpointer data, GError **error);
/* In the child after the drop: the work; its results go to OUT (a pipe). */
typedef gboolean (*NlDropWork)(int out, gpointer data, GError **error);
/* In the parent: each chunk of what the child wrote, as it arrives. */
typedef gboolean (*NlDropSink)(const guint8 *buf, gsize len, gpointer data, GError **error);

typedef struct {
  const char *what;      /* for messages: "reading node 'r1'" */
  NlDropPrepare prepare; /* NULL: nothing to open */
  NlDropWork work;
  gpointer data;   /* for PREPARE and WORK (the child's copy of memory) */
  guint64 max;     /* bytes the child may send back in all */
  NlDropSink sink; /* NULL: collected and returned */
  gpointer sink_data;
  int keep_fd; /* > 2: one of the caller's descriptors the child keeps */
} NlDrop;

/* Runs D->work in a child with the QEMU user's rights. Returns what it sent
 * (empty when D->sink took it), or NULL with an error: the child failed,
 * died, sent more than D->max bytes, or could not drop its rights. */
GBytes *nl_drop_run(const NlDrop *d, GError **error);

/* In PREPARE: a path by which the work, and the programs it starts as the
 * same user (libguestfs' QEMU, qemu-img), reach the open file FD, which the
 * QEMU user may not reach by its own path (a root-only data directory):
 * as root, FD bound (read-only unless RW) on a file NAME of a tmpfs on /mnt
 * in a mount namespace of the child's own, nothing of it visible outside;
 * else /proc/PID/fd/FD. libguestfs resolves its disks' paths, so a magic
 * link alone is not enough. */
char *nl_drop_expose(int fd, const char *name, gboolean rw, GError **error);

/* In a child of nl_drop_run(): the rights were dropped (for tests: the
 * uid and gid the work runs with). */
gboolean nl_drop_dropped(void);
