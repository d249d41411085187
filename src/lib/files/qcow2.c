/* The qcow2 header check (see qcow2.h); the layout is QEMU's
 * docs/interop/qcow2.txt. All fields are big-endian. */
#include "qcow2.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Incompatible features QEMU knows: 0 dirty, 1 corrupt, 2 external data
 * file, 3 compression type, 4 extended L2 entries. */
#define INCOMPAT_DATA_FILE (1u << 2)
#define INCOMPAT_OK ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 4))

/* Header extension types. */
#define EXT_END 0x00000000u
#define EXT_BACKING_FORMAT 0xe2792acau
#define EXT_FEATURE_TABLE 0x6803f857u
#define EXT_BITMAPS 0x23852875u
#define EXT_ENCRYPTION 0x0537be77u
#define EXT_DATA_FILE 0x44415441u

static guint32 be32(const guint8 *p) {
  return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static guint64 be64(const guint8 *p) { return (guint64)be32(p) << 32 | be32(p + 4); }

static gboolean refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean refuse(GError **error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *why = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s", why);
  return FALSE;
}

gboolean nl_qcow2_check(const guint8 *buf, gsize len, GError **error) {
  if (len < 72 || memcmp(buf, "QFI\xfb", 4) != 0) return refuse(error, "not a qcow2 image");
  guint32 version = be32(buf + 4);
  if (version != 2 && version != 3) return refuse(error, "qcow2 version %u, not 2 or 3", version);
  if (be64(buf + 8) != 0 || be32(buf + 16) != 0)
    return refuse(error, "its qcow2 header names a backing file");
  guint32 cluster_bits = be32(buf + 20);
  if (cluster_bits < 9 || cluster_bits > 21)
    return refuse(error, "qcow2 cluster size 2^%u is out of range", cluster_bits);
  if (be32(buf + 32) != 0) return refuse(error, "the qcow2 image is encrypted");
  gsize hlen = 72;
  if (version == 3) {
    if (len < 104) return refuse(error, "truncated qcow2 version 3 header");
    guint64 incompat = be64(buf + 72);
    if (incompat & INCOMPAT_DATA_FILE)
      return refuse(error, "its qcow2 header asks for an external data file");
    if (incompat & ~(guint64)INCOMPAT_OK)
      return refuse(error, "unknown incompatible qcow2 features 0x%" G_GINT64_MODIFIER "x",
                    incompat & ~(guint64)INCOMPAT_OK);
    guint32 h = be32(buf + 100);
    if (h < 104 || h % 8 != 0 || h > NL_QCOW2_HEADER_MAX)
      return refuse(error, "qcow2 header length %u is out of range", h);
    hlen = h;
  }
  /* The extensions, up to the end marker; each is padded to 8 bytes. */
  gsize limit = MIN(len, (gsize)1 << cluster_bits);
  for (gsize off = hlen;;) {
    if (off + 8 > limit) return refuse(error, "qcow2 header extensions run past %zu bytes", limit);
    guint32 type = be32(buf + off), elen = be32(buf + off + 4);
    if (type == EXT_END) return TRUE;
    switch (type) {
      case EXT_FEATURE_TABLE:
      case EXT_BITMAPS: break;
      case EXT_BACKING_FORMAT:
        return refuse(error, "its qcow2 header has a backing-format extension");
      case EXT_DATA_FILE: return refuse(error, "its qcow2 header names an external data file");
      case EXT_ENCRYPTION: return refuse(error, "the qcow2 image is encrypted");
      default: return refuse(error, "unknown qcow2 header extension 0x%08x", type);
    }
    gsize padded = ((gsize)elen + 7) & ~(gsize)7;
    if (padded > limit - off - 8)
      return refuse(error, "qcow2 header extension 0x%08x runs past %zu bytes", type, limit);
    off += 8 + padded;
  }
}

gboolean nl_qcow2_check_fd(int fd, const char *name, GError **error) {
  g_autofree guint8 *buf = g_malloc(NL_QCOW2_HEADER_MAX);
  gsize len = 0;
  while (len < NL_QCOW2_HEADER_MAX) {
    ssize_t n = pread(fd, buf + len, NL_QCOW2_HEADER_MAX - len, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return nl_set_errno(error, errno, "cannot read disk '%s'", name);
    if (n == 0) break;
    len += n;
  }
  g_autoptr(GError) why = NULL;
  if (nl_qcow2_check(buf, len, &why)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "refusing disk '%s': %s", name, why->message);
  return FALSE;
}
