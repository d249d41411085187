#include "rsp.h"

#include <string.h>

char *nl_rsp_take(GString *line) {
  const char *start = memchr(line->str, '$', line->len);
  const char *hash = start ? memchr(start, '#', line->len - (start - line->str)) : NULL;
  if (!hash || line->len - (hash - line->str) < 3) return NULL;
  char *payload = g_strndup(start + 1, hash - start - 1);
  g_string_erase(line, 0, hash + 3 - line->str);
  return payload;
}

static gboolean resumes(const char *actions) {
  /* vCont;ACTION[:thread];ACTION...: c, C, s, S and r (range step) run
   * the target; t stops a thread. */
  for (const char *a = actions; a && *a; a = strchr(a, ';')) {
    if (*a == ';') a++;
    if (strchr("cCsSr", *a) && *a) return TRUE;
  }
  return FALSE;
}

NlRspRequest nl_rsp_request(const char *p) {
  switch (p[0]) {
    case 'c':
    case 'C':
    case 's':
    case 'S':
    case 'i':
    case 'I': return NL_RSP_REQ_RESUME;
    case '?': return NL_RSP_REQ_WHY;
    case 'D':
    case 'k': return NL_RSP_REQ_DETACH;
    default: break;
  }
  if (g_str_has_prefix(p, "vCont;")) return resumes(p + 5) ? NL_RSP_REQ_RESUME : NL_RSP_REQ_OTHER;
  if (g_str_has_prefix(p, "vAttach;") || g_str_has_prefix(p, "vRun;")) return NL_RSP_REQ_WHY;
  if (g_str_has_prefix(p, "vKill")) return NL_RSP_REQ_DETACH;
  return NL_RSP_REQ_OTHER;
}

static gboolean all_hex(const char *s) {
  for (; *s; s++)
    if (!g_ascii_isxdigit(*s)) return FALSE;
  return TRUE;
}

/* Whether F's argument is a call's result ("F0", "F-1,2", "F1a;DATA": a
 * reply to gdb's vFile request) rather than a call's name ("Fopen,..."). No
 * File-I/O call's name is a hex number, and the syntax alone decides: over a
 * serial line gdb resends a packet whose ack is late, so a stub answers one
 * vFile request twice, and a relay counting requests takes the second
 * answer for a request of its own. */
static gboolean fileio_result(const char *arg) {
  if (*arg == '-') arg++;
  gsize n = strcspn(arg, ",;");
  if (n == 0) return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isxdigit(arg[i])) return FALSE;
  return TRUE;
}

NlRspReply nl_rsp_reply(const char *p, gboolean awaiting_stop) {
  /* A non-stop notification ("%Stop:T05...") carries a stop reply. */
  if (g_str_has_prefix(p, "Stop:")) p += 5;
  if (p[0] == 'F' && !fileio_result(p + 1)) return NL_RSP_REPLY_FILEIO;
  if (p[0] == 'O' && p[1] && all_hex(p + 1)) return NL_RSP_REPLY_OUTPUT;
  if (awaiting_stop && p[0] && strchr("STWX", p[0]) && g_ascii_isxdigit(p[1]) &&
      g_ascii_isxdigit(p[2]))
    return NL_RSP_REPLY_STOP;
  return NL_RSP_REPLY_OTHER;
}

char *nl_rsp_frame(const char *payload) {
  guint8 sum = 0;
  for (const char *c = payload; *c; c++) sum += (guint8)*c;
  return g_strdup_printf("$%s#%02x", payload, sum);
}
