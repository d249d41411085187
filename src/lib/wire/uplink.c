#include "uplink.h"

#include <string.h>

#include "layout.h"
#include "util.h"
#include "vde.h"

#define PASST "/usr/bin/passt"
#define PASST_AVX2 "/usr/bin/passt.avx2"

/* passt re-executes itself as passt.avx2 where the CPU has AVX2: started
 * as that at once, the process recorded is the one that stays. */
static const char *passt_exe(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && g_file_test(PASST_AVX2, G_FILE_TEST_IS_EXECUTABLE))
    return PASST_AVX2;
  return PASST;
}

/* The interface of the host's default route for IPv4 (V6 FALSE) or IPv6,
 * from /proc/net/route or /proc/net/ipv6_route; NULL when there is none
 * (a rejecting route, or one through the loopback, is none). */
static char *default_iface(gboolean v6) {
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!nl_read_file_max(v6 ? "/proc/net/ipv6_route" : "/proc/net/route", 1 << 20, &text, &len,
                        NULL))
    return NULL;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto(GStrv) f = g_strsplit_set(g_strstrip(*l), " \t", -1);
    GPtrArray *w = g_ptr_array_new();
    for (char **x = f; *x; x++)
      if (**x) g_ptr_array_add(w, *x);
    /* IPv4: Iface Destination Gateway Flags ... Mask; IPv6: dest plen src
     * plen next-hop metric refcnt use flags iface. */
    gboolean def = FALSE;
    const char *dev = NULL;
    guint64 flags = 0;
    if (!v6 && w->len >= 8) {
      dev = w->pdata[0];
      flags = g_ascii_strtoull(w->pdata[3], NULL, 16);
      def = strcmp(w->pdata[1], "00000000") == 0 && strcmp(w->pdata[7], "00000000") == 0;
    } else if (v6 && w->len >= 10) {
      dev = w->pdata[9];
      flags = g_ascii_strtoull(w->pdata[8], NULL, 16);
      def = strspn(w->pdata[0], "0") == 32 && strcmp(w->pdata[1], "00") == 0;
    }
    /* RTF_UP, not RTF_REJECT. */
    gboolean use = def && dev && (flags & 0x1) && !(flags & 0x200) && strcmp(dev, "lo") != 0;
    char *found = use ? g_strdup(dev) : NULL;
    g_ptr_array_free(w, TRUE);
    if (found) return found;
  }
  return NULL;
}

gboolean nl_uplink_start(const NlState *st, const NlQemuUser *qu, const NlNode *node,
                         GError **error) {
  g_autofree char *nicdir = nl_layout_nics(st->dir);
  g_autofree char *sock = nl_layout_uplink(st->dir, node->name);
  g_autofree char *what = g_strdup_printf("the uplink (passt) of '%s'", node->name);
  g_autofree char *addr = g_strndup(NL_UPLINK_ADDR, strcspn(NL_UPLINK_ADDR, "/"));
  if (!g_file_test(PASST, G_FILE_TEST_IS_EXECUTABLE)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is bridged, and %s is not installed (apt-get install passt)", node->name,
                PASST);
    return FALSE;
  }
  /* passt runs as the QEMU user and makes its socket here. */
  if (!nl_qemu_user_own(qu, nicdir, 0700, error)) return FALSE;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  /* In the foreground, so that its pid is the one spawned; quiet, as it
   * logs to syslog, which a node's host may not have. It stays after QEMU
   * goes (no --one-off): a restarted node connects again. */
  const char *base[] = {
      passt_exe(),   "--foreground",    "--quiet", "--socket",  sock,
      "--no-map-gw", "--address",       addr,      "--netmask", strchr(NL_UPLINK_ADDR, '/') + 1,
      "--gateway",   NL_UPLINK_GATEWAY, NULL};
  g_strv_builder_addv(b, base);
  /* passt connects wherever the guest's packets say, 127.0.0.1 included
   * (--no-map-gw only stops the gateway's address from meaning the host):
   * its outward sockets are bound to the interface of the host's default
   * route, through which the loopback's addresses cannot be reached. */
  g_autofree char *if4 = default_iface(FALSE);
  g_autofree char *if6 = default_iface(TRUE);
  if (!if4) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is bridged, and the host has no IPv4 default route for its uplink to use",
                node->name);
    return FALSE;
  }
  g_strv_builder_add_many(b, "--outbound-if4", if4, NULL);
  /* No UDP: passt's UDP sockets are not held to that interface (Debian
   * 12's passt), so a node's datagrams reached services on the host's
   * 127.0.0.1 (with --ipv4-only) or ::1 (tests/func/hostile.sh). A node
   * resolves names over TCP (netlab-lab.conf(5), bridged). */
  g_strv_builder_add(b, "--no-udp");
  /* Without an IPv6 default route, no IPv6 at all. */
  if (if6)
    g_strv_builder_add_many(b, "--outbound-if6", if6, NULL);
  else
    g_strv_builder_add(b, "--ipv4-only");
  for (guint i = 0; i < node->ports->len; i++) {
    const NlPort *p = &g_array_index(node->ports, NlPort, i);
    g_strv_builder_add(b, p->udp ? "--udp-ports" : "--tcp-ports");
    /* Loopback unless the lab names an address (lab.h). */
    g_autofree char *spec = g_strdup_printf("%s/%u:%u", p->addr, p->host, p->guest);
    g_strv_builder_add(b, spec);
  }
  g_auto(GStrv) argv = g_strv_builder_end(b);
  g_autofree char *name = g_strconcat(node->name, ".up", NULL);
  return nl_vde_spawn(st, qu, "passt", name, what, (const char *const *)argv, sock, error);
}
