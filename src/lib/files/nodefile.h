/* A node's files from the host, whichever way reaches them: through the
 * guest agent while its VM runs, else through its disk (libguestfs, read-only
 * unless writing), for a lab that is down or a VM that died. Paths are the
 * node's own ("/etc/frr/frr.conf"). What a guest wrote is data here: it
 * only ever lands in a file the user named, never decides where. */
#pragma once

#include <glib.h>

typedef struct NlNodeFiles NlNodeFiles;

/* WRITABLE: a disk is opened read-write (for `cp` into a stopped node). */
NlNodeFiles *nl_node_files_open(const char *labdir, const char *node, gboolean writable,
                                GError **error);
void nl_node_files_close(NlNodeFiles *f);
/* One NlNodeFiles per name of NODES, the stopped ones' disks in a single
 * libguestfs launch; a node neither running nor with a disk gets one that
 * is not usable. */
GPtrArray *nl_node_files_open_all(const char *labdir, char **nodes, gboolean writable,
                                  GError **error);
gboolean nl_node_files_usable(const NlNodeFiles *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlNodeFiles, nl_node_files_close)

/* "the agent" or "its disk (libguestfs)", for messages. */
const char *nl_node_files_via(const NlNodeFiles *f);

/* Writes file PATH (symlinks followed, within the node) to FD. */
gboolean nl_node_files_read(NlNodeFiles *f, const char *path, int fd, GError **error);
/* Writes FD's content to PATH, mode MODE. */
gboolean nl_node_files_write(NlNodeFiles *f, int fd, const char *path, int mode, GError **error);
/* `ls -l`-like lines for PATH (a directory's entries, or the entry). */
char *nl_node_files_ls(NlNodeFiles *f, const char *path, GError **error);

/* What the node changed against the host's root, from its upper layer. */
typedef enum {
  NL_CHANGE_ADDED = 'A',
  NL_CHANGE_MODIFIED = 'M',
  NL_CHANGE_DELETED = 'D'
} NlChangeKind;
typedef struct {
  char *path;
  NlChangeKind kind;
  char type; /* 'f' file, 'd' directory, 'l' symlink, '?' other */
  guint32 mode;
} NlChange;
void nl_change_free(NlChange *c);
GPtrArray *nl_node_files_changes(NlNodeFiles *f, GError **error);
/* Writes file PATH of the upper layer (as nl_node_files_changes() names
 * it) to FD. */
gboolean nl_node_files_read_upper(NlNodeFiles *f, const char *path, int fd, GError **error);
/* A gzipped tar of directory PATH of the upper layer into FD. */
gboolean nl_node_files_tar_upper(NlNodeFiles *f, const char *path, int fd, GError **error);
/* A unified diff of C (a file) against the host's root; "" when none. */
char *nl_node_files_diff(NlNodeFiles *f, const NlChange *c, GError **error);

/* "NODE:PATH" split; PATH made absolute and without "." or "..". FALSE
 * when SPEC has no "NODE:" (a host path). */
gboolean nl_node_path_parse(const char *spec, char **node, char **path);
