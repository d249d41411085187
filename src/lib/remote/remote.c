#include "remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "initramfs.h"
#include "layout.h"
#include "partial.h"
#include "span.h"
#include "sandbox.h"
#include "util.h"

typedef struct {
  char *name;
  char *uri;
  NlVirt *virt;
} Host;

struct NlRemote {
  GPtrArray *hosts; /* Host* */
  char *statedir;
  char *pool;             /* netlab-<lab id> */
  char *pool_path;        /* its directory on every host */
  GHashTable *pools_made; /* host name -> itself, once its pool exists */
};

/* Where a host keeps the lab's boot files: beside libvirt's own images. */
#define POOL_DIR "/var/lib/libvirt"

/* The copy of the lab in a node's initramfs: enough for configuration files
 * and scripts, not for a lab's big data. */
#define LAB_COPY_MAX (64u << 20)

static void host_free(Host *h) {
  g_free(h->name);
  g_free(h->uri);
  nl_virt_close(h->virt);
  g_free(h);
}

static NlRemote *remote_new(const NlState *st) {
  NlRemote *r = g_new0(NlRemote, 1);
  r->hosts = g_ptr_array_new_with_free_func((GDestroyNotify)host_free);
  r->statedir = g_strdup(st->dir);
  r->pool = g_strdup_printf("netlab-%s", st->id);
  r->pool_path = g_strdup_printf("%s/netlab-%s", POOL_DIR, st->id);
  r->pools_made = g_hash_table_new(g_str_hash, g_str_equal);
  return r;
}

void nl_remote_close(NlRemote *r) {
  if (!r) return;
  g_ptr_array_unref(r->hosts);
  g_free(r->statedir);
  g_free(r->pool);
  g_free(r->pool_path);
  g_hash_table_unref(r->pools_made);
  g_free(r);
}

static gboolean add_host(NlRemote *r, const char *name, const char *uri, GError **error) {
  g_autoptr(GError) local = NULL;
  NlVirt *v = nl_virt_open(uri, r->statedir, &local);
  if (!v) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "host '%s' (%s) is unreachable: %s", name, uri,
                local->message);
    return FALSE;
  }
  Host *h = g_new0(Host, 1);
  h->name = g_strdup(name);
  h->uri = g_strdup(uri);
  h->virt = v;
  g_ptr_array_add(r->hosts, h);
  return TRUE;
}

NlRemote *nl_remote_open(const NlLab *lab, const NlState *st, GError **error) {
  g_autoptr(NlRemote) r = remote_new(st);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (node->host && node->disk_mib) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "%s:%u: '%s' runs on host '%s' and has a disk: netlab keeps disks where "
                  "`up` runs only",
                  lab->conf_path, node->host_line, node->name, node->host);
      return NULL;
    }
  }
  for (guint i = 0; i < lab->hosts->len; i++) {
    const NlHost *h = lab->hosts->pdata[i];
    gboolean used = FALSE;
    for (guint j = 0; j < lab->nodes->len && !used; j++) {
      const char *on = ((NlNode *)lab->nodes->pdata[j])->host;
      used = on && g_str_equal(on, h->name);
    }
    if (used && !add_host(r, h->name, h->uri, error)) return NULL;
  }
  return r->hosts->len ? g_steal_pointer(&r) : NULL;
}

gboolean nl_remote_record(const NlRemote *r, const NlState *st, GError **error) {
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i < r->hosts->len; i++) {
    const Host *h = r->hosts->pdata[i];
    g_string_append_printf(s, "%s %s\n", h->name, h->uri);
  }
  /* A lab started in parts records the hosts of every part. */
  return nl_partial_add(st, "hosts", s->str, error);
}

NlRemote *nl_remote_open_recorded(const NlState *st, GPtrArray *unreachable) {
  g_autofree char *text = nl_state_get(st, "hosts");
  if (!text) return NULL;
  NlRemote *r = remote_new(st);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    const char *sp = strchr(*l, ' ');
    if (!sp) continue;
    g_autofree char *name = g_strndup(*l, sp - *l);
    g_autoptr(GError) e = NULL;
    if (!add_host(r, name, sp + 1, &e))
      g_ptr_array_add(unreachable,
                      g_strdup_printf("%s (the lab's VMs netlab-%s-* and storage pool %s there, "
                                      "if any, are left)",
                                      e->message, st->id, r->pool));
  }
  return r;
}

NlVirt *nl_remote_virt(const NlRemote *r, const char *host) {
  for (guint i = 0; r && i < r->hosts->len; i++) {
    const Host *h = r->hosts->pdata[i];
    if (g_str_equal(h->name, host)) return h->virt;
  }
  return NULL;
}

GPtrArray *nl_remote_hosts(const NlRemote *r) {
  GPtrArray *out = g_ptr_array_new();
  for (guint i = 0; r && i < r->hosts->len; i++)
    g_ptr_array_add(out, ((Host *)r->hosts->pdata[i])->name);
  return out;
}

gboolean nl_remote_check(NlRemote *r, const NlNode *node, const char *emulator, const char *moddir,
                         GError **error) {
  NlVirt *v = nl_remote_virt(r, node->host);
  g_autoptr(GError) e = NULL;
  g_autofree char *version = moddir ? g_path_get_basename(moddir) : NULL;
  if (!nl_virt_has_emulator(v, emulator, &e) ||
      (version && !nl_virt_dir_has(v, "/lib/modules", version, &e))) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "host '%s' cannot run '%s': %s (a node runs on its host's root: that host needs "
                "the packages netlab and the lab need here, and the kernel the node boots)",
                node->host, node->name, e->message);
    return FALSE;
  }
  return TRUE;
}

/* ---- the node's archive --------------------------------------------------- */

typedef struct {
  NlCpio *cpio; /* NULL: only list what is left out */
  gsize total;
  const char *top;    /* for messages */
  GPtrArray *skipped; /* char*: paths other users may not read, left out */
} Copy;

/* A node on another host gets what every local user may read of the lab,
 * nothing its owner kept to themselves: the copy leaves this host. */
static gboolean others_may_read(const struct stat *sb) {
  return S_ISDIR(sb->st_mode) ? (sb->st_mode & (S_IROTH | S_IXOTH)) == (S_IROTH | S_IXOTH)
                              : (sb->st_mode & S_IROTH) != 0;
}

/* DIR (open, owned by the caller) into the archive at PREFIX: regular files
 * and directories only that other users may read; a symlink or device node
 * is not followed nor copied, and neither is an old .netlab. */
static gboolean copy_dir(Copy *c, int dir, const char *prefix, GError **error) {
  int fd = dup(dir);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0) close(fd);
    return nl_set_errno(error, errno, "cannot read '%s'", c->top);
  }
  gboolean ok = TRUE;
  struct dirent *e;
  while (ok && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
        !strcmp(e->d_name, NL_LAYOUT_OLD_DATA))
      continue;
    g_autofree char *path = g_strconcat(prefix, "/", e->d_name, NULL);
    int child = openat(dir, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (child < 0 || fstat(child, &sb) != 0) {
      if (child >= 0) close(child);
      continue;
    }
    if ((S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode)) && !others_may_read(&sb)) {
      if (c->skipped) g_ptr_array_add(c->skipped, g_strdup(path));
    } else if (S_ISDIR(sb.st_mode)) {
      if (c->cpio) nl_cpio_add_dir(c->cpio, path, sb.st_mode & 07777);
      ok = copy_dir(c, child, path, error);
    } else if (S_ISREG(sb.st_mode) && !c->cpio) {
    } else if (S_ISREG(sb.st_mode)) {
      c->total += sb.st_size;
      if (c->total > LAB_COPY_MAX) {
        g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                    "lab '%s' is larger than the %u MiB a node on another host gets as its "
                    "/hostlab",
                    c->top, LAB_COPY_MAX >> 20);
        ok = FALSE;
      } else {
        /* Read, not mapped: a running node writes the lab's files through
         * /hostlab, and a file it truncates under a mapping is a SIGBUS
         * here. At most the size seen, should it grow meanwhile. */
        g_autofree char *data = g_malloc(sb.st_size + 1);
        gsize got = 0;
        ssize_t n;
        while (got < (gsize)sb.st_size && (n = read(child, data + got, sb.st_size - got)) > 0)
          got += n;
        nl_cpio_add_file(c->cpio, path, sb.st_mode & 0777, data, got);
      }
    }
    close(child);
  }
  closedir(d);
  return ok;
}

GPtrArray *nl_remote_unreadable(const char *labdir) {
  GPtrArray *skipped = g_ptr_array_new_with_free_func(g_free);
  int dir = open(labdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return skipped;
  Copy c = {.top = labdir, .skipped = skipped};
  copy_dir(&c, dir, "", NULL);
  close(dir);
  return skipped;
}

static GBytes *node_archive(const NlLab *lab, GHashTable *files, GHashTable *programs,
                            GError **error) {
  g_autoptr(NlCpio) cpio = nl_cpio_new();
  nl_cpio_add_dir(cpio, "/netlab-remote", 0755);
  nl_cpio_add_dir(cpio, "/netlab-remote/conf", 0755);
  GHashTableIter it;
  gpointer name, value;
  g_hash_table_iter_init(&it, files);
  while (g_hash_table_iter_next(&it, &name, &value)) {
    g_autofree char *path = g_strconcat("/netlab-remote/conf/", name, NULL);
    nl_cpio_add_file(cpio, path, 0644, value, strlen(value));
  }
  g_hash_table_iter_init(&it, programs);
  while (g_hash_table_iter_next(&it, &name, &value)) {
    g_autofree char *bin = NULL;
    gsize len;
    if (!g_file_get_contents(value, &bin, &len, error)) return NULL;
    g_autofree char *path = g_strconcat("/netlab-remote/conf/", name, NULL);
    nl_cpio_add_file(cpio, path, 0755, bin, len);
  }
  nl_cpio_add_dir(cpio, "/netlab-remote/lab", 0755);
  int dir = open(lab->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return nl_set_errno(error, errno, "cannot open '%s'", lab->dir), NULL;
  Copy c = {.cpio = cpio, .top = lab->dir};
  gboolean ok = copy_dir(&c, dir, "/netlab-remote/lab", error);
  close(dir);
  return ok ? nl_cpio_finish(cpio) : NULL;
}

static GBytes *map_file(const char *path, GError **error) {
  GMappedFile *m = g_mapped_file_new(path, FALSE, error);
  if (!m) return NULL;
  GBytes *b = g_mapped_file_get_bytes(m);
  g_mapped_file_unref(m);
  return b;
}

gboolean nl_remote_boot(NlRemote *r, const NlLab *lab, const NlNode *node, const char *kernel,
                        const char *initrd, GHashTable *files, GHashTable *programs,
                        char **kernel_at, char **initrd_at, GError **error) {
  NlVirt *v = nl_remote_virt(r, node->host);
  if (!g_hash_table_contains(r->pools_made, node->host)) {
    if (!nl_virt_pool_create(v, r->pool, r->pool_path, error)) return FALSE;
    g_hash_table_add(r->pools_made, node->host);
  }
  g_autoptr(GBytes) k = map_file(kernel, error);
  g_autoptr(GBytes) i = k ? map_file(initrd, error) : NULL;
  g_autoptr(GBytes) conf = i ? node_archive(lab, files, programs, error) : NULL;
  if (!conf) return FALSE;
  g_autofree char *kname = g_strconcat(node->name, ".kernel", NULL);
  g_autofree char *iname = g_strconcat(node->name, ".initrd", NULL);
  GBytes *initrd_parts[] = {i, conf};
  *kernel_at = nl_virt_upload(v, r->pool, kname, &k, 1, error);
  if (!*kernel_at) return FALSE;
  *initrd_at = nl_virt_upload(v, r->pool, iname, initrd_parts, 2, error);
  return *initrd_at != NULL;
}

void nl_remote_down(NlRemote *r, const NlState *st, GPtrArray *notes) {
  for (guint i = 0; i < r->hosts->len; i++) {
    Host *h = r->hosts->pdata[i];
    g_autofree char *prefix = g_strdup_printf("netlab-%s-", st->id);
    g_autoptr(GError) e = NULL;
    g_autoptr(GPtrArray) doms = nl_virt_list(h->virt, prefix, &e);
    for (guint j = 0; doms && j < doms->len; j++) {
      NlDomainInfo *d = doms->pdata[j];
      if (!nl_virt_destroy(h->virt, d->name, &e)) break;
    }
    if (!e) nl_virt_pool_delete(h->virt, r->pool, &e);
    if (e) g_ptr_array_add(notes, g_strdup_printf("host '%s': %s", h->name, e->message));
  }
}

/* One relay per node, recorded by its name: a node restarted, or added to
 * a running lab, gets its own without touching the others'. */
static gboolean relay_start(const char *relay, NlVirt *v, const NlNode *node, const NlState *st,
                            GError **error) {
  g_autofree char *domain = nl_domain_name(v, st->id, node->name);
  const char *argv[] = {relay, st->dir, node->name, nl_virt_uri(v), domain, NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                    error))
    return FALSE;
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "netlab-relay of '%s' failed: %s", node->name,
                g_strchomp(err));
    return FALSE;
  }
  return nl_proc_record(st, "relay", node->name, atoi(out), relay, error);
}

gboolean nl_remote_relay_start(const NlRemote *r, const NlLab *lab, const NlState *st,
                               GError **error) {
  g_autofree char *relay = nl_find_beside_self("netlab-relay", NETLAB_RELAY_INSTALLED, error);
  if (!relay) return FALSE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (node->host && !relay_start(relay, nl_remote_virt(r, node->host), node, st, error))
      return FALSE;
  }
  return TRUE;
}

/* The groups and VNIs (nl_span_id) that the state directories in BASE
 * record, but SELF's: those of every other lab up from here. */
static GHashTable *taken_here(const char *base, const char *self) {
  GHashTable *taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GDir) labs = g_dir_open(base, 0, NULL);
  const char *id;
  while (labs && (id = g_dir_read_name(labs))) {
    g_autofree char *dir = g_build_filename(base, id, NULL);
    g_autoptr(GDir) keys = strcmp(dir, self) != 0 ? g_dir_open(dir, 0, NULL) : NULL;
    const char *key;
    while (keys && (key = g_dir_read_name(keys))) {
      g_autofree char *path = g_build_filename(dir, key, NULL);
      g_autofree char *url = NULL;
      if (g_str_has_prefix(key, "vxvde.") && g_file_get_contents(path, &url, NULL, NULL)) {
        char *span = nl_span_id(g_strchomp(url));
        if (span) g_hash_table_add(taken, span);
      }
    }
  }
  return taken;
}

gboolean nl_remote_record_lab(const NlLab *lab, const NlState *st, GError **error) {
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    g_autofree char *key = g_strconcat("host.", node->name, NULL);
    if (node->host && !nl_state_set(st, key, node->host, error)) return FALSE;
  }
  gboolean any = FALSE;
  for (guint i = 0; i < lab->lans->len; i++) any |= nl_lan_vxvde(lab, lab->lans->pdata[i]);
  if (!any) return TRUE;
  /* Two labs up from here never share a vxvde network: under a lock of the
   * state root (the directory itself: a lock file would outlive `down`),
   * each LAN takes a group and VNI that no other lab's state directory
   * records (a lab's go with its state directory, at `down`). A LAN that has
   * one (a lab started in parts) keeps it. */
  g_autofree char *base = g_path_get_dirname(st->dir);
  int lock = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    nl_set_errno(error, errno, "cannot lock '%s'", base);
    if (lock >= 0) close(lock);
    return FALSE;
  }
  g_autoptr(GHashTable) taken = taken_here(base, st->dir);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < lab->lans->len; i++) {
    const char *lan = lab->lans->pdata[i];
    g_autofree char *key = g_strconcat("vxvde.", lan, NULL);
    g_autofree char *url = nl_lan_vxvde(lab, lan) ? nl_state_get(st, key) : NULL;
    if (nl_lan_vxvde(lab, lan) && !url) {
      url = nl_span_pick(g_get_host_name(), lab->dir, lan, &lab->underlay, taken);
      ok = nl_state_set(st, key, url, error);
    }
    char *span = nl_span_id(url);
    if (span) g_hash_table_add(taken, span);
  }
  close(lock);
  return ok;
}

GPtrArray *nl_remote_nic_urls(const NlState *st, const NlNode *node) {
  GPtrArray *urls = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < node->nics->len; i++) {
    g_autofree char *key = g_strconcat("vxvde.", ((NlNic *)node->nics->pdata[i])->lan, NULL);
    g_ptr_array_add(urls, node->host ? nl_state_get(st, key) : NULL);
  }
  return urls;
}

GHashTable *nl_remote_node_states(const NlState *st) {
  GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) unreachable = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(NlRemote) r = nl_remote_open_recorded(st, unreachable);
  g_autofree char *nodes = nl_state_get(st, "nodes");
  g_auto(GStrv) names = g_strsplit(nodes ? nodes : "", "\n", -1);
  for (char **n = names; r && *n && **n; n++) {
    g_autofree char *key = g_strconcat("host.", *n, NULL);
    g_autofree char *host = nl_state_get(st, key);
    if (!host) continue;
    g_strchomp(host);
    NlVirt *v = nl_remote_virt(r, host);
    const char *state = "unreachable";
    g_autoptr(GPtrArray) doms = NULL;
    if (v) {
      g_autofree char *domain = nl_domain_name(v, st->id, *n);
      doms = nl_virt_list(v, domain, NULL);
      state = "stopped";
      for (guint i = 0; doms && i < doms->len; i++) {
        NlDomainInfo *d = doms->pdata[i];
        if (g_str_equal(d->name, domain)) state = d->state;
      }
      if (!doms) state = "unreachable";
    }
    g_hash_table_insert(out, g_strdup(*n), g_strdup_printf("%s %s", host, state));
  }
  return out;
}
