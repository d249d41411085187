#include "span.h"

#include "util.h"

static guint where(const NlLab *lab, const char *lan) {
  return GPOINTER_TO_UINT(g_hash_table_lookup(lab->lan_where, lan));
}

gboolean nl_lan_here(const NlLab *lab, const char *lan) { return where(lab, lan) & NL_LAN_HERE; }

gboolean nl_lan_vxvde(const NlLab *lab, const char *lan) { return where(lab, lan) & NL_LAN_AWAY; }

gboolean nl_nic_here(const NlNode *node, const char *what, GError **error) {
  if (!node->host) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "'%s' runs on host '%s', where netlab runs only what libvirt runs: no wirefilter "
              "or switch there for %s (a NIC here on the same LAN has both)",
              node->name, node->host, what);
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

GPtrArray *nl_remote_notes(const NlLab *lab) {
  GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) far = g_string_new(NULL);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (node->host) g_string_append_printf(far, "%s%s", far->len ? ", " : "", node->name);
    for (guint j = 0; node->host && j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      if (!nl_impair_is_none(&nic->impair))
        g_ptr_array_add(
            notes, g_strdup_printf("%s:%u: '%s' runs on host '%s', where netlab runs no "
                                   "wirefilter: the impairment of its eth%u is not applied",
                                   nic->loc.file, nic->impair_line, node->name, node->host, j));
    }
  }
  if (far->len)
    g_ptr_array_add(notes, g_strdup_printf("nodes on other hosts (%s): /hostlab is a copy of the "
                                           "lab made at `up`, not shared",
                                           far->str));
  return notes;
}
