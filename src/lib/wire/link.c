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
static char *record_path(const char *statedir, const char *node, guint index, const char *suffix) {
  return nl_layout_link(statedir, node, index, suffix);
}

/* wirefilter splits -v at the first ':', so its NIC side cannot be a
 * "ptp://" URL; libvdeplug reads a URL from a file named instead. */
static gboolean write_vnl(const char *vnl, const char *sock, GError **error) {
  g_autofree char *url = g_strdup_printf("ptp://%s\n", sock);
  return nl_write_file(vnl, url, -1, 0644, error);
}

/* The impairment recorded for an interface, if one is. */
static gboolean recorded(const char *statedir, const char *node, guint index, NlImpair *imp) {
  g_autofree char *rec = record_path(statedir, node, index, ".impair");
  g_autofree char *text = NULL;
  *imp = (NlImpair){0};
  if (!g_file_get_contents(rec, &text, NULL, NULL)) return FALSE;
  /* Written by record() from a parsed value: it parses. */
  nl_impair_parse(g_strstrip(text), imp, NULL);
  return TRUE;
}

static gboolean record(const char *statedir, const char *node, guint index, const NlImpair *imp,
                       GError **error) {
  g_autofree char *rec = record_path(statedir, node, index, ".impair");
  g_autofree char *text = nl_impair_format(imp);
  g_autofree char *line = g_strconcat(text, "\n", NULL);
  return nl_write_file(rec, line, -1, 0600, error);
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
  if (!write_vnl(vnl, sock, error)) return FALSE;
  g_autofree char *plugs = g_strdup_printf("%s:%s", vnl, lan);
  g_autofree char *what = g_strdup_printf("the wirefilter of %s:eth%u", node, nic->index);
  const char *argv[] = {WIREFILTER, "-v", plugs, "-M", mgmt, "--mgmtmode", "0600", NULL};
  if (!nl_vde_spawn(st, qu, "wirefilter", name, what, argv, mgmt, error)) return FALSE;
  return nl_impair_is_none(&nic->impair) || nl_link_set(st->dir, node, nic, &nic->impair, error);
}

gboolean nl_link_start_wire(const NlState *st, const NlQemuUser *qu, const char *node,
                            const NlNic *nic, GError **error) {
  g_autofree char *wiredir = nl_layout_wires(st->dir);
  g_autofree char *linkdir = nl_layout_links(st->dir);
  g_autofree char *mgmt = nl_layout_wire(st->dir, nic->lan, ".mgmt");
  g_autofree char *plugs = NULL;
  if (!nl_mkdir(linkdir, 0700, error) || !nl_qemu_user_own(qu, wiredir, 0700, error)) return FALSE;
  for (int end = 0; end < 2; end++) {
    g_autofree char *sock = nl_layout_wire_end(st->dir, nic->lan, end);
    g_autofree char *vnl = g_strconcat(sock, ".vnl", NULL);
    if (!write_vnl(vnl, sock, error)) return FALSE;
    plugs = plugs ? g_strconcat(plugs, ":", vnl, NULL) : g_strdup(vnl);
  }
  g_autofree char *what = g_strdup_printf("the wire of LAN '%s'", nic->lan);
  const char *argv[] = {WIREFILTER, "-v", plugs, "-M", mgmt, "--mgmtmode", "0600", NULL};
  if (!nl_vde_spawn(st, qu, "wire", nic->lan, what, argv, mgmt, error)) return FALSE;
  /* Each end's impairment: what was set on it while the lab ran (a node of
   * the LAN restarts), else lab.conf's. */
  NlImpair own, peer;
  const NlImpair *mine = recorded(st->dir, node, nic->index, &own) ? &own : &nic->impair;
  if (!recorded(st->dir, nic->peer_node, nic->peer_index, &peer)) {
    peer = nic->peer_impair;
    if (!record(st->dir, nic->peer_node, nic->peer_index, &peer, error)) return FALSE;
  }
  /* A new wirefilter impairs nothing: 13 management round trips saved per
   * wire, most of a lab's. */
  if (nl_impair_is_none(mine) && nl_impair_is_none(&peer))
    return record(st->dir, node, nic->index, mine, error);
  return nl_link_set(st->dir, node, nic, mine, error);
}

void nl_link_get(const char *statedir, const char *node, guint index, NlImpair *imp) {
  recorded(statedir, node, index, imp);
}

/* Sends IMP to the wirefilter whose management socket is MGMT. */
static gboolean apply(const char *mgmt, const NlImpair *imp, GError **error) {
  g_autoptr(GPtrArray) cmds = nl_impair_commands(imp);
  for (guint i = 0; i < cmds->len; i++) {
    g_autofree char *out = nl_vde_mgmt(mgmt, cmds->pdata[i], error);
    if (!out) return FALSE;
  }
  return TRUE;
}

gboolean nl_link_set(const char *statedir, const char *node, const NlNic *nic, const NlImpair *imp,
                     GError **error) {
  gboolean ok;
  if (nic->end < 0) {
    g_autofree char *mgmt = nl_layout_nic(statedir, node, nic->index, ".mgmt");
    ok = apply(mgmt, imp, error);
  } else {
    /* One wirefilter for both ends: end 0 on its left. */
    NlImpair peer;
    recorded(statedir, nic->peer_node, nic->peer_index, &peer);
    NlImpair both = nic->end == 0 ? nl_impair_join(imp, &peer) : nl_impair_join(&peer, imp);
    g_autofree char *mgmt = nl_layout_wire(statedir, nic->lan, ".mgmt");
    ok = apply(mgmt, &both, error);
  }
  if (!ok) {
    g_prefix_error(error, "%s:eth%u: ", node, nic->index);
    return FALSE;
  }
  return record(statedir, node, nic->index, imp, error);
}

gboolean nl_link_forget(const char *statedir, const char *node, guint index, GError **error) {
  const char *const suffixes[] = {".impair", ".down"};
  for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
    g_autofree char *rec = record_path(statedir, node, index, suffixes[i]);
    if (unlink(rec) != 0 && errno != ENOENT)
      return nl_set_errno(error, errno, "cannot remove '%s'", rec);
  }
  return TRUE;
}

gboolean nl_link_is_up(const char *statedir, const char *node, guint index) {
  g_autofree char *rec = record_path(statedir, node, index, ".down");
  return !g_file_test(rec, G_FILE_TEST_EXISTS);
}

/* An HMP command that says nothing when it works: HMP reports its errors as
 * output. WHAT names the thing in the error. */
static gboolean hmp_quiet(NlVirt *virt, const char *domain, const char *command, const char *what,
                          GError **error) {
  g_autofree char *out = nl_virt_hmp(virt, domain, command, error);
  if (!out) return FALSE;
  if (*g_strstrip(out)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s: %s", what, command, out);
    return FALSE;
  }
  return TRUE;
}

gboolean nl_link_set_state(NlVirt *virt, const char *domain, const char *statedir, const char *node,
                           guint index, gboolean up, GError **error) {
  g_autofree char *cmd = g_strdup_printf("set_link nl%u %s", index, up ? "on" : "off");
  g_autofree char *what = g_strdup_printf("%s:eth%u", node, index);
  if (!hmp_quiet(virt, domain, cmd, what, error)) return FALSE;
  g_autofree char *rec = record_path(statedir, node, index, ".down");
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

gboolean nl_link_announce(NlVirt *virt, const char *domain, GError **error) {
  return hmp_quiet(virt, domain, "announce_self", domain, error);
}
