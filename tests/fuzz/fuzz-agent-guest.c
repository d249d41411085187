/* libFuzzer: the agent's side of the protocol (src/guest/agent.c): frames from
 * the host through nla_take(), and each NLA_EXEC payload through
 * nla_request_parse(), in a buffer of exactly its size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-proto.h"

static int on_frame(void *ctx, const NlaFrame *f) {
  if (f->type != NLA_EXEC) return 0;
  char *req = malloc(f->len ? f->len : 1);
  memcpy(req, f->payload, f->len);
  NlaRequest r;
  if (!nla_request_parse(req, f->len, &r)) {
    size_t total = 0;
    for (const char **a = r.argv; *a; a++) total += strlen(*a);
    for (const char **e = r.env; *e; e++) {
      if (!strchr(*e, '=')) __builtin_trap();
      total += strlen(*e);
    }
    total += strlen(r.cwd) + strlen(r.term);
    if (total > f->len) __builtin_trap();
  }
  nla_request_clear(&r);
  free(req);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *buf = malloc(size ? size : 1);
  memcpy(buf, data, size);
  const char *unused;
  long used = nla_take(buf, size, NLA_TO_GUEST, NULL, on_frame, NULL, &unused);
  if (used < 0 || (size_t)used > size) __builtin_trap();
  free(buf);
  return 0;
}
