/* gdb on a guest's stub, through a relay that follows gdb's remote protocol.
 *
 * The stub (QEMU's GDB stub, KGDB in the guest's kernel, a gdbserver in the
 * guest) is the guest's: the relay refuses its File-I/O requests (which
 * would have gdb open, write or remove host files), answering the stub with
 * an error and never passing them to gdb, and bounds what it sends back
 * (each packet, console and `monitor` output, qXfer objects). gdb itself
 * runs with the QEMU user's rights when root runs netlab.
 *
 * With FREEZE, the relay also freezes the rest of the lab whenever the
 * target stops (a stop reply, the halt on attach) and thaws it when gdb
 * lets the target run again (continue, step, detach...), so that the
 * network sees no time pass while the kernel sits at a breakpoint. */
#pragma once

#include <glib.h>

#include "vm.h"
#include "util.h"

/* The bounds of what the relay takes from a stub. */
#define NL_GDB_PACKET_MAX (256 * 1024)
#define NL_GDB_OUTPUT_MAX (1024 * 1024)     /* console/monitor output per request */
#define NL_GDB_QXFER_MAX (16 * 1024 * 1024) /* one qXfer object, all chunks */

typedef struct {
  const NlVm *vm;
  const char *stub; /* the stub's socket: gdb.sock or serial1.sock */
  /* gdb's own arguments, before netlab's `target remote` and after: */
  char **before, **after;
  const char *symbols; /* an ELF for gdb's `file`, or NULL */
  const char *scripts; /* vmlinux-gdb.py to source, or NULL */
  char **freeze;       /* nodes to freeze while the target is stopped; NULL: none */
  gboolean halted;     /* the target is stopped once gdb connects */
} NlGdbSession;

/* Runs gdb in the foreground through the relay. Returns gdb's exit status;
 * SAY hears freezes, thaws and refusals. */
int nl_gdb_session(const NlGdbSession *s, const NlProgress *say, GError **error);
