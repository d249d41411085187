/* libFuzzer: the qcow2 header check, on any bytes a disk could start with
 * (a QEMU user can rewrite its own image). */
#include <glib.h>
#include <stdint.h>

#include "qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A copy of exactly SIZE bytes: ASan sees a read one past it. */
  g_autofree guint8 *copy = g_memdup2(data, size);
  g_autoptr(GError) e = NULL;
  gboolean ok = nl_qcow2_check(copy, size, &e);
  if (ok == (e != NULL)) __builtin_trap();
  return 0;
}
