/* The qcow2 header check: images qemu-img makes pass, every header field
 * that could name a host file is refused, and nothing is read past the
 * buffer (the fuzzer covers the rest). */
#include <glib.h>
#include <string.h>

#include "qcow2.h"
#include "tap.h"

static GBytes *sample(const char *name) {
  g_autofree char *path = g_build_filename(g_getenv("NETLAB_TEST_DATA"), "qcow2", name, NULL);
  char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, NULL)) return g_bytes_new(NULL, 0);
  return g_bytes_new_take(data, len);
}

/* The error for BUF[0..LEN), or NULL when it passes. */
static char *why(const guint8 *buf, gsize len) {
  g_autoptr(GError) e = NULL;
  if (nl_qcow2_check(buf, len, &e)) return NULL;
  return g_strdup(e->message);
}

static void put32(guint8 *p, guint32 v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

int main(void) {
  g_autoptr(GBytes) v3 = sample("plain-v3");
  g_autoptr(GBytes) v2 = sample("plain-v2");
  g_autoptr(GBytes) backing = sample("backing");
  g_autoptr(GBytes) data_file = sample("data-file");
  gsize n3 = 0;
  const guint8 *b3 = g_bytes_get_data(v3, &n3);
  TAP_OK(n3 >= 512, "the samples are there (%zu bytes)", n3);
  g_autofree char *w = why(b3, n3);
  TAP_STREQ(w, NULL, "a plain qcow2 v3 image from qemu-img passes");
  gsize n2 = 0;
  const guint8 *b2 = g_bytes_get_data(v2, &n2);
  g_autofree char *w2 = why(b2, n2);
  TAP_STREQ(w2, NULL, "a plain qcow2 v2 (compat=0.10) image passes");
  gsize nb = 0;
  const guint8 *bb = g_bytes_get_data(backing, &nb);
  g_autofree char *wb = why(bb, nb);
  TAP_STREQ(wb, "its qcow2 header names a backing file", "a backing file is refused");
  gsize nd = 0;
  const guint8 *bd = g_bytes_get_data(data_file, &nd);
  g_autofree char *wd = why(bd, nd);
  TAP_STREQ(wd, "its qcow2 header asks for an external data file",
            "an external data file (qemu-img -o data_file=) is refused");

  /* Mutations of the plain image. */
  g_autofree guint8 *m = g_memdup2(b3, n3);
  m[72 + 7] |= 1 << 2;
  g_autofree char *wi = why(m, n3);
  TAP_STREQ(wi, "its qcow2 header asks for an external data file",
            "the external-data-file feature bit alone is refused");
  memcpy(m, b3, n3);
  m[72] = 0x80;
  g_autofree char *wu = why(m, n3);
  TAP_OK(wu && strstr(wu, "unknown incompatible"),
         "an unknown incompatible feature is refused (%s)", wu);
  /* A data-file extension in place of the first one. */
  memcpy(m, b3, n3);
  guint32 hlen = (guint32)m[100] << 24 | m[101] << 16 | m[102] << 8 | m[103];
  put32(m + hlen, 0x44415441);
  put32(m + hlen + 4, 8);
  memcpy(m + hlen + 8, "/etc/pwd", 8);
  memset(m + hlen + 16, 0, 8);
  g_autofree char *we = why(m, n3);
  TAP_STREQ(we, "its qcow2 header names an external data file",
            "a data-file header extension is refused");
  put32(m + hlen, 0xe2792aca);
  g_autofree char *wf = why(m, n3);
  TAP_STREQ(wf, "its qcow2 header has a backing-format extension",
            "a backing-format extension is refused");
  /* An extension whose length runs off the end of what was read. */
  put32(m + hlen, 0x6803f857);
  put32(m + hlen + 4, 0xfffffff0);
  g_autofree char *wl = why(m, n3);
  TAP_OK(wl && strstr(wl, "runs past"), "an extension longer than the header is refused (%s)", wl);
  /* No end marker within what was read. */
  memcpy(m, b3, n3);
  g_autofree char *wt = why(m, hlen + 4);
  TAP_OK(wt && strstr(wt, "run past"), "extensions cut short are refused (%s)", wt);
  memcpy(m, b3, n3);
  put32(m + 32, 1);
  g_autofree char *wc = why(m, n3);
  TAP_STREQ(wc, "the qcow2 image is encrypted", "an encrypted image is refused");
  memcpy(m, b3, n3);
  put32(m + 100, 1 << 30);
  g_autofree char *wh = why(m, n3);
  TAP_OK(wh && strstr(wh, "header length"), "a huge header length is refused (%s)", wh);
  g_autofree char *wr = why((const guint8 *)"QFI\xfb", 4);
  TAP_STREQ(wr, "not a qcow2 image", "4 bytes are no image");
  g_autofree char *wv = why((const guint8 *)"KDMV", 4);
  TAP_STREQ(wv, "not a qcow2 image", "a VMDK is no qcow2 image");
  return tap_done();
}
