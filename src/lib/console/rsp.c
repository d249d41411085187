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
