/* libFuzzer: the host's side of the agent protocol (src/lib/console/exec.c): what a
 * guest sends, fed to nla_take() in the pieces reads would give, with the
 * buffer kept and dropped as exec.c does. The first byte picks the read
 * size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-proto.h"

static int on_frame(void *ctx, const NlaFrame *f) {
  unsigned *sum = ctx;
  /* Touch every payload byte: ASan reports any read past the input. */
  for (uint32_t i = 0; i < f->len; i++) *sum += f->payload[i];
  if (f->len > NLA_MAX_PAYLOAD) __builtin_trap();
  if (f->type == NLA_EXIT && (f->value < 0 || f->value > 255)) __builtin_trap();
  return f->type == NLA_EXIT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] % 64 + 1;
  data++, size--;
  uint8_t *buf = malloc(size + 1);
  size_t have = 0, fed = 0;
  int synced = 0;
  unsigned sum = 0;
  while (fed < size) {
    size_t n = size - fed < chunk ? size - fed : chunk;
    memcpy(buf + have, data + fed, n);
    have += n, fed += n;
    const char *bad = NULL;
    long used = nla_take(buf, have, NLA_TO_HOST, &synced, on_frame, &sum, &bad);
    if (used < 0) {
      if (!bad) __builtin_trap();
      break;
    }
    if ((size_t)used > have) __builtin_trap();
    memmove(buf, buf + used, have - used);
    have -= used;
    /* Bounded: at most one partial frame waits. */
    if (have > sizeof(NlaHeader) + NLA_MAX_PAYLOAD + chunk) __builtin_trap();
  }
  free(buf);
  return 0;
}
