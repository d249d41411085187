/* netlab-virt.so: netlab's calls into libvirt, and the only file that
 * includes libvirt.h. See virt-backend.h for why it is a module. */
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "util.h"
#include "virt-backend.h"
#include "virt-libvirt.h"

typedef virDomain NlDomain;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlDomain, virDomainFree)

/* libvirt prints every error to stderr unless told otherwise; we report the
 * ones that matter ourselves, once, with context. */
static void quiet_errors(void *data, virErrorPtr err) {}

/* WHAT names the operation and its object: "cannot start VM 'r1'". */
gboolean nl_lv_error(GError **error, const char *what) {
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s", what, virGetLastErrorMessage());
  return FALSE;
}

void *nl_lv_fail(GError **error, const char *what) {
  nl_lv_error(error, what);
  return NULL;
}

/* The embedded driver runs inside our process and needs an event loop for
 * QEMU's monitor; libvirt's own, in a thread of its own, keeps it independent
 * of whatever loop the command runs. */
static gpointer event_thread(gpointer data) {
  for (;;) virEventRunDefaultImpl();
  return NULL;
}

static void *connect_(const char *uri, const char *log, GError **error) {
  static gsize once;
  if (g_once_init_enter(&once)) {
    g_autofree char *outputs = g_strdup_printf("3:file:%s", log);
    g_setenv("LIBVIRT_LOG_OUTPUTS", outputs, FALSE);
    virInitialize();
    virSetErrorFunc(NULL, quiet_errors);
    virEventRegisterDefaultImpl();
    g_thread_unref(g_thread_new("libvirt-events", event_thread, NULL));
    g_once_init_leave(&once, 1);
  }
  virConnectPtr conn = virConnectOpen(uri);
  if (!conn) {
    g_autofree char *what = g_strdup_printf("cannot connect to libvirt at '%s'", uri);
    nl_lv_error(error, what);
  }
  return conn;
}

static void disconnect(void *conn) { virConnectClose(conn); }

static gboolean create(void *conn, const char *xml, GError **error) {
  g_autoptr(NlDomain) dom = virDomainCreateXML(conn, xml, VIR_DOMAIN_NONE);
  if (!dom) {
    g_autofree char *name = NULL;
    const char *a = strstr(xml, "<name>"), *b = a ? strstr(a, "</name>") : NULL;
    if (a && b) name = g_strndup(a + 6, b - a - 6);
    g_autofree char *what = g_strdup_printf("cannot start VM '%s'", name ? name : "?");
    nl_lv_error(error, what);
    return FALSE;
  }
  return TRUE;
}

static const char *state_name(int s) {
  switch (s) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "suspended";
    default: return "unknown";
  }
}

static void info_free(NlDomainInfo *d) {
  g_free(d->name);
  g_free(d);
}

static GPtrArray *list(void *conn, const char *prefix, GError **error) {
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains(conn, &doms, 0);
  if (n < 0) {
    char *uri = virConnectGetURI(conn);
    g_autofree char *what = g_strdup_printf("cannot list the VMs of '%s'", uri ? uri : "?");
    free(uri);
    nl_lv_error(error, what);
    return NULL;
  }
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)info_free);
  for (int i = 0; i < n; i++) {
    const char *name = virDomainGetName(doms[i]);
    int state = 0, reason = 0;
    if (name && g_str_has_prefix(name, prefix) &&
        virDomainGetState(doms[i], &state, &reason, 0) == 0) {
      NlDomainInfo *d = g_new0(NlDomainInfo, 1);
      d->name = g_strdup(name);
      d->state = state_name(state);
      g_ptr_array_add(out, d);
    }
    virDomainFree(doms[i]);
  }
  free(doms);
  return out;
}

static gboolean destroy(void *conn, const char *name, GError **error) {
  g_autoptr(NlDomain) dom = virDomainLookupByName(conn, name);
  if (!dom) return TRUE;
  if (virDomainDestroy(dom) == 0) return TRUE;
  virErrorPtr e = virGetLastError();
  if (e && e->code == VIR_ERR_OPERATION_INVALID) return TRUE; /* not running */
  if (e && e->code == VIR_ERR_NO_DOMAIN) return TRUE;
  g_autofree char *what = g_strdup_printf("cannot stop VM '%s'", name);
  nl_lv_error(error, what);
  return FALSE;
}

static char *hmp(void *conn, const char *name, const char *command, GError **error) {
  g_autoptr(NlDomain) dom = virDomainLookupByName(conn, name);
  char *out = NULL;
  if (!dom ||
      virDomainQemuMonitorCommand(dom, command, &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
    g_autofree char *what =
        g_strdup_printf("cannot run '%s' in the monitor of VM '%s'", command, name);
    nl_lv_error(error, what);
    return NULL;
  }
  /* libvirt allocates with malloc; callers free with g_free. */
  char *text = g_strdup(out);
  free(out);
  return text;
}

static char *native(void *conn, const char *name, GError **error) {
  g_autoptr(NlDomain) dom = virDomainLookupByName(conn, name);
  char *xml = dom ? virDomainGetXMLDesc(dom, 0) : NULL;
  char *argv = xml ? virConnectDomainXMLToNative(conn, "qemu-argv", xml, 0) : NULL;
  free(xml);
  if (!argv) {
    g_autofree char *what = g_strdup_printf("cannot render the QEMU command line of VM '%s'", name);
    nl_lv_error(error, what);
    return NULL;
  }
  char *text = g_strdup(argv);
  free(argv);
  return text;
}

/* ---- freezing: every domain stopped (or resumed) at the same instant ----- */

/* One domain's call, in a thread of its own that waits for the others. */
typedef struct {
  virDomainPtr dom;
  const NlPauseCall *call;
  GMutex *lock;
  GCond *go;
  gboolean *released;
  char *error;
} PauseJob;

static gpointer pause_job(gpointer data) {
  PauseJob *j = data;
  g_mutex_lock(j->lock);
  while (!*j->released) g_cond_wait(j->go, j->lock);
  g_mutex_unlock(j->lock);
  int rc;
  if (j->call->method == NL_PAUSE_QMP) {
    /* QEMU's own command, with none of libvirt's job and state checks
     * around it; libvirt learns the state from QEMU's event. */
    char *reply = NULL;
    rc = virDomainQemuMonitorCommand(
        j->dom, j->call->resume ? "{\"execute\":\"cont\"}" : "{\"execute\":\"stop\"}", &reply, 0);
    free(reply);
  } else {
    rc = j->call->resume ? virDomainResume(j->dom) : virDomainSuspend(j->dom);
  }
  if (rc < 0) {
    virErrorPtr e = virGetLastError();
    /* Resuming a domain that runs, or suspending a paused one, is done. */
    if (!(e && e->code == VIR_ERR_OPERATION_INVALID)) j->error = g_strdup(virGetLastErrorMessage());
  }
  return NULL;
}

/* QEMU's STOP and RESUME events, with QEMU's own timestamps. */
typedef struct {
  GMutex lock;
  GCond got;
  const char *const *names;
  guint n, seen;
  gint64 *event_us;
} PauseEvents;

static void on_event(virConnectPtr conn, virDomainPtr dom, const char *event, long long seconds,
                     unsigned int micros, const char *details, void *opaque) {
  PauseEvents *ev = opaque;
  const char *name = virDomainGetName(dom);
  g_mutex_lock(&ev->lock);
  for (guint i = 0; name && i < ev->n; i++)
    if (strcmp(ev->names[i], name) == 0 && !ev->event_us[i]) {
      ev->event_us[i] = seconds * G_USEC_PER_SEC + micros;
      ev->seen++;
      g_cond_broadcast(&ev->got);
    }
  g_mutex_unlock(&ev->lock);
}

/* How long QEMU's events may take to arrive once every call returned. */
#define EVENTS_WAIT_US (2 * G_USEC_PER_SEC)

static gboolean pause_all(void *conn, NlPauseCall *call, GError **error) {
  guint n = g_strv_length((char **)call->names);
  PauseEvents ev = {.names = call->names, .n = n, .event_us = call->event_us};
  g_mutex_init(&ev.lock);
  g_cond_init(&ev.got);
  memset(call->event_us, 0, n * sizeof *call->event_us);
  int cb = virConnectDomainQemuMonitorEventRegister(conn, NULL, call->resume ? "RESUME" : "STOP",
                                                    on_event, &ev, NULL, 0);
  GMutex lock;
  GCond go;
  gboolean released = FALSE;
  g_mutex_init(&lock);
  g_cond_init(&go);
  g_autofree PauseJob *jobs = g_new0(PauseJob, n);
  g_autofree GThread **threads = g_new0(GThread *, n);
  GString *failed = g_string_new(NULL);
  for (guint i = 0; i < n; i++) {
    jobs[i] = (PauseJob){.call = call, .lock = &lock, .go = &go, .released = &released};
    jobs[i].dom = virDomainLookupByName(conn, call->names[i]);
    if (!jobs[i].dom)
      g_string_append_printf(failed, "%s'%s': %s", failed->len ? "; " : "", call->names[i],
                             virGetLastErrorMessage());
  }
  /* Every thread is created and waiting before any is let go. */
  for (guint i = 0; i < n; i++)
    if (jobs[i].dom) threads[i] = g_thread_new("pause", pause_job, &jobs[i]);
  g_usleep(2000);
  g_mutex_lock(&lock);
  released = TRUE;
  g_cond_broadcast(&go);
  g_mutex_unlock(&lock);
  guint expected = 0;
  for (guint i = 0; i < n; i++) {
    if (!threads[i]) continue;
    g_thread_join(threads[i]);
    if (jobs[i].error)
      g_string_append_printf(failed, "%s'%s': %s", failed->len ? "; " : "", call->names[i],
                             jobs[i].error);
    else
      expected++;
    g_free(jobs[i].error);
    virDomainFree(jobs[i].dom);
  }
  call->done_us = g_get_monotonic_time();
  if (cb >= 0) {
    /* A domain that was paused already sends no event: wait for as many
     * as may come, not longer than EVENTS_WAIT_US. */
    gint64 until = g_get_monotonic_time() + EVENTS_WAIT_US;
    g_mutex_lock(&ev.lock);
    while (ev.seen < expected && g_cond_wait_until(&ev.got, &ev.lock, until)) {
    }
    g_mutex_unlock(&ev.lock);
    virConnectDomainQemuMonitorEventDeregister(conn, cb);
  }
  g_mutex_clear(&lock);
  g_cond_clear(&go);
  g_mutex_lock(&ev.lock);
  g_mutex_unlock(&ev.lock);
  g_mutex_clear(&ev.lock);
  g_cond_clear(&ev.got);
  if (failed->len) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot %s %s", call->resume ? "resume" : "stop",
                failed->str);
    g_string_free(failed, TRUE);
    return FALSE;
  }
  g_string_free(failed, TRUE);
  return TRUE;
}

/* The guest's memory as a kernel crash dump (what QEMU's dump-guest-memory
 * writes, kdump-compressed), into the file PATH. */
static gboolean dump(void *conn, const char *name, const char *path, GError **error) {
  g_autoptr(NlDomain) dom = virDomainLookupByName(conn, name);
  if (!dom || virDomainCoreDumpWithFormat(dom, path, VIR_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB,
                                          VIR_DUMP_MEMORY_ONLY) < 0) {
    g_autofree char *what = g_strdup_printf("cannot dump the memory of VM '%s'", name);
    return nl_lv_error(error, what);
  }
  return TRUE;
}

const NlVirtBackend nl_virt_backend = {
    .connect = connect_,
    .disconnect = disconnect,
    .create = create,
    .list = list,
    .destroy = destroy,
    .hmp = hmp,
    .pool_create = nl_lv_pool_create,
    .upload = nl_lv_upload,
    .pool_delete = nl_lv_pool_delete,
    .channel_line = nl_lv_channel_line,
    .relay = nl_lv_relay,
    .has_emulator = nl_lv_has_emulator,
    .dir_has = nl_lv_dir_has,
    .native = native,
    .pause = pause_all,
    .dump = dump,
};
