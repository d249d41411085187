#include "virt.h"

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct NlVirt {
  virConnectPtr conn;
  char *uri;
  char *statedir;
  gboolean embedded;
};

typedef virDomain NlDomain;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlDomain, virDomainFree)

/* libvirt prints every error to stderr unless told otherwise; we report the
 * ones that matter ourselves, once, with context. */
static void quiet_errors(void *data, virErrorPtr err) {}

/* WHAT names the operation and its object: "cannot start VM 'r1'". */
static void set_virt_error(GError **error, const char *what) {
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: %s", what,
              virGetLastErrorMessage());
}

static char *caps_cache_dir(GError **error) {
  g_autofree char *cache = nl_cache_dir(error);
  return cache ? g_build_filename(cache, "libvirt-caps", NULL) : NULL;
}

static void copy_dir_files(const char *from, const char *to) {
  g_autoptr(GDir) d = g_dir_open(from, 0, NULL);
  const char *n;
  if (!d || g_mkdir_with_parents(to, 0700) != 0) return;
  while ((n = g_dir_read_name(d))) {
    g_autofree char *src = g_build_filename(from, n, NULL);
    g_autofree char *dst = g_build_filename(to, n, NULL);
    g_autofree char *data = NULL;
    gsize len;
    if (g_file_get_contents(src, &data, &len, NULL))
      nl_write_file(dst, data, len, 0600, NULL);
  }
}

/* Where the embedded driver keeps its capability cache. */
static char *embed_caps_dir(const char *statedir) {
  return g_build_filename(statedir, "cache", "qemu", "capabilities", NULL);
}

void nl_virt_save_caps(const char *statedir) {
  g_autofree char *cache = caps_cache_dir(NULL);
  g_autofree char *mine = embed_caps_dir(statedir);
  if (cache) copy_dir_files(mine, cache);
}

static gboolean prepare_embed_root(const char *statedir, GError **error) {
  g_autofree char *etc = g_build_filename(statedir, "etc", NULL);
  g_autofree char *conf = g_build_filename(etc, "qemu.conf", NULL);
  GString *c = g_string_new(
      "# Written by netlab for its embedded libvirt driver.\n"
      /* No virtlogd: QEMU writes its own log file. */
      "stdio_handler = \"file\"\n"
      /* Never chown the lab's or the host's files to run a VM. */
      "dynamic_ownership = 0\n"
      "remember_owner = 0\n"
      "security_driver = \"none\"\n");
  if (geteuid() == 0)
    /* Debian's libvirt-qemu user comes with the daemon, which we do not
     * need; QEMU runs as the user who runs netlab. Nor a private /dev. */
    g_string_append(c, "user = \"root\"\ngroup = \"root\"\nnamespaces = [ ]\n");
  if (g_mkdir_with_parents(etc, 0700) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s'", etc);
    g_string_free(c, TRUE);
    return FALSE;
  }
  gboolean ok = nl_write_file(conf, c->str, c->len, 0600, error);
  g_string_free(c, TRUE);
  if (!ok) return FALSE;

  g_autofree char *cache = caps_cache_dir(NULL);
  g_autofree char *mine = embed_caps_dir(statedir);
  if (cache && !g_file_test(mine, G_FILE_TEST_IS_DIR)) copy_dir_files(cache, mine);
  return TRUE;
}

/* The embedded driver runs inside our process and needs an event loop for
 * QEMU's monitor; libvirt's own, in a thread of its own, keeps it independent
 * of whatever loop the command runs. */
static gpointer event_thread(gpointer data) {
  for (;;) virEventRunDefaultImpl();
  return NULL;
}

NlVirt *nl_virt_open(const char *uri, const char *statedir, GError **error) {
  static gsize once;
  if (g_once_init_enter(&once)) {
    /* libvirt's log goes to the state directory, not over our progress. */
    g_autofree char *logdir = g_build_filename(statedir, "log", NULL);
    g_mkdir_with_parents(logdir, 0700);
    g_autofree char *log = g_strdup_printf("3:file:%s/libvirt.log", logdir);
    g_setenv("LIBVIRT_LOG_OUTPUTS", log, FALSE);
    virInitialize();
    virSetErrorFunc(NULL, quiet_errors);
    virEventRegisterDefaultImpl();
    g_thread_unref(g_thread_new("libvirt-events", event_thread, NULL));
    g_once_init_leave(&once, 1);
  }
  g_autofree char *u = NULL;
  gboolean embedded = uri == NULL;
  if (embedded) {
    if (!prepare_embed_root(statedir, error)) return NULL;
    u = g_strdup_printf("qemu:///embed?root=%s", statedir);
  } else {
    u = g_strdup(uri);
  }
  virConnectPtr conn = virConnectOpen(u);
  if (!conn) {
    g_autofree char *what = g_strdup_printf("cannot connect to libvirt at '%s'", u);
    set_virt_error(error, what);
    return NULL;
  }
  NlVirt *v = g_new0(NlVirt, 1);
  v->conn = conn;
  v->uri = g_steal_pointer(&u);
  v->statedir = g_strdup(statedir);
  v->embedded = embedded;
  return v;
}

void nl_virt_close(NlVirt *v) {
  if (!v) return;
  virConnectClose(v->conn);
  g_free(v->uri);
  g_free(v->statedir);
  g_free(v);
}

const char *nl_virt_uri(const NlVirt *v) { return v->uri; }

char *nl_domain_name(const NlVirt *v, const char *lab_id, const char *node) {
  return v->embedded ? g_strdup(node) : g_strdup_printf("netlab-%s-%s", lab_id, node);
}

gboolean nl_virt_create(NlVirt *v, const char *xml, GError **error) {
  g_autoptr(NlDomain) dom = virDomainCreateXML(v->conn, xml, VIR_DOMAIN_NONE);
  if (!dom) {
    g_autofree char *name = NULL;
    const char *a = strstr(xml, "<name>"), *b = a ? strstr(a, "</name>") : NULL;
    if (a && b) name = g_strndup(a + 6, b - a - 6);
    g_autofree char *what = g_strdup_printf("cannot start VM '%s'", name ? name : "?");
    set_virt_error(error, what);
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

void nl_domain_info_free(NlDomainInfo *d) {
  if (!d) return;
  g_free(d->name);
  g_free(d);
}

/* libvirt keeps the pid of each QEMU in a pidfile of its run directory. */
static int domain_pid(const NlVirt *v, const char *name) {
  if (!v->embedded) return 0;
  g_autofree char *file = g_strconcat(name, ".pid", NULL);
  g_autofree char *path = g_build_filename(v->statedir, "run", "qemu", file, NULL);
  g_autofree char *text = NULL;
  return g_file_get_contents(path, &text, NULL, NULL) ? atoi(text) : 0;
}

static int by_name(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlDomainInfo *const *)a)->name, (*(NlDomainInfo *const *)b)->name);
}

GPtrArray *nl_virt_list(NlVirt *v, const char *prefix, GError **error) {
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains(v->conn, &doms, 0);
  if (n < 0) {
    g_autofree char *what = g_strdup_printf("cannot list the VMs of '%s'", v->uri);
    set_virt_error(error, what);
    return NULL;
  }
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nl_domain_info_free);
  for (int i = 0; i < n; i++) {
    const char *name = virDomainGetName(doms[i]);
    int state = 0, reason = 0;
    if (name && g_str_has_prefix(name, prefix) &&
        virDomainGetState(doms[i], &state, &reason, 0) == 0) {
      NlDomainInfo *d = g_new0(NlDomainInfo, 1);
      d->name = g_strdup(name);
      d->state = state_name(state);
      d->pid = state == VIR_DOMAIN_SHUTOFF ? 0 : domain_pid(v, name);
      g_ptr_array_add(out, d);
    }
    virDomainFree(doms[i]);
  }
  free(doms);
  g_ptr_array_sort(out, by_name);
  return out;
}

gboolean nl_virt_destroy(NlVirt *v, const char *name, GError **error) {
  g_autoptr(NlDomain) dom = virDomainLookupByName(v->conn, name);
  if (!dom) return TRUE;
  if (virDomainDestroy(dom) == 0) return TRUE;
  virErrorPtr e = virGetLastError();
  if (e && e->code == VIR_ERR_OPERATION_INVALID) return TRUE; /* not running */
  if (e && e->code == VIR_ERR_NO_DOMAIN) return TRUE;
  g_autofree char *what = g_strdup_printf("cannot stop VM '%s'", name);
  set_virt_error(error, what);
  return FALSE;
}

char *nl_virt_hmp(NlVirt *v, const char *name, const char *command, GError **error) {
  g_autoptr(NlDomain) dom = virDomainLookupByName(v->conn, name);
  char *out = NULL;
  if (!dom || virDomainQemuMonitorCommand(dom, command, &out,
                                          VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
    g_autofree char *what =
        g_strdup_printf("cannot run '%s' in the monitor of VM '%s'", command, name);
    set_virt_error(error, what);
    return NULL;
  }
  /* libvirt allocates with malloc; callers free with g_free. */
  char *text = g_strdup(out);
  free(out);
  return text;
}
