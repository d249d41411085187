/* The picture of a lab: nodes, LANs as small shapes, an edge per interface
 * labelled with its name and, when the lab is up, its addresses. Pure
 * functions from the lab model to DOT, Mermaid or JSON; Graphviz renders. */
#pragma once

#include "lab.h"

/* ADDRS: "node:ethN" -> GPtrArray of "10.0.0.1/24" strings, or NULL (a lab
 * that is down). */
char *nl_graph_dot(const NlLab *lab, GHashTable *addrs);
char *nl_graph_mermaid(const NlLab *lab, GHashTable *addrs);
char *nl_graph_json(const NlLab *lab, GHashTable *addrs);

/* Adds to ADDRS what `ip -j addr` printed in NODE: each interface's
 * addresses, but for link-local and loopback ones. FALSE if it does not
 * parse. */
gboolean nl_graph_add_ip_json(GHashTable *addrs, const char *node, const char *json);

/* A new ADDRS table. */
GHashTable *nl_graph_addrs_new(void);

/* Runs Graphviz's dot on DOT for FORMAT (svg, png...) and returns what it
 * printed. */
GBytes *nl_graph_render(const char *dot, const char *format, GError **error);
