/* Small helpers every module shares: the error domain and file utilities. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

/* Exit codes follow the error code: NL_ERROR_INPUT is a usage or topology
 * error (exit 2), NL_ERROR_EXEC exits 125, everything else an operation that
 * failed (exit 1). */
typedef enum {
  NL_ERROR_FAILED = 1,
  NL_ERROR_INPUT = 2,
  /* `exec` returns the remote command's status, so netlab's own failures
   * there use 125, as docker exec does. */
  NL_ERROR_EXEC = 125,
} NlErrorCode;

#define NL_ERROR (nl_error_quark())
GQuark nl_error_quark(void);

/* Writes CONTENTS to PATH atomically (temporary file, then rename). */
gboolean nl_write_file(const char *path, const char *contents, gssize len, int mode,
                       GError **error);

/* Returns the absolute, symlink-free form of PATH, or NULL with an error. */
char *nl_realpath(const char *path, GError **error);

/* Runs the HMP COMMAND in NODE's QEMU through a child `netlab monitor`:
 * libvirt's embedded driver, once a process opened it, stays with that
 * process (and its lock on the lab's driver with it) until the process
 * ends, so a command that runs long (a capture, a monitor prompt) never
 * opens it itself. With OUT, the reply is returned there, and anything in
 * it is an error (HMP's errors are its output); without, the child prints
 * to this process's stdout and stderr. FALSE if the child failed. */
gboolean nl_monitor_child(const char *labdir, const char *node, const char *command, char **out,
                          GError **error);

/* For g_ptr_array_sort() of strings: it passes pointers to the elements. */
int nl_strv_cmp(gconstpointer a, gconstpointer b);

/* Per-user cache directory for netlab (kernels, initramfs, libvirt's
 * capabilities), created on demand: $XDG_CACHE_HOME/netlab. */
char *nl_cache_dir(GError **error);

/* NAME beside the running netlab, as in the build tree, else INSTALLED,
 * where `meson install` puts it: under the prefix this netlab runs from
 * (which a staged install in a DESTDIR is), else the configured one. */
char *nl_find_beside_self(const char *name, const char *installed, GError **error);

/* netlab's own data file or directory NAME ("templates", "kernel-config", "web"):
 * in the source tree when this netlab runs from its build directory, else
 * in the data directory of the prefix it runs from, else the configured
 * one (or the source tree, when nothing is installed there). */
char *nl_data_path(const char *name);

/* Reads the regular file PATH, at most MAX bytes, into *CONTENTS (NUL-
 * terminated) and *LEN. Refuses, without blocking, what is not a regular
 * file (a FIFO would hang the reader) and a file larger than MAX, saying so
 * with the limit. A missing file is a G_FILE_ERROR_NOENT error. */
gboolean nl_read_file_max(const char *path, gsize max, char **contents, gsize *len, GError **error);
/* The same, opened with FLAGS added to open(2)'s (O_NOFOLLOW: a symbolic
 * link is refused, ELOOP). */
gboolean nl_read_file_flags(const char *path, int flags, gsize max, char **contents, gsize *len,
                            GError **error);

/* Opens PATH to read (FLAGS added to O_RDONLY, O_NOFOLLOW say), its status
 * in *ST: a regular file, else -1 and the error "WHAT 'PATH': why". Never
 * blocks: opening a FIFO would wait for a writer. */
int nl_open_regular(const char *path, int flags, struct stat *st, const char *what, GError **error);

/* Whether REL, a path read from a tree (modules.dep), stays in it: not
 * empty, not absolute, no "." or ".." component, no empty one. Pure. */
gboolean nl_rel_path_ok(const char *rel);
/* Whether NAME is a single plain file name (a kernel release names a
 * directory of /lib/modules): not empty, no '/', not "." or "..", at most
 * 255 bytes, printable ASCII. Pure. */
gboolean nl_name_ok(const char *name);

/* Sets ERROR to "FMT: strerror(ERR)" in NL_ERROR_FAILED and returns FALSE, so
 * that a failed system call is reported and returned in one line. */
gboolean nl_set_errno(GError **error, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* TRUE when the file PATH leads to, and its directory, are owned by the
 * effective user and nobody else can write to either: what may be trusted
 * to run code as us. */
gboolean nl_owned_by_me(const char *path);

/* Loads the module FILE (beside netlab, else INSTALLED; see
 * nl_find_beside_self) and returns its SYMBOL: how libvirt and libguestfs
 * stay out of the commands that do not need them. */
const void *nl_load_module(const char *file, const char *installed, const char *symbol,
                           GError **error);

/* The SHA-256 of TEXT: stable names and numbers derived from a path. */
void nl_sha256(const char *text, guint8 digest[32]);

/* Makes the directory PATH and its parents (mode MODE for those it makes);
 * an existing directory is fine. */
gboolean nl_mkdir(const char *path, int mode, GError **error);

/* Writes all of DATA to FD, across short writes and EINTR. */
gboolean nl_write_all(int fd, const void *data, gsize len);

/* Connects a stream socket (close-on-exec) to the Unix socket PATH. A path
 * longer than sun_path's 108 bytes is reached through its directory's fd
 * (/proc/self/fd/N/NAME), as conmon does; one that is still too long is an
 * error, never truncated. Sets errno too, for callers that tell causes
 * apart. */
int nl_unix_connect(const char *path, GError **error);

/* Calls COND(DATA) until it returns TRUE, sleeping INTERVAL_MS between
 * calls, for at most TIMEOUT_MS. Returns whether COND came true. For what
 * gives no event to wait on (a socket another process makes, a lock). */
gboolean nl_wait_until(gboolean (*cond)(gpointer data), gpointer data, guint timeout_ms,
                       guint interval_ms);

/* How a module tells its caller what happens, for the caller to show:
 * modules never print. A PROGRESS line is shown as it is ("r1: ready in
 * 3.2 s"), a NOTICE is something the user should know ("using TCG ..."),
 * a WARNING something that went wrong without stopping the operation. */
typedef enum { NL_SAY_PROGRESS, NL_SAY_NOTICE, NL_SAY_WARNING } NlSayLevel;

typedef struct {
  void (*say)(NlSayLevel level, const char *message, gpointer data);
  gpointer data;
} NlProgress;

/* Calls P's say with the formatted message; nothing when P or its say is
 * NULL. */
void nl_say(const NlProgress *p, NlSayLevel level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
