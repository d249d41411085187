/* netlab save: a node's changed files written back into the lab's <node>/
 * directory (which `up` copies over the node's root), so a configuration
 * made by hand becomes part of the lab. */
#pragma once

#include <glib.h>

#include "nodefile.h"

typedef struct {
  gboolean all;   /* every changed file, not only /etc and what <node>/ has */
  gboolean force; /* overwrite lab files changed since the node booted */
  gint64 since;   /* when the node booted (seconds since the epoch) */
} NlSaveOptions;

/* Called for each file considered: "r1: /etc/frr/frr.conf -> r1/etc/frr/frr.conf (new)". */
typedef void (*NlSaveNote)(const char *line, gpointer data);

/* Saves NODE's changes (read through F) under LABDIR/NODE/. Nothing is
 * written outside it: every directory is opened without following links,
 * and a file replaces what is there by rename. *WRITTEN counts the files
 * written. Fails, after writing the rest, when a lab file changed since
 * O->since and O->force is not set. */
gboolean nl_save_node(const char *labdir, const char *node, NlNodeFiles *f, const NlSaveOptions *o,
                      NlSaveNote note, gpointer data, guint *written, GError **error);

/* The files netlab itself writes at each boot, never saved. */
gboolean nl_save_skipped(const char *path);
