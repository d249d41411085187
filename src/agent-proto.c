/* The frame decoder and request parser shared by netlab (host) and
 * netlab-agent (guest); see agent-proto.h. No GLib: the agent has none. */
#include "agent-proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks a header (and, for fixed-size frames, the payload's value). Returns
 * NULL when valid, else why not. */
static const char *check_header(const NlaHeader *h, NlaDirection dir) {
  if (h->pad != 0) return "a frame header with a non-zero pad byte";
  if (h->len > NLA_MAX_PAYLOAD) return "a frame longer than 64 KiB";
  const char *types = dir == NLA_TO_HOST ? "POEQFAH" : "XISWpH";
  if (!h->type || !strchr(types, h->type)) return "a frame of unknown type";
  switch (h->type) {
    case NLA_STARTED:
    case NLA_EXIT:
    case NLA_SIGNAL:
    case NLA_WINSIZE:
      if (h->len != 4) return "a fixed-size frame of the wrong size";
      break;
    case NLA_PING:
    case NLA_ALIVE:
      if (h->len != 0) return "a ping frame with a payload";
      break;
    case NLA_HELLO:
      if (h->len != NLA_TOKEN) return "a hello frame whose token is not 8 bytes";
      break;
  }
  return NULL;
}

static const char *check_value(const NlaFrame *f) {
  if (f->type == NLA_EXIT && (f->value < 0 || f->value > 255))
    return "an exit status out of 0..255";
  if (f->type == NLA_STARTED && f->value <= 0) return "a process id that is not positive";
  return NULL;
}

/* The offset of the first "NL" in BUF[0..LEN), or where a frame could still
 * start once more bytes come (LEN, or LEN-1 for a trailing 'N'). */
static size_t find_magic(const uint8_t *buf, size_t len) {
  size_t at = 0;
  while (at < len) {
    const uint8_t *n = memchr(buf + at, NLA_MAGIC0, len - at);
    if (!n) return len;
    at = n - buf;
    if (at + 1 == len || buf[at + 1] == NLA_MAGIC1) return at;
    at++;
  }
  return len;
}

long nla_take(const uint8_t *buf, size_t len, NlaDirection dir, int *synced, NlaHandler fn,
              void *ctx, const char **error) {
  size_t pos = 0;
  for (;;) {
    size_t at = pos + find_magic(buf + pos, len - pos);
    if (at != pos && synced && *synced) {
      *error = "bytes between frames that start no frame";
      return -1;
    }
    pos = at;
    if (len - pos < sizeof(NlaHeader)) return (long)pos;
    NlaHeader h;
    memcpy(&h, buf + pos, sizeof h);
    const char *bad = check_header(&h, dir);
    if (!bad && len - pos - sizeof h < h.len) return (long)pos; /* the rest to come */
    NlaFrame f = {h.type, h.len, buf + pos + sizeof h, 0};
    if (!bad && h.len == 4) memcpy(&f.value, f.payload, 4);
    if (!bad) bad = check_value(&f);
    if (bad) {
      if (synced && *synced) {
        *error = bad;
        return -1;
      }
      pos += 2; /* past this magic: a later one may start a frame */
      continue;
    }
    pos += sizeof h + h.len;
    if (synced) *synced = 1;
    if (fn(ctx, &f)) return (long)pos;
  }
}

const char *nla_request_parse(const char *req, size_t len, NlaRequest *r) {
  memset(r, 0, sizeof *r);
  r->cwd = "/";
  if (len == 0) return "no command";
  /* Every entry ends with a NUL, the last one too: else the last would be
   * read past the payload. */
  if (req[len - 1] != '\0') return "a request entry that is not NUL-terminated";
  /* Each entry has at least "a:" and a NUL: at most len / 3 of them. */
  size_t most = len / 3 + 1;
  r->argv = calloc(most + 1, sizeof *r->argv);
  r->env = calloc(most + 1, sizeof *r->env);
  if (!r->argv || !r->env) return "out of memory";
  size_t nargs = 0, nenv = 0;
  for (const char *e = req; e < req + len; e += strlen(e) + 1) {
    if (!strncmp(e, "a:", 2)) {
      r->argv[nargs++] = e + 2;
    } else if (!strncmp(e, "e:", 2)) {
      if (!strchr(e + 2, '=') || e[2] == '=') return "an environment entry that is not NAME=VALUE";
      r->env[nenv++] = e + 2;
    } else if (!strncmp(e, "w:", 2)) {
      r->cwd = e + 2;
    } else if (!strncmp(e, "t:", 2)) {
      r->tty = 1;
      char term[64] = "";
      if (sscanf(e + 2, "%d %d %63s", &r->rows, &r->cols, term) >= 2)
        memcpy(r->term, term, sizeof term);
      if (r->rows < 0 || r->rows > 65535 || r->cols < 0 || r->cols > 65535) r->rows = r->cols = 0;
    } else if (!strncmp(e, "d:", 2)) {
      r->detach = 1;
    } else {
      return "an unknown request entry";
    }
  }
  if (nargs == 0 || !r->argv[0][0]) return "no command";
  return NULL;
}

void nla_request_clear(NlaRequest *r) {
  free(r->argv);
  free(r->env);
  r->argv = r->env = NULL;
}
