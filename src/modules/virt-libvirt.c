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
};
