#include "capture.h"

#include <string.h>

#include "config.h"
#include "sandbox.h"
#include "span.h"
#include "util.h"

static const NlCaptureBackend *backend(GError **error) {
  return nl_load_module("netlab-capture.so", NETLAB_CAPTURE_INSTALLED, NL_CAPTURE_BACKEND, error);
}

gboolean nl_capture_check_filter(const char *filter, GError **error) {
  const NlCaptureBackend *cap = backend(error);
  return cap && (!filter || cap->check_filter(filter, error));
}

gboolean nl_capture_run(const NlCapture *c, guint64 *frames, GError **error) {
  const NlCaptureBackend *cap = backend(error);
  return cap && cap->run(c, frames, error);
}

/* An end of LAN, if LAN is a wire, preferring one whose node runs. */
static const NlNic *wire_end(const NlLab *lab, const NlState *st, const char *lan,
                             const NlNode **node) {
  const NlNic *found = NULL;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    for (guint j = 0; j < n->nics->len; j++) {
      const NlNic *nic = n->nics->pdata[j];
      if (nic->end < 0 || strcmp(nic->lan, lan) != 0) continue;
      if (!found || nl_proc_alive(st, "qemu", n->name)) {
        found = nic;
        *node = n;
      }
    }
  }
  return found;
}

/* LAN of LAB, which must have a switch here; on a wire, *NIC and *NODE are
 * an end of it. */
static gboolean lan_target(const NlLab *lab, const NlState *st, const char *what, NlCapture *c,
                           const NlNic **nic, const NlNode **node, GError **error) {
  for (guint i = 0; i < lab->lans->len; i++)
    if (strcmp(lab->lans->pdata[i], what) == 0) c->lan = lab->lans->pdata[i];
  if (!c->lan) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "capture: the lab has no LAN '%s'", what);
    return FALSE;
  }
  if (!nl_lan_here(lab, c->lan)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "capture %s: every NIC on it is on another host, where netlab runs only what "
                "libvirt runs: no switch to capture on",
                what);
    return FALSE;
  }
  /* On a wire, either end sees every frame: one whose node runs. */
  *nic = wire_end(lab, st, c->lan, node);
  return TRUE;
}

gboolean nl_capture_target(const NlLab *lab, const NlState *st, const char *what, NlCapture *c,
                           GError **error) {
  const NlNode *node = NULL;
  const NlNic *nic = NULL;
  if (strchr(what, ':')) {
    if (!(nic = nl_lab_find_nic(lab, what, &node, error))) return FALSE;
    if (!nl_nic_here(node, "capture", error)) {
      g_prefix_error(error, "capture %s: ", what);
      return FALSE;
    }
    c->lan = nic->lan;
    c->mac = nic->mac;
  } else if (!lan_target(lab, st, what, c, &nic, &node, error)) {
    return FALSE;
  }
  if (!nic || nic->end < 0) return TRUE;
  if (!nl_proc_alive(st, "qemu", node->name)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "capture: LAN '%s' is a wire between two interfaces, captured from the "
                "QEMU of one: %s is not running",
                c->lan, node->name);
    return FALSE;
  }
  c->wire_node = node->name;
  c->wire_index = nic->index;
  c->labdir = lab->dir;
  return TRUE;
}
