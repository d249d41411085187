#include "freeze.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "virt.h"

/* How long to wait for the lab's lock (a status or exec of the lab may
 * hold it for a moment), and how often to try. */
#define LOCK_WAIT_MS 10000
#define LOCK_POLL_MS 20

void nl_freeze_result_clear(NlFreezeResult *r) { g_clear_pointer(&r->nodes, g_ptr_array_unref); }

static char *frozen_key(const char *node) { return g_strconcat("frozen.", node, NULL); }

gboolean nl_frozen(const NlState *st, const char *node) {
  g_autofree char *key = frozen_key(node);
  g_autofree char *v = nl_state_get(st, key);
  return v != NULL;
}

static gboolean remote(const NlState *st, const char *node) {
  g_autofree char *key = g_strconcat("host.", node, NULL);
  g_autofree char *host = nl_state_get(st, key);
  return host != NULL;
}

GStrv nl_freeze_others(const NlState *st, const char *except) {
  /* With EXCEPT: what gdb may freeze, the nodes of this host. */
  g_autofree char *list = nl_state_get(st, "nodes");
  g_auto(GStrv) all = g_strsplit(list ? list : "", "\n", -1);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (char **n = all; *n; n++)
    if (**n && g_strcmp0(*n, except) != 0 && !(except && remote(st, *n))) g_strv_builder_add(b, *n);
  return g_strv_builder_end(b);
}

static gboolean lock_taken(gpointer data) { return nl_state_lock(data, FALSE, NULL); }

/* The nodes to act upon: the named ones, which must be nodes of the lab
 * here, or every node here. */
static GPtrArray *pick(const NlState *st, char **nodes, const NlProgress *say, GError **error) {
  g_auto(GStrv) all = nl_freeze_others(st, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  if (nodes && *nodes) {
    for (char **n = nodes; *n; n++) {
      if (!g_strv_contains((const char *const *)all, *n)) {
        g_autofree char *names = g_strjoinv(", ", all);
        g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "the lab has no node '%s' (its nodes: %s)", *n,
                    names);
        g_ptr_array_unref(out);
        return NULL;
      }
      if (remote(st, *n)) {
        g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                    "'%s' runs on another host: netlab freezes nodes of this host only", *n);
        g_ptr_array_unref(out);
        return NULL;
      }
      g_ptr_array_add(out, g_strdup(*n));
    }
    return out;
  }
  for (char **n = all; *n; n++) {
    if (remote(st, *n))
      nl_say(say, NL_SAY_WARNING, "'%s' runs on another host: not frozen", *n);
    else
      g_ptr_array_add(out, g_strdup(*n));
  }
  return out;
}

gboolean nl_freeze(NlState *st, char **nodes, gboolean thaw, const NlProgress *say,
                   NlFreezeResult *r, GError **error) {
  memset(r, 0, sizeof *r);
  g_autoptr(GError) busy = NULL;
  if (!nl_state_lock(st, FALSE, &busy) &&
      !nl_wait_until(lock_taken, st, LOCK_WAIT_MS, LOCK_POLL_MS)) {
    g_propagate_error(error, g_steal_pointer(&busy));
    return FALSE;
  }
  r->nodes = pick(st, nodes, say, error);
  if (!r->nodes) return FALSE;
  if (r->nodes->len == 0) return TRUE;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return FALSE;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (guint i = 0; i < r->nodes->len; i++) {
    g_autofree char *domain = nl_domain_name(virt, st->id, r->nodes->pdata[i]);
    g_strv_builder_add(b, domain);
  }
  g_auto(GStrv) domains = g_strv_builder_end(b);
  g_autofree gint64 *event_us = g_new0(gint64, r->nodes->len);
  /* The bench compares libvirt's suspend with QEMU's own stop command. */
  const char *method = g_getenv("NETLAB_FREEZE_METHOD");
  NlPauseCall call = {.names = (const char *const *)domains,
                      .resume = thaw,
                      .method = g_strcmp0(method, "qmp") == 0 ? NL_PAUSE_QMP : NL_PAUSE_LIBVIRT,
                      .event_us = event_us};
  gint64 start = g_get_monotonic_time();
  gboolean ok = nl_virt_pause(virt, &call, error);
  r->calls_ms = (call.done_us - start) / 1000.0;
  gint64 first = G_MAXINT64, last = 0;
  for (guint i = 0; i < r->nodes->len; i++) {
    if (!event_us[i]) continue;
    r->events++;
    first = MIN(first, event_us[i]);
    last = MAX(last, event_us[i]);
  }
  r->skew_ms = r->events >= 2 ? (last - first) / 1000.0 : -1;
  /* What status shows; a node that failed is recorded as the others are:
   * thaw undoes it either way. */
  for (guint i = 0; i < r->nodes->len; i++) {
    g_autofree char *key = frozen_key(r->nodes->pdata[i]);
    g_autofree char *path = nl_layout_key(st->dir, key);
    if (thaw)
      unlink(path);
    else
      nl_state_set(st, key, "netlab freeze\n", NULL);
  }
  return ok;
}
