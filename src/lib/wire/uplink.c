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
