#include "restart.h"

#include <errno.h>
#include <unistd.h>

#include "domxml.h"
#include "link.h"
#include "sandbox.h"
#include "util.h"
#include "virt.h"

/* Removes PATH, which may not be there. */
static gboolean remove_file(const char *path, GError **error) {
  if (unlink(path) != 0 && errno != ENOENT)
    return nl_set_errno(error, errno, "cannot remove '%s'", path);
  return TRUE;
}

gboolean nl_restart_stop(NlState *st, const char *uri, const NlNode *node, GError **error) {
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return FALSE;
  g_autofree char *domain = nl_domain_name(virt, st->id, node->name);
  if (!nl_virt_destroy(virt, domain, error)) return FALSE;
  nl_proc_kill(st, "qemu", node->name);
  for (guint i = 0; i < node->nics->len; i++) {
    /* The wirefilter holds the first end of the NIC's ptp socket: with
     * libvdeplug's connected datagrams it would keep sending to the dead
     * QEMU's end. A new one plugs into the LAN as a new port. */
    g_autofree char *name = g_strdup_printf("%s.%u", node->name, i);
    nl_proc_kill(st, "wirefilter", name);
    const char *const suffixes[] = {"", "+", ".mgmt", ".vnl"};
    for (guint k = 0; k < G_N_ELEMENTS(suffixes); k++) {
      g_autofree char *sock = nl_nic_sock(st->dir, node->name, i, suffixes[k]);
      if (!remove_file(sock, error)) return FALSE;
    }
    /* The lab's impairment and carrier come back with the new wirefilter. */
    if (!nl_link_forget(st->dir, node->name, i, error)) return FALSE;
  }
  return TRUE;
}
