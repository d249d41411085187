/* A VM's serial console from the host, without libvirt: QEMU's Unix socket
 * in the state directory, one client at a time, and the console log the
 * lab directory keeps. */
#pragma once

#include <glib.h>

#include "util.h"
#include "vm.h"

/* Relays the console of VM until the user detaches. On a terminal: raw mode,
 * Ctrl-] detaches. Otherwise stdin goes to the console, the console to
 * stdout, and after stdin's end the output is read until it has been quiet
 * for half a second (five seconds at most). One client at a time: another
 * `netlab console` of the same VM is refused, or with FORCE stopped. SAY
 * hears how the session began and ended. */
gboolean nl_console_attach(const NlVm *vm, gboolean force, const NlProgress *say, GError **error);

/* The files of the console log LOG in the order they were written: its
 * head, then the two parts of its tail, the older first (logkeep.h). */
typedef struct {
  char *path[3];
} NlLogParts;
void nl_log_parts(const char *log, NlLogParts *l);
void nl_log_parts_clear(NlLogParts *l);

/* Writes the whole console log LOG (its head, a mark where bytes were cut,
 * then its tail: logkeep.h) to OUT; FALSE when OUT is closed. */
gboolean nl_console_log_write(const char *log, int out);
/* Copies the console log of NODE of LABDIR (as nl_console_log_write) to
 * OUT, for the post-mortem of `netlab test`: netlab-log writes it as the
 * QEMU user, so it is read in a child with the QEMU user's rights
 * (privdrop.h). The child opens its files before it drops them, from the
 * logs directory reached one component at a time from the data directory's
 * base (O_NOFOLLOW, each the user's and writable by nobody else); a part
 * that is not a regular file (a link, a FIFO) is left out and said in OUT,
 * and of each part at most its bound (logkeep.h) is copied. */
gboolean nl_console_log_keep(const char *labdir, const char *node, int out, GError **error);
/* How many bytes of the console log LOG were dropped to keep it bounded. */
guint64 nl_console_log_cut(const char *log);
/* Copies the console log of NODE (in the lab's data directory, layout.h;
 * it outlives the lab) to stdout; FOLLOW: then what the VM writes, until
 * interrupted, across a new `up` of the lab. */
gboolean nl_console_log(const char *labdir, const char *node, gboolean follow, GError **error);
