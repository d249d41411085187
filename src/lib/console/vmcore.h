/* Kernel crash dumps of a lab's nodes: the guest's memory, written by QEMU
 * into the state directory, where no guest share reaches, then copied by
 * netlab into a file of mode 0600 it creates itself, by default in the
 * lab's data directory. A vmcore is guest data: netlab never parses it; `crash` or gdb
 * opens it, run as the user (or, for root, as the QEMU user). */
#pragma once

#include <glib.h>

#include "state.h"
#include "util.h"
#include "virt.h"

/* Where vmcores of the lab in LABDIR go by default: DATA/vmcores. */
char *nl_vmcore_dir(const char *labdir);

/* Writes the memory of NODE (lab in LABDIR, state ST, locked by the
 * caller, VIRT its libvirt) as a kdump-compressed vmcore to OUT, or when
 * OUT is NULL to nl_vmcore_dir()/NODE-TIME.vmcore. OUT must not exist.
 * Returns the path written, and in *SECS and *BYTES how long it took and
 * its size. */
char *nl_vmcore_write(const char *labdir, NlState *st, NlVirt *virt, const char *node,
                      const char *out, double *secs, guint64 *bytes, GError **error);

/* ---- vmcores of kernels that panicked (`up --vmcore-on-panic`) ----------
 * The VMs have a pvpanic device: a kernel that panics is paused by QEMU,
 * and libvirt reports its domain crashed. Nothing watches a lab between
 * commands, so the next command that asks libvirt (status, down, a test's
 * end) writes the vmcore of each such node and then stops it, as a panic
 * stops a node otherwise. At most NL_VMCORE_AUTO_MAX vmcores are kept in
 * the lab's directory this way: past that, a panicked node is stopped
 * without one (each is at most about its node's memory). */
#define NL_VMCORE_ON_PANIC "vmcore-on-panic"
#define NL_VMCORE_AUTO_MAX 8

/* Whether the lab up in ST was started with --vmcore-on-panic. */
gboolean nl_vmcore_on_panic(const NlState *st);

/* For each domain of DOMS (NlDomainInfo, of VIRT; the lab's, with PREFIX
 * before each node's name) that libvirt reports crashed: its vmcore, then
 * the domain stopped; "vmcore.NODE" in ST names the file. Returns how many
 * domains it stopped; SAY hears each vmcore and each failure. */
guint nl_vmcore_collect(const char *labdir, NlState *st, NlVirt *virt, GPtrArray *doms,
                        const char *prefix, const NlProgress *say);

/* The vmcore written for NODE when its kernel panicked, or NULL. */
char *nl_vmcore_of(const NlState *st, const char *node);

/* A vmcore in nl_vmcore_dir(): its node (from its name), size and path. */
typedef struct {
  char *node;
  guint64 bytes;
  char *path;
} NlVmcore;

/* The vmcores of the lab in LABDIR (regular files NODE-TIME.vmcore, no
 * link followed), sorted by name; empty when there are none. */
GPtrArray *nl_vmcore_list(const char *labdir);
