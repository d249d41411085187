/* Kernel crash dumps of a lab's nodes: the guest's memory, written by QEMU
 * (as the QEMU user) into the state directory, where no guest share
 * reaches, then copied by netlab into a file of mode 0600 it creates
 * itself. A vmcore is guest data: netlab never parses it; `crash` or gdb
 * opens it, run as the user (or, for root, as the QEMU user). */
#pragma once

#include <glib.h>

#include "state.h"

/* Where vmcores of the lab in LABDIR go by default: LABDIR/.netlab/vmcores. */
char *nl_vmcore_dir(const char *labdir);

/* Writes the memory of NODE (lab in LABDIR, state ST, locked by the
 * caller) as a kdump-compressed vmcore to OUT, or when OUT is NULL to
 * nl_vmcore_dir()/NODE-TIME.vmcore. OUT must not exist. Returns the path
 * written, and in *SECS and *BYTES how long it took and its size. */
char *nl_vmcore_write(const char *labdir, NlState *st, const char *node, const char *out,
                      double *secs, guint64 *bytes, GError **error);

/* A vmcore in nl_vmcore_dir(): its node (from its name), size and path. */
typedef struct {
  char *node;
  guint64 bytes;
  char *path;
} NlVmcore;

/* The vmcores of the lab in LABDIR (regular files NODE-TIME.vmcore, no
 * link followed), sorted by name; empty when there are none. */
GPtrArray *nl_vmcore_list(const char *labdir);
