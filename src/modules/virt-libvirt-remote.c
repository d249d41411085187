/* netlab-virt.so, the part for nodes on other hosts: a storage pool that
 * carries each node's boot files there, and the virtio ports read through
 * libvirt's streams, since the host's sockets are out of reach. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "virt-libvirt.h"

typedef virStoragePool NlPool;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlPool, virStoragePoolFree)
typedef virStorageVol NlVol;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlVol, virStorageVolFree)
typedef virStream NlStream;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlStream, virStreamFree)
typedef virDomain NlDomain;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlDomain, virDomainFree)

static void esc(GString *s, const char *text) {
  g_autofree char *e = g_markup_escape_text(text, -1);
  g_string_append(s, e);
}

/* A directory pool, defined (so that `down` can remove its directory
 * through libvirt: only an inactive pool can be deleted) and started. The
 * QEMU user of the host reads the boot files, nothing more. */
gboolean nl_lv_pool_create(void *conn, const char *name, const char *path, GError **error) {
  g_autoptr(NlPool) old = virStoragePoolLookupByName(conn, name);
  if (old && virStoragePoolIsActive(old) == 1) return TRUE;
  g_autoptr(GString) x = g_string_new("<pool type='dir'><name>");
  esc(x, name);
  g_string_append(x, "</name><target><path>");
  esc(x, path);
  g_string_append(x, "</path><permissions><mode>0755</mode></permissions></target></pool>");
  g_autoptr(NlPool) pool = old ? g_steal_pointer(&old) : virStoragePoolDefineXML(conn, x->str, 0);
  if (!pool || virStoragePoolBuild(pool, 0) < 0 || virStoragePoolCreate(pool, 0) < 0) {
    g_autofree char *what = g_strdup_printf("cannot create storage pool '%s' at '%s'", name, path);
    return nl_lv_error(error, what);
  }
  return TRUE;
}

char *nl_lv_upload(void *conn, const char *pool_name, const char *vol_name, GBytes *const *parts,
                   guint n_parts, GError **error) {
  g_autofree char *what =
      g_strdup_printf("cannot upload '%s' to storage pool '%s'", vol_name, pool_name);
  g_autoptr(NlPool) pool = virStoragePoolLookupByName(conn, pool_name);
  if (!pool) return nl_lv_fail(error, what);
  gsize total = 0;
  for (guint i = 0; i < n_parts; i++) total += g_bytes_get_size(parts[i]);
  g_autoptr(NlVol) old = virStorageVolLookupByName(pool, vol_name);
  if (old) virStorageVolDelete(old, 0);
  g_autoptr(GString) x = g_string_new("<volume><name>");
  esc(x, vol_name);
  g_string_append_printf(x,
                         "</name><capacity unit='bytes'>%" G_GSIZE_FORMAT
                         "</capacity><target><format type='raw'/>"
                         "<permissions><mode>0644</mode></permissions></target></volume>",
                         total);
  g_autoptr(NlVol) vol = virStorageVolCreateXML(pool, x->str, 0);
  g_autoptr(NlStream) st = vol ? virStreamNew(virStoragePoolGetConnect(pool), 0) : NULL;
  if (!st || virStorageVolUpload(vol, st, 0, total, 0) < 0) return nl_lv_fail(error, what);
  for (guint i = 0; i < n_parts; i++) {
    gsize len;
    const char *data = g_bytes_get_data(parts[i], &len);
    while (len > 0) {
      int n = virStreamSend(st, data, MIN(len, 1 << 20));
      if (n < 0) {
        virStreamAbort(st);
        return nl_lv_fail(error, what);
      }
      data += n;
      len -= n;
    }
  }
  if (virStreamFinish(st) < 0) return nl_lv_fail(error, what);
  char *path = virStorageVolGetPath(vol);
  char *out = g_strdup(path);
  free(path);
  return out;
}

gboolean nl_lv_pool_delete(void *conn, const char *name, GError **error) {
  g_autoptr(NlPool) pool = virStoragePoolLookupByName(conn, name);
  if (!pool) return TRUE;
  g_autofree char *what = g_strdup_printf("cannot remove storage pool '%s'", name);
  virStorageVolPtr *vols = NULL;
  virStoragePoolRefresh(pool, 0);
  int n = virStoragePoolListAllVolumes(pool, &vols, 0);
  for (int i = 0; i < n; i++) {
    virStorageVolDelete(vols[i], 0);
    virStorageVolFree(vols[i]);
  }
  free(vols);
  if ((virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0) ||
      virStoragePoolDelete(pool, 0) < 0 || virStoragePoolUndefine(pool) < 0)
    return nl_lv_error(error, what);
  return TRUE;
}

/* Blocking: `up` calls it in a thread of its own, one per node. */
char *nl_lv_channel_line(void *conn, const char *domain, const char *channel, gsize max,
                         GError **error) {
  g_autofree char *what =
      g_strdup_printf("cannot read port '%s' of VM '%s' through libvirt", channel, domain);
  g_autoptr(NlDomain) dom = virDomainLookupByName(conn, domain);
  g_autoptr(NlStream) st = dom ? virStreamNew(conn, 0) : NULL;
  if (!st || virDomainOpenChannel(dom, channel, st, VIR_DOMAIN_CHANNEL_FORCE) < 0)
    return nl_lv_fail(error, what);
  GString *line = g_string_new(NULL);
  char c;
  while (line->len <= max) {
    int n = virStreamRecv(st, &c, 1);
    if (n < 0) {
      g_string_free(line, TRUE);
      return nl_lv_fail(error, what);
    }
    if (n == 0 || c == '\n') break;
    g_string_append_c(line, c);
  }
  virStreamAbort(st);
  return g_string_free(line, FALSE);
}

typedef struct {
  virStreamPtr st;
  int fd;
} Pump;

/* The client's bytes to the guest, until the client is gone: then the
 * stream is aborted, which ends the other direction too. */
static gpointer client_to_stream(gpointer data) {
  Pump *p = data;
  char buf[16384];
  for (;;) {
    ssize_t n = read(p->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      int sent = virStreamSend(p->st, buf + off, n - off);
      if (sent < 0) goto out;
      off += sent;
    }
  }
out:
  virStreamAbort(p->st);
  return NULL;
}

gboolean nl_lv_relay(void *conn, const char *domain, const char *port, int fd, GError **error) {
  g_autofree char *what =
      g_strdup_printf("cannot open port '%s' of VM '%s' through libvirt", port, domain);
  g_autoptr(NlDomain) dom = virDomainLookupByName(conn, domain);
  g_autoptr(NlStream) st = dom ? virStreamNew(conn, 0) : NULL;
  /* serial0, serial1: a serial port; else a virtio port's name. */
  gboolean serial = g_str_has_prefix(port, "serial");
  if (!st || (serial ? virDomainOpenConsole(dom, port, st, VIR_DOMAIN_CONSOLE_FORCE)
                     : virDomainOpenChannel(dom, port, st, VIR_DOMAIN_CHANNEL_FORCE)) < 0)
    return nl_lv_error(error, what);
  Pump p = {st, fd};
  GThread *t = g_thread_new("relay", client_to_stream, &p);
  char buf[16384];
  int n;
  while ((n = virStreamRecv(st, buf, sizeof buf)) > 0)
    if (!nl_write_all(fd, buf, n)) break;
  /* Ends the client's side, and so the thread. */
  shutdown(fd, SHUT_RDWR);
  g_thread_join(t);
  return TRUE;
}

/* Whether the host has the emulator EMULATOR, as libvirt would run it. */
gboolean nl_lv_has_emulator(void *conn, const char *emulator, GError **error) {
  char *caps = virConnectGetDomainCapabilities(conn, emulator, "x86_64", "pc", "qemu", 0);
  if (!caps) {
    g_autofree char *what = g_strdup_printf("no QEMU '%s'", emulator);
    return nl_lv_error(error, what);
  }
  free(caps);
  return TRUE;
}

/* Whether DIR on the host has an entry NAME. libvirt has no call to look at
 * a host's files, but a directory storage pool lists one: a transient pool
 * over DIR, never built, only listed, then let go (which leaves DIR as it
 * was). */
gboolean nl_lv_dir_has(void *conn, const char *dir, const char *name, GError **error) {
  g_autoptr(GString) x = g_string_new("<pool type='dir'><name>netlab-look-");
  g_autofree char *tag = g_strdup_printf("%d-%u", getpid(), g_random_int());
  g_string_append(x, tag);
  g_string_append(x, "</name><target><path>");
  esc(x, dir);
  g_string_append(x, "</path></target></pool>");
  g_autoptr(NlPool) pool = virStoragePoolCreateXML(conn, x->str, 0);
  if (!pool) {
    g_autofree char *what = g_strdup_printf("cannot look into '%s'", dir);
    return nl_lv_error(error, what);
  }
  g_autoptr(NlVol) vol = virStorageVolLookupByName(pool, name);
  virStoragePoolDestroy(pool);
  if (!vol) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "no '%s/%s'", dir, name);
    return FALSE;
  }
  return TRUE;
}
