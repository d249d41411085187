/* Part of a lab: Kathará's `lstart NODE...` and `--exclude` (start some
 * nodes, and the rest later beside them) and `lrestart` (a node boots
 * again, clean: a fresh overlay, nothing it wrote survives unless it has a
 * disk; its LANs and the other nodes stay up). */
#pragma once

#include "lab.h"
#include "state.h"

/* Keeps in LAB the nodes to start now: those NODES names (NULL: every
 * node), less those EXCLUDE names and those already up in the lab of ST.
 * *JOIN says whether part of the lab is up, so that these join it. An
 * error (NL_ERROR_INPUT) for an unknown node or one named that is up
 * already; NL_ERROR_FAILED when nothing is left to start. */
gboolean nl_partial_select(NlLab *lab, const NlState *st, char **nodes, char **exclude,
                           gboolean *join, GError **error);

/* Stops NODE of LAB, running in ST (locked): destroys its domain (through
 * URI, NULL for the embedded driver, or its host's LAB_HOSTS URI), kills its
 * QEMU, its relay (a node on another host) and the wirefilters of its NICs,
 * and removes their sockets and link records, so that `up` of NODE alone
 * starts it as in a fresh lab. Its passt (bridged) stays and takes the new
 * QEMU's connection. */
gboolean nl_restart_stop(NlState *st, const NlLab *lab, const char *uri, const NlNode *node,
                         GError **error);

/* Adds the lines of TEXT that the state key KEY ("nodes", "lans", "disks":
 * one name a line) does not hold yet, so that a lab started in parts lists
 * all of them. */
gboolean nl_partial_add(const NlState *st, const char *key, const char *text, GError **error);

/* Undoes a failed `up` that joined a running lab: stops the nodes of LAB
 * (as nl_restart_stop, with their passt) and takes them off the lab's list,
 * leaving the rest of the lab as it was. */
void nl_partial_stop(NlState *st, const char *uri, const NlLab *lab);

/* Stops every node of LAB (a selection of the lab up in ST, locked) as
 * nl_restart_stop does, after checking that each is up, so that
 * nl_run_up() with join set boots them again. */
gboolean nl_partial_restart(NlState *st, const NlLab *lab, GError **error);

/* Once LAB's nodes (those that restarted) are up again: makes the other end
 * of each of their wires send (nl_link_announce), so that it reaches the
 * wire that started anew with them. */
gboolean nl_partial_reconnect(const NlState *st, const char *uri, const NlLab *lab, GError **error);
