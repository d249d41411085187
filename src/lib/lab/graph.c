#include "graph.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "util.h"

GHashTable *nl_graph_addrs_new(void) {
  return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
}

static GPtrArray *addrs_of(GHashTable *addrs, const char *node, guint index) {
  if (!addrs) return NULL;
  g_autofree char *key = g_strdup_printf("%s:eth%u", node, index);
  return g_hash_table_lookup(addrs, key);
}

/* DOT's quoted strings: '"' and '\' escaped, a line break as "\n". */
static void dot_str(GString *s, const char *text) {
  g_string_append_c(s, '"');
  for (const char *c = text; *c; c++) {
    if (*c == '\n') {
      g_string_append(s, "\\n");
      continue;
    }
    if (*c == '"' || *c == '\\') g_string_append_c(s, '\\');
    g_string_append_c(s, *c);
  }
  g_string_append_c(s, '"');
}

static const char *title(const NlLab *lab) {
  return lab->name ? lab->name : strrchr(lab->dir, '/') + 1;
}

char *nl_graph_dot(const NlLab *lab, GHashTable *addrs) {
  GString *s = g_string_new("graph ");
  dot_str(s, title(lab));
  g_string_append(s,
                  " {\n"
                  "  graph [layout=neato, overlap=false, splines=true, sep=\"+12\", "
                  "fontname=\"Helvetica\"];\n"
                  "  node [fontname=\"Helvetica\", fontsize=12];\n"
                  "  edge [fontname=\"Helvetica\", fontsize=9, len=1.6];\n");
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    g_autofree char *id = g_strconcat("node:", n->name, NULL);
    g_string_append(s, "  ");
    dot_str(s, id);
    g_string_append(s, " [label=");
    dot_str(s, n->name);
    g_string_append(s, ", shape=box, style=\"rounded,filled\", fillcolor=\"#dbe8f7\"];\n");
  }
  for (guint i = 0; i < lab->lans->len; i++) {
    const char *lan = lab->lans->pdata[i];
    g_autofree char *id = g_strconcat("lan:", lan, NULL);
    g_string_append(s, "  ");
    dot_str(s, id);
    g_string_append(s, " [label=");
    dot_str(s, lan);
    g_string_append(s,
                    ", shape=ellipse, fontsize=10, style=filled, "
                    "fillcolor=\"#f3e2b3\", margin=\"0.02,0.01\"];\n");
  }
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    for (guint j = 0; j < n->nics->len; j++) {
      const NlNic *nic = n->nics->pdata[j];
      g_autofree char *from = g_strconcat("node:", n->name, NULL);
      g_autofree char *to = g_strconcat("lan:", nic->lan, NULL);
      GString *label = g_string_new(NULL);
      g_string_printf(label, "eth%u", j);
      GPtrArray *a = addrs_of(addrs, n->name, j);
      for (guint k = 0; a && k < a->len; k++)
        g_string_append_printf(label, "\n%s", (char *)a->pdata[k]);
      g_string_append(s, "  ");
      dot_str(s, from);
      g_string_append(s, " -- ");
      dot_str(s, to);
      g_string_append(s, " [label=");
      dot_str(s, label->str);
      g_string_append(s, "];\n");
      g_string_free(label, TRUE);
    }
  }
  /* lab.ext: the host's interface a LAN is joined to, dashed. */
  for (guint i = 0; i < lab->ext->len; i++) {
    const NlExt *e = lab->ext->pdata[i];
    g_autofree char *id = g_strconcat("host:", e->ifname, NULL);
    g_autofree char *label = g_strconcat("host: ", e->ifname, NULL);
    g_autofree char *to = g_strconcat("lan:", e->lan, NULL);
    g_string_append(s, "  ");
    dot_str(s, id);
    g_string_append(s, " [label=");
    dot_str(s, label);
    g_string_append(s, ", shape=box, style=dashed];\n  ");
    dot_str(s, id);
    g_string_append(s, " -- ");
    dot_str(s, to);
    g_string_append(s, " [style=dashed];\n");
  }
  g_string_append(s, "}\n");
  return g_string_free(s, FALSE);
}

/* Mermaid ids: letters, digits and '_'. */
static char *mermaid_id(const char *prefix, const char *name) {
  GString *s = g_string_new(prefix);
  for (const char *c = name; *c; c++) g_string_append_c(s, g_ascii_isalnum(*c) ? *c : '_');
  return g_string_free(s, FALSE);
}

/* Mermaid's labels: quoted, with '"' as an entity. */
static void mermaid_str(GString *s, const char *text) {
  g_string_append_c(s, '"');
  for (const char *c = text; *c; c++)
    if (*c == '"')
      g_string_append(s, "#quot;");
    else
      g_string_append_c(s, *c);
  g_string_append_c(s, '"');
}

char *nl_graph_mermaid(const NlLab *lab, GHashTable *addrs) {
  GString *s = g_string_new("graph LR\n");
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    g_autofree char *id = mermaid_id("n_", n->name);
    g_string_append_printf(s, "  %s[", id);
    mermaid_str(s, n->name);
    g_string_append(s, "]\n");
  }
  for (guint i = 0; i < lab->lans->len; i++) {
    g_autofree char *id = mermaid_id("l_", lab->lans->pdata[i]);
    g_string_append_printf(s, "  %s((", id);
    mermaid_str(s, lab->lans->pdata[i]);
    g_string_append(s, "))\n");
  }
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    g_autofree char *from = mermaid_id("n_", n->name);
    for (guint j = 0; j < n->nics->len; j++) {
      const NlNic *nic = n->nics->pdata[j];
      g_autofree char *to = mermaid_id("l_", nic->lan);
      GString *label = g_string_new(NULL);
      g_string_printf(label, "eth%u", j);
      GPtrArray *a = addrs_of(addrs, n->name, j);
      for (guint k = 0; a && k < a->len; k++)
        g_string_append_printf(label, "<br>%s", (char *)a->pdata[k]);
      g_string_append_printf(s, "  %s ---|", from);
      mermaid_str(s, label->str);
      g_string_append_printf(s, "| %s\n", to);
      g_string_free(label, TRUE);
    }
  }
  for (guint i = 0; i < lab->ext->len; i++) {
    const NlExt *e = lab->ext->pdata[i];
    g_autofree char *id = mermaid_id("h_", e->ifname);
    g_autofree char *to = mermaid_id("l_", e->lan);
    g_autofree char *label = g_strconcat("host: ", e->ifname, NULL);
    g_string_append_printf(s, "  %s[/", id);
    mermaid_str(s, label);
    g_string_append_printf(s, "/]\n  %s -.- %s\n", id, to);
  }
  return g_string_free(s, FALSE);
}

char *nl_graph_json(const NlLab *lab, GHashTable *addrs) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "lab");
  json_builder_add_string_value(b, lab->dir);
  json_builder_set_member_name(b, "name");
  json_builder_add_string_value(b, title(lab));
  json_builder_set_member_name(b, "up");
  json_builder_add_boolean_value(b, addrs != NULL);
  json_builder_set_member_name(b, "lans");
  json_builder_begin_array(b);
  for (guint i = 0; i < lab->lans->len; i++) json_builder_add_string_value(b, lab->lans->pdata[i]);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "nodes");
  json_builder_begin_array(b);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, n->name);
    json_builder_set_member_name(b, "interfaces");
    json_builder_begin_array(b);
    for (guint j = 0; j < n->nics->len; j++) {
      const NlNic *nic = n->nics->pdata[j];
      char mac[18];
      nl_mac_format(nic->mac, mac);
      g_autofree char *ifname = g_strdup_printf("eth%u", j);
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "name");
      json_builder_add_string_value(b, ifname);
      json_builder_set_member_name(b, "lan");
      json_builder_add_string_value(b, nic->lan);
      json_builder_set_member_name(b, "mac");
      json_builder_add_string_value(b, mac);
      json_builder_set_member_name(b, "addresses");
      json_builder_begin_array(b);
      GPtrArray *a = addrs_of(addrs, n->name, j);
      for (guint k = 0; a && k < a->len; k++) json_builder_add_string_value(b, a->pdata[k]);
      json_builder_end_array(b);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  /* lab.ext: each LAN joined to a host interface. */
  json_builder_set_member_name(b, "external");
  json_builder_begin_array(b);
  for (guint i = 0; i < lab->ext->len; i++) {
    const NlExt *e = lab->ext->pdata[i];
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "lan");
    json_builder_add_string_value(b, e->lan);
    json_builder_set_member_name(b, "interface");
    json_builder_add_string_value(b, e->ifname);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_root(gen, root);
  char *text = json_generator_to_data(gen, NULL);
  char *out = g_strconcat(text, "\n", NULL);
  g_free(text);
  return out;
}

gboolean nl_graph_add_ip_json(GHashTable *addrs, const char *node, const char *json) {
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, json, -1, NULL)) return FALSE;
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_ARRAY(root)) return FALSE;
  JsonArray *links = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(links); i++) {
    JsonNode *ln = json_array_get_element(links, i);
    if (!JSON_NODE_HOLDS_OBJECT(ln)) continue;
    JsonObject *link = json_node_get_object(ln);
    const char *ifname = json_object_get_string_member_with_default(link, "ifname", NULL);
    if (!ifname || !json_object_has_member(link, "addr_info")) continue;
    JsonNode *ai = json_object_get_member(link, "addr_info");
    if (!JSON_NODE_HOLDS_ARRAY(ai)) continue;
    JsonArray *infos = json_node_get_array(ai);
    GPtrArray *list = g_ptr_array_new_with_free_func(g_free);
    for (guint j = 0; j < json_array_get_length(infos); j++) {
      JsonNode *in = json_array_get_element(infos, j);
      if (!JSON_NODE_HOLDS_OBJECT(in)) continue;
      JsonObject *info = json_node_get_object(in);
      const char *local = json_object_get_string_member_with_default(info, "local", NULL);
      const char *scope = json_object_get_string_member_with_default(info, "scope", "");
      gint64 len = json_object_get_int_member_with_default(info, "prefixlen", -1);
      if (!local || strcmp(scope, "link") == 0 || strcmp(scope, "host") == 0) continue;
      g_ptr_array_add(
          list, len >= 0 ? g_strdup_printf("%s/%" G_GINT64_FORMAT, local, len) : g_strdup(local));
    }
    g_hash_table_replace(addrs, g_strdup_printf("%s:%s", node, ifname), list);
  }
  return TRUE;
}

GBytes *nl_graph_render(const char *dot, const char *format, GError **error) {
  g_autofree char *t = g_strconcat("-T", format, NULL);
  const char *argv[] = {"dot", t, NULL};
  g_autoptr(GSubprocess) p =
      g_subprocess_newv(argv,
                        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                            G_SUBPROCESS_FLAGS_STDERR_PIPE,
                        error);
  if (!p) {
    g_prefix_error(error, "cannot run Graphviz's dot (is graphviz installed?): ");
    return NULL;
  }
  g_autoptr(GBytes) in = g_bytes_new(dot, strlen(dot));
  g_autoptr(GBytes) out = NULL, err = NULL;
  if (!g_subprocess_communicate(p, in, NULL, &out, &err, error)) return NULL;
  if (!g_subprocess_get_successful(p)) {
    gsize n = 0;
    const char *e = err ? g_bytes_get_data(err, &n) : "";
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "dot -T%s failed: %.*s", format, (int)n, e);
    return NULL;
  }
  return g_steal_pointer(&out);
}
