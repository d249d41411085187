/* Kathará's lrestart: a node of a running lab boots again, clean (a fresh
 * overlay: nothing it wrote survives, unless it has a disk), while its LANs
 * and the other nodes stay up. */
#pragma once

#include "lab.h"
#include "state.h"

/* Stops NODE of the running lab in ST (locked): destroys its domain (through
 * URI, NULL for the embedded driver), kills its QEMU and the wirefilters of
 * its NICs, and removes their sockets and link records, so that `up` of
 * NODE alone starts it as in a fresh lab. Its passt (bridged) stays and
 * takes the new QEMU's connection. */
gboolean nl_restart_stop(NlState *st, const char *uri, const NlNode *node, GError **error);
