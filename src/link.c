#include "link.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "domxml.h"
#include "util.h"
#include "vde.h"

#define WIREFILTER "/usr/bin/wirefilter"

/* netlab's own record of a link (".impair", ".down"), in STATE/link, which
 * only netlab writes: the QEMU user owns STATE/nic. */
static char *record(const char *statedir, const char *node, guint index, const char *suffix) {
  return nl_layout_link(statedir, node, index, suffix);
}

gboolean nl_link_start(const NlState *st, const NlQemuUser *qu, const char *node, const NlNic *nic,
                       GError **error) {
  g_autofree char *nicdir = nl_layout_nics(st->dir);
  g_autofree char *linkdir = nl_layout_links(st->dir);
  g_autofree char *sock = nl_layout_nic(st->dir, node, nic->index, "");
  g_autofree char *vnl = nl_layout_nic(st->dir, node, nic->index, ".vnl");
  g_autofree char *mgmt = nl_layout_nic(st->dir, node, nic->index, ".mgmt");
  g_autofree char *lan = nl_layout_lan(st->dir, nic->lan);
  g_autofree char *name = g_strdup_printf("%s.%u", node, nic->index);
  if (!nl_mkdir(linkdir, 0700, error)) return FALSE;
  /* The wirefilter runs as the QEMU user and makes its sockets here. */
  if (!nl_qemu_user_own(qu, nicdir, 0700, error)) return FALSE;
  /* wirefilter splits -v at the first ':', so its NIC side cannot be a
   * "ptp://" URL; libvdeplug reads a URL from a file named instead. */
  g_autofree char *url = g_strdup_printf("ptp://%s\n", sock);
  if (!nl_write_file(vnl, url, -1, 0644, error)) return FALSE;
  g_autofree char *plugs = g_strdup_printf("%s:%s", vnl, lan);
  g_autofree char *what = g_strdup_printf("the wirefilter of %s:eth%u", node, nic->index);
  const char *argv[] = {WIREFILTER, "-v", plugs, "-M", mgmt, "--mgmtmode", "0600", NULL};
  if (!nl_vde_spawn(st, qu, "wirefilter", name, what, argv, mgmt, error)) return FALSE;
  return nl_impair_is_none(&nic->impair) ||
         nl_link_set(st->dir, node, nic->index, &nic->impair, error);
}

void nl_link_get(const char *statedir, const char *node, guint index, NlImpair *imp) {
  g_autofree char *rec = record(statedir, node, index, ".impair");
  g_autofree char *text = NULL;
  *imp = (NlImpair){0};
  /* Written by nl_link_set() from a parsed value: it parses. */
  if (g_file_get_contents(rec, &text, NULL, NULL)) nl_impair_parse(g_strstrip(text), imp, NULL);
}

gboolean nl_link_set(const char *statedir, const char *node, guint index, const NlImpair *imp,
                     GError **error) {
  g_autofree char *mgmt = nl_layout_nic(statedir, node, index, ".mgmt");
  g_autofree char *rec = record(statedir, node, index, ".impair");
  g_autoptr(GPtrArray) cmds = nl_impair_commands(imp);
  for (guint i = 0; i < cmds->len; i++) {
    g_autofree char *out = nl_vde_mgmt(mgmt, cmds->pdata[i], error);
    if (!out) {
      g_prefix_error(error, "%s:eth%u: ", node, index);
      return FALSE;
    }
  }
  g_autofree char *text = nl_impair_format(imp);
  g_autofree char *line = g_strconcat(text, "\n", NULL);
  return nl_write_file(rec, line, -1, 0600, error);
}

gboolean nl_link_forget(const char *statedir, const char *node, guint index, GError **error) {
  const char *const suffixes[] = {".impair", ".down"};
  for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
    g_autofree char *rec = record(statedir, node, index, suffixes[i]);
    if (unlink(rec) != 0 && errno != ENOENT)
      return nl_set_errno(error, errno, "cannot remove '%s'", rec);
  }
  return TRUE;
}

gboolean nl_link_is_up(const char *statedir, const char *node, guint index) {
  g_autofree char *rec = record(statedir, node, index, ".down");
  return !g_file_test(rec, G_FILE_TEST_EXISTS);
}

gboolean nl_link_set_state(NlVirt *virt, const char *domain, const char *statedir, const char *node,
                           guint index, gboolean up, GError **error) {
  g_autofree char *cmd = g_strdup_printf("set_link nl%u %s", index, up ? "on" : "off");
  g_autofree char *out = nl_virt_hmp(virt, domain, cmd, error);
  if (!out) return FALSE;
  /* HMP reports its errors as output. */
  if (*g_strstrip(out)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s:eth%u: set_link: %s", node, index, out);
    return FALSE;
  }
  g_autofree char *rec = record(statedir, node, index, ".down");
  if (up) {
    if (unlink(rec) != 0 && errno != ENOENT) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot remove '%s': %s", rec,
                  g_strerror(errno));
      return FALSE;
    }
    return TRUE;
  }
  return nl_write_file(rec, "", 0, 0600, error);
}
