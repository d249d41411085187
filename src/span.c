#include "span.h"

gboolean nl_lan_spans(const NlLab *lab, const char *lan) {
  const char *first = NULL;
  gboolean seen = FALSE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      if (!g_str_equal(((NlNic *)node->nics->pdata[j])->lan, lan)) continue;
      const char *on = node->host ? node->host : "";
      if (seen && !g_str_equal(first, on)) return TRUE;
      first = on;
      seen = TRUE;
    }
  }
  return FALSE;
}

gboolean nl_lan_local(const NlLab *lab, const char *lan) {
  if (nl_lan_spans(lab, lan)) return FALSE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++)
      if (g_str_equal(((NlNic *)node->nics->pdata[j])->lan, lan)) return node->host == NULL;
  }
  return FALSE;
}

gboolean nl_lan_wire(const NlLab *lab, const char *lan) {
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      if (g_str_equal(nic->lan, lan)) return nic->end >= 0;
    }
  }
  return FALSE;
}

GPtrArray *nl_nic_urls(const NlLab *lab, const NlNode *node) {
  GPtrArray *urls = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < node->nics->len; i++) {
    const char *lan = ((NlNic *)node->nics->pdata[i])->lan;
    g_ptr_array_add(urls, node->host || nl_lan_spans(lab, lan)
                              ? nl_span_url(g_get_host_name(), lab->dir, lan, &lab->underlay)
                              : NULL);
  }
  return urls;
}

GPtrArray *nl_remote_notes(const NlLab *lab) {
  GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) far = g_string_new(NULL);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (node->host) g_string_append_printf(far, "%s%s", far->len ? ", " : "", node->name);
    g_autoptr(GPtrArray) urls = nl_nic_urls(lab, node);
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      if (urls->pdata[j] && !nl_impair_is_none(&nic->impair))
        g_ptr_array_add(notes,
                        g_strdup_printf("%s:%u: eth%u of '%s' is on LAN '%s', a vxvde "
                                        "network across hosts: its impairment is not "
                                        "applied",
                                        nic->loc.file, nic->impair_line, j, node->name, nic->lan));
    }
  }
  if (far->len)
    g_ptr_array_add(notes, g_strdup_printf("nodes on other hosts (%s): /hostlab is a copy of the "
                                           "lab made at `up`, not shared",
                                           far->str));
  return notes;
}
