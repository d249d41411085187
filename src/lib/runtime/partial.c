#include "partial.h"

#include <errno.h>
#include <unistd.h>

#include "layout.h"
#include "link.h"
#include "sandbox.h"
#include "util.h"
#include "virt.h"

gboolean nl_partial_select(NlLab *lab, const NlState *st, char **nodes, char **exclude,
                           gboolean *join, GError **error) {
  g_autofree char *list = nl_state_get(st, "nodes");
  g_auto(GStrv) up = g_strsplit(list ? g_strstrip(list) : "", "\n", -1);
  for (char **n = nodes; n && *n; n++)
    if (g_strv_contains((const char *const *)up, *n)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "'%s' is up already: `netlab restart %s` boots it again", *n, *n);
      return FALSE;
    }
  g_autoptr(GStrvBuilder) drop = g_strv_builder_new();
  if (exclude) g_strv_builder_addv(drop, (const char **)exclude);
  for (char **n = up; *n; n++)
    if (**n && nl_lab_find_node(lab, *n)) g_strv_builder_add(drop, *n);
  g_auto(GStrv) dropped = g_strv_builder_end(drop);
  if (!nl_lab_select(lab, (const char *const *)nodes, (const char *const *)dropped, error))
    return FALSE;
  *join = list != NULL;
  if (lab->nodes->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                *join ? "lab '%s' is already up: every node asked for runs "
                        "(`netlab restart NODE` boots one again)"
                      : "lab '%s': every node is excluded, nothing to start",
                lab->dir);
    return FALSE;
  }
  return TRUE;
}

/* Removes PATH, which may not be there. */
static gboolean remove_file(const char *path, GError **error) {
  if (unlink(path) != 0 && errno != ENOENT)
    return nl_set_errno(error, errno, "cannot remove '%s'", path);
  return TRUE;
}

gboolean nl_restart_stop(NlState *st, const NlLab *lab, const char *uri, const NlNode *node,
                         GError **error) {
  const NlHost *host = node->host ? nl_lab_find_host(lab, node->host) : NULL;
  g_autoptr(NlVirt) virt = nl_virt_open(host ? host->uri : uri, st->dir, error);
  if (!virt) return FALSE;
  g_autofree char *domain = nl_domain_name(virt, st->id, node->name);
  if (!nl_virt_destroy(virt, domain, error)) return FALSE;
  nl_proc_kill(st, "qemu", node->name);
  nl_proc_kill(st, "relay", node->name);
  for (guint i = 0; i < node->nics->len; i++) {
    const NlNic *nic = node->nics->pdata[i];
    /* The wirefilter holds the first end of the NIC's ptp socket: with
     * libvdeplug's connected datagrams it would keep sending to the dead
     * QEMU's end. A new one plugs into the LAN as a new port; a new wire
     * is reached from its other end once nl_partial_reconnect() has made
     * that end send. */
    if (nic->end >= 0) {
      nl_proc_kill(st, "wire", nic->lan);
      /* The wire's own sockets, not the QEMUs' (".0+", ".1+"): the other
       * end's QEMU is still bound there, for the new wire to reach. */
      const char *const suffixes[] = {".0", ".1", ".mgmt"};
      for (guint k = 0; k < G_N_ELEMENTS(suffixes); k++) {
        g_autofree char *path = nl_layout_wire(st->dir, nic->lan, suffixes[k]);
        if (!remove_file(path, error)) return FALSE;
      }
    } else {
      g_autofree char *name = g_strdup_printf("%s.%u", node->name, i);
      nl_proc_kill(st, "wirefilter", name);
      const char *const suffixes[] = {"", "+", ".mgmt", ".vnl"};
      for (guint k = 0; k < G_N_ELEMENTS(suffixes); k++) {
        g_autofree char *sock = nl_layout_nic(st->dir, node->name, i, suffixes[k]);
        if (!remove_file(sock, error)) return FALSE;
      }
    }
    /* The lab's impairment and carrier come back with the new wirefilter. */
    if (!nl_link_forget(st->dir, node->name, i, error)) return FALSE;
  }
  return TRUE;
}

gboolean nl_partial_add(const NlState *st, const char *key, const char *text, GError **error) {
  g_autofree char *old = nl_state_get(st, key);
  g_autoptr(GString) all = g_string_new(old);
  g_auto(GStrv) have = g_strsplit(old ? old : "", "\n", -1);
  /* nl_state_get() drops the last newline. */
  if (all->len) g_string_append_c(all, '\n');
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && !g_strv_contains((const char *const *)have, *l))
      g_string_append_printf(all, "%s\n", *l);
  return nl_state_set(st, key, all->str, error);
}

void nl_partial_stop(NlState *st, const char *uri, const NlLab *lab) {
  g_autofree char *list = nl_state_get(st, "nodes");
  g_auto(GStrv) up = g_strsplit(list ? list : "", "\n", -1);
  g_autoptr(GString) left = g_string_new(NULL);
  for (char **n = up; *n; n++)
    if (**n && !nl_lab_find_node(lab, *n)) g_string_append_printf(left, "%s\n", *n);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    g_autofree char *passt = g_strconcat(node->name, ".up", NULL);
    nl_restart_stop(st, lab, uri, node, NULL);
    nl_proc_kill(st, "passt", passt);
  }
  nl_state_set(st, "nodes", left->str, NULL);
}

gboolean nl_partial_restart(NlState *st, const NlLab *lab, GError **error) {
  g_autofree char *list = nl_state_get(st, "nodes");
  if (!list) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", lab->dir);
    return FALSE;
  }
  g_auto(GStrv) up = g_strsplit(list, "\n", -1);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (!g_strv_contains((const char *const *)up, node->name)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' is not up: `netlab up %s %s` starts it",
                  node->name, lab->dir, node->name);
      return FALSE;
    }
  }
  g_autofree char *uri = nl_state_get(st, "uri");
  for (guint i = 0; i < lab->nodes->len; i++)
    if (!nl_restart_stop(st, lab, uri ? g_strstrip(uri) : NULL, lab->nodes->pdata[i], error))
      return FALSE;
  return TRUE;
}

gboolean nl_partial_reconnect(const NlState *st, const char *uri, const NlLab *lab,
                              GError **error) {
  g_autoptr(NlVirt) virt = NULL;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      if (nic->end < 0 || !nl_proc_alive(st, "qemu", nic->peer_node)) continue;
      if (!virt && !(virt = nl_virt_open(uri, st->dir, error))) return FALSE;
      g_autofree char *domain = nl_domain_name(virt, st->id, nic->peer_node);
      if (!nl_link_announce(virt, domain, error)) return FALSE;
    }
  }
  return TRUE;
}
