/* netlab graph: the lab's topology as a picture (SVG, PNG through Graphviz)
 * or as text (DOT, Mermaid, JSON); with each interface's addresses when the
 * lab is up. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "exec.h"
#include "graph.h"
#include "state.h"
#include "util.h"

static const char *const formats[] = {"dot", "svg", "png", "pdf", "mermaid", "json", NULL};

/* Each running node's addresses, through the agent. A node that does not
 * answer is left out, with a warning: the picture is still worth having. */
static GHashTable *addresses(const NlLab *lab, const NlState *st) {
  GHashTable *addrs = nl_graph_addrs_new();
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    char *argv[] = {"ip", "-j", "addr", "show", NULL};
    g_autoptr(GError) error = NULL;
    g_autofree char *json = nl_exec_output(st->dir, n->name, argv, &error);
    if (!json || !nl_graph_add_ip_json(addrs, n->name, json))
      fprintf(stderr, "netlab: warning: no addresses from %s: %s\n", n->name,
              error ? error->message : "'ip -j addr' printed no JSON");
  }
  return addrs;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *format = NULL, *file = NULL;
  gboolean no_addrs = FALSE;
  const GOptionEntry entries[] = {
      {"format", 'T', 0, G_OPTION_ARG_STRING, &format,
       "dot, svg, png, pdf, mermaid or json (default: svg to a file, else dot)", "FORMAT"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &file, "Write to FILE, not stdout", "FILE"},
      {"no-addresses", 0, 0, G_OPTION_ARG_NONE, &no_addrs, "Topology only, even when the lab is up",
       NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "[LABDIR]: a picture of the lab", entries, &argc, &argv, &t, error))
    return -1;
  if (!format) format = g_strdup(file && g_str_has_suffix(file, ".svg") ? "svg" : "dot");
  if (!g_strv_contains(formats, format)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "graph: unknown format '%s' (dot, svg, png, pdf, mermaid, json)", format);
    return -1;
  }
  const char *labdir = t.labdir;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;
  g_autoptr(GHashTable) addrs = !no_addrs && nl_state_exists(st) ? addresses(lab, st) : NULL;

  g_autoptr(GBytes) out = NULL;
  if (strcmp(format, "mermaid") == 0) {
    char *text = nl_graph_mermaid(lab, addrs);
    out = g_bytes_new_take(text, strlen(text));
  } else if (strcmp(format, "json") == 0) {
    char *text = nl_graph_json(lab, addrs);
    out = g_bytes_new_take(text, strlen(text));
  } else {
    char *text = nl_graph_dot(lab, addrs);
    out = g_bytes_new_take(text, strlen(text));
    if (strcmp(format, "dot") != 0) {
      GBytes *img = nl_graph_render(text, format, error);
      if (!img) return -1;
      g_bytes_unref(out);
      out = img;
    }
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(out, &len);
  if (file) return g_file_set_contents(file, data, len, error) ? 0 : -1;
  if (isatty(STDOUT_FILENO) && (strcmp(format, "png") == 0 || strcmp(format, "pdf") == 0)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "graph: -T %s is binary: give -o FILE or redirect stdout", format);
    return -1;
  }
  return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
}

const NlCmd nl_cmd_graph = {"graph", NULL, "a picture of the lab: SVG, PNG, DOT, Mermaid, JSON",
                            .target = NL_TARGET_LAB, .run = run};
