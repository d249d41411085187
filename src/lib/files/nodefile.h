/* A node's files from the host, whichever way reaches them: through the
 * guest agent while its VM runs, else through its disk (libguestfs, read-only
 * unless writing), for a lab that is down or a VM that died. Paths are the
 * node's own ("/etc/frr/frr.conf"). What a guest wrote is data here: it
 * only ever lands in a file the user named, never decides where. */
#pragma once

#include <glib.h>

#include "privdrop.h"

typedef struct NlNodeFiles NlNodeFiles;

/* Limits on what comes out of a node (documented in netlab(1)): a file
 * read (cat, cp, save, diff -p, a node's /var/log in a post-mortem), and
 * all of one command's reads together. */
#define NL_NODE_FILE_MAX ((guint64)64 << 20)
#define NL_NODE_OP_MAX ((guint64)256 << 20)

/* Every operation on a node's files runs in a child with the QEMU user's
 * rights (privdrop.h): nl_node_files_run() opens NODES there (an agent's
 * session port and a disk, by fd, are opened before the drop; a disk must
 * pass the qcow2 check, qcow2.h) and calls WORK with them, FILES[i] for
 * NODES[i]. What WORK writes to OUT comes back, at most MAX bytes: to SINK
 * if given, else returned. */
typedef gboolean (*NlNodeFilesWork)(NlNodeFiles **files, guint n, int out, gpointer data,
                                    GError **error);
GBytes *nl_node_files_run(const char *labdir, char **nodes, gboolean writable, NlNodeFilesWork work,
                          gpointer data, guint64 max, NlDropSink sink, gpointer sink_data,
                          GError **error);

/* The commands, each one child: cat PATHS[i] of NODES[i] to OUT; copy PATH
 * of NODE to OUT, or FD (MODE) into PATH of NODE; what NODE changed (with
 * the content diffs when PATCH) to OUT; ls of PATH of NODE to OUT. */
gboolean nl_node_cat(const char *labdir, char **nodes, char **paths, int out, GError **error);
gboolean nl_node_copy_out(const char *labdir, const char *node, const char *path, int out,
                          GError **error);
gboolean nl_node_copy_in(const char *labdir, int fd, const char *node, const char *path, int mode,
                         GError **error);
gboolean nl_node_diff(const char *labdir, const char *node, gboolean patch, int out,
                      GError **error);
gboolean nl_node_ls(const char *labdir, const char *node, const char *path, gboolean json, int out,
                    GError **error);

/* What `ls --json` lists of a directory at most, and the most its output
 * holds: the entries past either bound are left out, and it says so. */
#define NL_LS_ENTRIES_MAX 5000
#define NL_LS_JSON_MAX (1024 * 1024)

/* In WORK: whether F's node could be reached (running, or with a disk; the
 * stopped ones' disks in a single libguestfs launch), and, when not, the
 * error saying why. */
gboolean nl_node_files_usable(const NlNodeFiles *f);
const char *nl_node_files_unusable_why(const NlNodeFiles *f);

/* The node's name. */
const char *nl_node_files_node(const NlNodeFiles *f);
/* "the agent" or "its disk (libguestfs)", for messages. */
const char *nl_node_files_via(const NlNodeFiles *f);

/* Writes file PATH (symlinks followed, within the node's root) to FD; at
 * most NL_NODE_FILE_MAX bytes. */
gboolean nl_node_files_read(NlNodeFiles *f, const char *path, int fd, GError **error);
/* Writes FD's content to PATH, mode MODE. */
gboolean nl_node_files_write(NlNodeFiles *f, int fd, const char *path, int mode, GError **error);
/* `ls -l`-like lines for PATH (a directory's entries, or the entry). */
char *nl_node_files_ls(NlNodeFiles *f, const char *path, GError **error);

/* An entry of a listing: TYPE is 'd', 'f', 'l', 'c', 'b', 'p', 's' or '?'. */
typedef struct {
  char *name;
  char type;
  guint32 mode; /* the permission bits */
  guint64 size;
} NlFileEntry;
void nl_file_entry_free(NlFileEntry *e);
/* PATH's entries sorted by name, at most MAX (*TRUNCATED when there were
 * more); none when PATH is not a directory. *TYPE is PATH's own type, its
 * links followed (within the node's root). */
GPtrArray *nl_node_files_list(NlNodeFiles *f, const char *path, guint max, char *type,
                              gboolean *truncated, GError **error);
/* The JSON `ls --json` prints (doc/netlab.1.scd): at most NL_LS_JSON_MAX
 * bytes, entries left out past that and "truncated" set. Names that are not
 * UTF-8 are shown made valid, with "name_exact": false. Pure. */
char *nl_ls_json(const char *node, const char *path, char type, GPtrArray *entries,
                 gboolean truncated, const char *via);

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
