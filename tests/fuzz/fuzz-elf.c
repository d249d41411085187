/* libFuzzer: the ELF reader, on any bytes a lab could name as its kernel:
 * the PVH note finder, and the zero trimmer, which writes into the image. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nl_elf_has_pvh(data, size);
  /* A copy of exactly SIZE bytes: ASan sees a write one past it. */
  g_autofree guint8 *copy = g_memdup2(data, size);
  gsize saved = nl_elf_trim_zeros(copy, size);
  if (saved > size) __builtin_trap();
  return 0;
}
