#include "hosts.h"

#include <string.h>

#include "util.h"

void nl_host_free(gpointer host) {
  NlHost *h = host;
  g_free(h->name);
  g_free(h->uri);
  g_free(h);
}

void nl_underlay_init(NlUnderlay *u) {
  memset(u, 0, sizeof *u);
  u->mtu = NL_UNDERLAY_MTU;
  u->ttl = 1;
  u->port = NL_UNDERLAY_PORT;
}

void nl_underlay_clear(NlUnderlay *u) { g_clear_pointer(&u->dev, g_free); }

static gboolean valid_host_name(const char *name) {
  return g_regex_match_simple("^[a-z0-9][a-z0-9_-]{0,29}$", name, 0, 0);
}

char *nl_hosts_parse(const char *value, GPtrArray *hosts) {
  g_auto(GStrv) words = g_strsplit_set(value, " \t", -1);
  for (char **w = words; *w; w++) {
    if (!**w) continue;
    const char *eq = strchr(*w, '=');
    g_autofree char *name = eq ? g_strndup(*w, eq - *w) : NULL;
    if (!name || !valid_host_name(name))
      return g_strdup_printf("'%s' is no NAME=URI (a name of 1 to 30 of a-z, 0-9, _, -)", *w);
    if (!strstr(eq + 1, ":/"))
      return g_strdup_printf("host '%s': '%s' is no libvirt URI (such as qemu+ssh://h2/system)",
                             name, eq + 1);
    for (guint i = 0; i < hosts->len; i++)
      if (g_str_equal(((NlHost *)hosts->pdata[i])->name, name))
        return g_strdup_printf("host '%s' is named twice", name);
    NlHost *h = g_new0(NlHost, 1);
    h->name = g_steal_pointer(&name);
    h->uri = g_strdup(eq + 1);
    g_ptr_array_add(hosts, h);
  }
  return NULL;
}

static gboolean parse_uint(const char *text, guint min, guint max, guint *out) {
  guint64 v;
  if (!g_ascii_string_to_unsigned(text, 10, min, max, &v, NULL)) return FALSE;
  *out = v;
  return TRUE;
}

char *nl_underlay_parse(const char *value, NlUnderlay *u) {
  g_auto(GStrv) words = g_strsplit_set(value, " \t", -1);
  for (char **w = words; *w; w++) {
    if (!**w) continue;
    const char *eq = strchr(*w, '=');
    g_autofree char *key = eq ? g_strndup(*w, eq - *w) : g_strdup(*w);
    const char *v = eq ? eq + 1 : "";
    if (g_str_equal(key, "dev") && g_regex_match_simple("^[A-Za-z0-9_.:-]{1,15}$", v, 0, 0)) {
      g_free(u->dev);
      u->dev = g_strdup(v);
    } else if (g_str_equal(key, "mtu") && parse_uint(v, 576 + NL_VXLAN_OVERHEAD, 65535, &u->mtu)) {
    } else if (g_str_equal(key, "ttl") && parse_uint(v, 1, 255, &u->ttl)) {
    } else if (g_str_equal(key, "port") && parse_uint(v, 1, 65535, &u->port)) {
    } else {
      return g_strdup_printf(
          "'%s' is none of dev=INTERFACE, mtu=%u..65535, ttl=1..255, "
          "port=1..65535",
          *w, 576 + NL_VXLAN_OVERHEAD);
    }
  }
  return NULL;
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
