#include "span.h"

#include <string.h>

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

GPtrArray *nl_span_notes(const NlLab *lab) {
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

char *nl_span_url(const char *seed_host, const char *lab_dir, const char *lan, guint salt,
                  const NlUnderlay *u) {
  g_autofree char *seed = salt ? g_strdup_printf("%s\n%s\n%s\n%u", seed_host, lab_dir, lan, salt)
                               : g_strdup_printf("%s\n%s\n%s", seed_host, lab_dir, lan);
  guint8 d[32];
  nl_sha256(seed, d);
  /* VNI 0 is vxvde's "any"; keep clear of it. */
  guint vni = ((guint)d[3] << 16 | (guint)d[4] << 8 | d[5]) | 1;
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "vxvde://239.%u.%u.%u/v4/port=%u/vni=%u/ttl=%u", d[0], d[1], d[2],
                         u->port, vni, u->ttl);
  if (u->dev) g_string_append_printf(s, "/if=%s", u->dev);
  return g_string_free(s, FALSE);
}

char *nl_span_id(const char *url) {
  if (!url || !g_str_has_prefix(url, "vxvde://")) return NULL;
  const char *group = url + strlen("vxvde://");
  const char *vni = strstr(group, "/vni=");
  gsize len = strcspn(group, "/");
  if (!vni || !len) return NULL;
  vni += strlen("/vni=");
  return g_strdup_printf("%.*s/%.*s", (int)len, group, (int)strspn(vni, "0123456789"), vni);
}

char *nl_span_pick(const char *seed_host, const char *lab_dir, const char *lan, const NlUnderlay *u,
                   GHashTable *taken) {
  for (guint salt = 0;; salt++) {
    char *url = nl_span_url(seed_host, lab_dir, lan, salt, u);
    g_autofree char *id = nl_span_id(url);
    if (!g_hash_table_contains(taken, id)) return url;
    g_free(url);
  }
}

guint nl_span_mtu(const NlUnderlay *u) { return MIN(u->mtu - NL_VXLAN_OVERHEAD, NL_SWITCH_MTU); }
