/* netlab save: a node's changed files written back into the lab's <node>/
 * directory (which `up` copies over the node's root), so a configuration
 * made by hand becomes part of the lab. */
#pragma once

#include <glib.h>

#include "nodefile.h"

typedef struct {
  gboolean all;    /* every changed file, not only /etc and what <node>/ has */
  gboolean force;  /* overwrite lab files changed since the node booted */
  gint64 up_since; /* the lab is up: since when; 0: each node's last boot on its disk */
} NlSaveOptions;

/* Called for each file considered: "r1: /etc/frr/frr.conf -> r1/etc/frr/frr.conf (new)". */
typedef void (*NlSaveNote)(const char *line, gpointer data);

/* Saves the changes of NODES under LABDIR/NODE/. They are read in a child
 * with the QEMU user's rights, at most NL_NODE_FILE_MAX bytes a file and
 * NL_NODE_OP_MAX in all. Nothing is written outside LABDIR/NODE: every
 * directory is opened without following links and must be the user's own,
 * writable by nobody else; a file replaces what is there by rename, with
 * mode 0644 or 0755. *WRITTEN counts the files written, *USABLE the nodes
 * whose files could be read. Fails, after writing the rest, when a lab file
 * changed since the node booted and O->force is not set. */
gboolean nl_save_nodes(const char *labdir, char **nodes, const NlSaveOptions *o, NlSaveNote note,
                       gpointer data, guint *written, guint *usable, GError **error);

/* The files netlab itself writes at each boot, never saved. */
gboolean nl_save_skipped(const char *path);
