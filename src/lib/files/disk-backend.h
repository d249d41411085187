/* The interface of netlab-disk.so, the module that wraps libguestfs' C API
 * (src/modules/disk-libguestfs.c). libguestfs pulls in about 40 shared
 * libraries; as a module, only the commands that touch a disk's content
 * load them, and `up` of a lab whose disks need nothing does not load it at
 * all.
 *
 * A disk's content is written by its guest: the module never mounts it on
 * the host, only in libguestfs' own appliance, and hands back file contents
 * and names as data. */
#pragma once

#include <glib.h>

/* One disk to make ready before a boot. */
typedef struct {
  const char *node;
  const char *path;
  guint64 bytes;   /* create: the virtual size */
  gboolean create; /* a new qcow2, formatted ext4 with upper/ and work/ */
  gboolean check;  /* an existing one after an unclean stop: e2fsck it */
  char *report;    /* out (check): what e2fsck found, one line */
} NlDiskJob;

/* An entry of a disk's upper layer. */
typedef struct {
  char *path;   /* "/etc/frr/frr.conf", relative to the node's root */
  guint32 mode; /* st_mode */
  guint64 size;
  guint64 rdev;
  gboolean opaque; /* a directory that hides the lower one */
} NlDiskEntry;

typedef struct NlDiskFs NlDiskFs;

typedef struct {
  /* Creates and checks JOBS[0..N) in one appliance launch. */
  gboolean (*prepare)(NlDiskJob *const *jobs, guint n, GError **error);
  /* Launches one appliance with the disks at PATHS (read-only unless
   * WRITABLE), each mounted; disk I of PATHS is index I below. */
  NlDiskFs *(*open)(const char *const *paths, guint n, gboolean writable, GError **error);
  void (*close)(NlDiskFs *fs);
  /* lstat of PATH in the upper layer of disk I; FALSE and no error when
   * absent. */
  gboolean (*lstat)(NlDiskFs *fs, guint i, const char *path, NlDiskEntry *out, GError **error);
  char *(*readlink)(NlDiskFs *fs, guint i, const char *path, GError **error);
  /* The names in directory PATH of disk I's upper layer. */
  char **(*list)(NlDiskFs *fs, guint i, const char *path, GError **error);
  /* Every entry of disk I's upper layer, sorted by path. */
  GPtrArray *(*walk)(NlDiskFs *fs, guint i, GError **error);
  /* Copies file PATH of disk I's upper layer into the open file FD. */
  gboolean (*read)(NlDiskFs *fs, guint i, const char *path, int fd, GError **error);
  /* Writes the open file FD to PATH in disk I's upper layer (mode MODE),
   * creating its parent directories. */
  gboolean (*write)(NlDiskFs *fs, guint i, int fd, const char *path, int mode, GError **error);
  /* A gzipped tar of directory PATH of disk I's upper layer into FD. */
  gboolean (*tar)(NlDiskFs *fs, guint i, const char *path, int fd, GError **error);
} NlDiskBackend;

/* The one symbol the module exports. */
#define NL_DISK_BACKEND "nl_disk_backend"
#ifdef NL_MODULE
/* The module is built with hidden visibility: its table is all it exports. */
extern const NlDiskBackend nl_disk_backend __attribute__((visibility("default")));
#endif
