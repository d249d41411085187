/* netlab's side of the libvirt backend: it loads netlab-virt.so on the first
 * connection, prepares the embedded driver's root, and keeps libvirt's QEMU
 * capability cache. */
#include "virt.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sandbox.h"
#include "layout.h"
#include "util.h"
#include "virt-backend.h"

struct NlVirt {
  const NlVirtBackend *b;
  void *conn;
  char *uri;
  char *statedir;
  gboolean embedded;
};

static const NlVirtBackend *backend;

gboolean nl_virt_loaded(void) { return backend != NULL; }

static const NlVirtBackend *load_backend(GError **error) {
  if (!backend)
    backend = nl_load_module("netlab-virt.so", NETLAB_VIRT_INSTALLED, NL_VIRT_BACKEND, error);
  return backend;
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
    if (g_file_get_contents(src, &data, &len, NULL)) nl_write_file(dst, data, len, 0600, NULL);
  }
}

/* Where the embedded driver keeps its capability cache. */
static char *embed_caps_dir(const char *statedir) { return nl_layout_libvirt_caps(statedir); }

void nl_virt_save_caps(const char *statedir) {
  g_autofree char *cache = caps_cache_dir(NULL);
  g_autofree char *mine = embed_caps_dir(statedir);
  if (cache) copy_dir_files(mine, cache);
}

static gboolean prepare_embed_root(const char *statedir, GError **error) {
  g_autofree char *conf = nl_layout_libvirt_conf(statedir);
  g_autofree char *etc = g_path_get_dirname(conf);
  GString *c = g_string_new(
      "# Written by netlab for its embedded libvirt driver.\n"
      /* No virtlogd: QEMU writes its own log file. */
      "stdio_handler = \"file\"\n"
      /* Never chown the lab's or the host's files to run a VM. */
      "dynamic_ownership = 0\n"
      "remember_owner = 0\n"
      "security_driver = \"none\"\n");
  if (geteuid() == 0)
    /* QEMU never runs as root: as the user netlab-qemu (see sandbox.h). The
     * files it needs were made reachable for it by up. In a mount namespace
     * of its own, libvirt gives it a /dev with only the devices it uses. */
    g_string_append(c, "user = \"" NL_QEMU_USER "\"\ngroup = \"" NL_QEMU_USER
                       "\"\n"
                       "namespaces = [ \"mount\" ]\n");
  if (!nl_mkdir(etc, 0700, error)) {
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

NlVirt *nl_virt_open(const char *uri, const char *statedir, GError **error) {
  const NlVirtBackend *b = load_backend(error);
  if (!b) return NULL;
  g_autofree char *u = NULL;
  gboolean embedded = uri == NULL;
  if (embedded) {
    if (!prepare_embed_root(statedir, error)) return NULL;
    u = g_strdup_printf("qemu:///embed?root=%s", statedir);
  } else {
    u = g_strdup(uri);
  }
  /* libvirt's log goes to the state directory, not over our progress. */
  g_autofree char *logdir = nl_layout_logs(statedir);
  g_mkdir_with_parents(logdir, 0700);
  g_autofree char *log = nl_layout_libvirt_log(statedir);
  void *conn = b->connect(u, log, error);
  if (!conn) return NULL;
  NlVirt *v = g_new0(NlVirt, 1);
  v->b = b;
  v->conn = conn;
  v->uri = g_steal_pointer(&u);
  v->statedir = g_strdup(statedir);
  v->embedded = embedded;
  return v;
}

void nl_virt_close(NlVirt *v) {
  if (!v) return;
  v->b->disconnect(v->conn);
  g_free(v->uri);
  g_free(v->statedir);
  g_free(v);
}

const char *nl_virt_uri(const NlVirt *v) { return v->uri; }

char *nl_domain_name(const NlVirt *v, const char *lab_id, const char *node) {
  return v->embedded ? g_strdup(node) : g_strdup_printf("netlab-%s-%s", lab_id, node);
}

gboolean nl_virt_create(NlVirt *v, const char *xml, GError **error) {
  return v->b->create(v->conn, xml, error);
}

/* libvirt keeps the pid of each QEMU in a pidfile of its run directory. */
static int domain_pid(const NlVirt *v, const char *name) {
  if (!v->embedded) return 0;
  g_autofree char *path = nl_layout_qemu_pidfile(v->statedir, name);
  g_autofree char *text = NULL;
  return g_file_get_contents(path, &text, NULL, NULL) ? atoi(text) : 0;
}

static int by_name(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlDomainInfo *const *)a)->name, (*(NlDomainInfo *const *)b)->name);
}

GPtrArray *nl_virt_list(NlVirt *v, const char *prefix, GError **error) {
  GPtrArray *out = v->b->list(v->conn, prefix, error);
  if (!out) return NULL;
  for (guint i = 0; i < out->len; i++) {
    NlDomainInfo *d = out->pdata[i];
    if (strcmp(d->state, "shut off") != 0) d->pid = domain_pid(v, d->name);
  }
  g_ptr_array_sort(out, by_name);
  return out;
}

gboolean nl_virt_destroy(NlVirt *v, const char *name, GError **error) {
  return v->b->destroy(v->conn, name, error);
}

char *nl_virt_hmp(NlVirt *v, const char *name, const char *command, GError **error) {
  return v->b->hmp(v->conn, name, command, error);
}

gboolean nl_virt_pool_create(NlVirt *v, const char *name, const char *path, GError **error) {
  return v->b->pool_create(v->conn, name, path, error);
}

char *nl_virt_upload(NlVirt *v, const char *pool, const char *vol, GBytes *const *parts,
                     guint n_parts, GError **error) {
  return v->b->upload(v->conn, pool, vol, parts, n_parts, error);
}

gboolean nl_virt_pool_delete(NlVirt *v, const char *name, GError **error) {
  return v->b->pool_delete(v->conn, name, error);
}

char *nl_virt_channel_line(NlVirt *v, const char *domain, const char *channel, gsize max,
                           GError **error) {
  return v->b->channel_line(v->conn, domain, channel, max, error);
}

gboolean nl_virt_relay(NlVirt *v, const char *domain, const char *port, int fd, GError **error) {
  return v->b->relay(v->conn, domain, port, fd, error);
}

gboolean nl_virt_has_emulator(NlVirt *v, const char *emulator, GError **error) {
  return v->b->has_emulator(v->conn, emulator, error);
}

gboolean nl_virt_dir_has(NlVirt *v, const char *dir, const char *name, GError **error) {
  return v->b->dir_has(v->conn, dir, name, error);
}

char *nl_virt_native(NlVirt *v, const char *name, GError **error) {
  return v->b->native(v->conn, name, error);
}
