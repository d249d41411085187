#include "results.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void nl_test_result_free(NlTestResult *r) {
  g_free(r->name);
  g_free(r->output);
  g_free(r->why);
  g_free(r);
}

/* A test that prints TAP fails on any "not ok" (not marked TODO) or when it
 * ran fewer tests than it planned; any test fails on a non-zero status. */
gboolean nl_tap_verdict(const char *out, char **why) {
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
  int planned = -1, ran = 0, failed = 0;
  for (char **l = lines; *l; l++) {
    if (g_str_has_prefix(*l, "ok")) {
      ran++;
    } else if (g_str_has_prefix(*l, "not ok")) {
      ran++;
      if (!strstr(*l, "# TODO")) failed++;
    } else if (g_str_has_prefix(*l, "1..")) {
      planned = atoi(*l + 3);
    }
  }
  if (failed)
    *why = g_strdup_printf("%d of its %d TAP tests failed", failed, ran);
  else if (planned >= 0 && planned != ran)
    *why = g_strdup_printf("planned %d TAP tests, ran %d", planned, ran);
  return !failed && (planned < 0 || planned == ran);
}

/* TEXT as XML character data: made valid UTF-8, terminal escape sequences
 * (a test's colours) removed, and the control characters XML 1.0 cannot
 * hold, even as references, replaced by U+FFFD; then escaped. */
static char *xml_text(const char *text) {
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  g_autoptr(GString) s = g_string_sized_new(strlen(valid));
  for (const char *c = valid; *c;) {
    if (*c == '\x1b') {
      c++;
      if (*c == '[') {
        /* CSI: parameter and intermediate bytes up to a final 0x40-0x7e. */
        for (c++; *c && (*c < 0x40 || *c > 0x7e); c++) {
        }
        if (*c) c++;
      } else if (*c == ']') {
        /* OSC (a terminal title): up to BEL or ESC \. */
        for (c++; *c && *c != '\a' && *c != '\x1b'; c++) {
        }
        if (*c == '\a') c++;
      } else if (*c) {
        c++;
      }
      continue;
    }
    gunichar u = g_utf8_get_char(c);
    if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r') || u == 0xfffe || u == 0xffff)
      g_string_append_unichar(s, 0xfffd);
    else
      g_string_append_len(s, c, g_utf8_next_char(c) - c);
    c = g_utf8_next_char(c);
  }
  return g_markup_escape_text(s->str, s->len);
}

gboolean nl_junit_write(const char *file, const char *suite, GPtrArray *results, GError **error) {
  GString *x = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  guint failures = 0;
  double total = 0;
  for (guint i = 0; i < results->len; i++) {
    NlTestResult *r = results->pdata[i];
    failures += !r->passed;
    total += r->secs;
  }
  g_autofree char *name = xml_text(suite);
  g_string_append_printf(x,
                         "<testsuite name=\"%s\" tests=\"%u\" failures=\"%u\" "
                         "time=\"%.3f\">\n",
                         name, results->len, failures, total);
  for (guint i = 0; i < results->len; i++) {
    NlTestResult *r = results->pdata[i];
    g_autofree char *tn = xml_text(r->name);
    g_autofree char *out = xml_text(r->output);
    g_string_append_printf(x, "  <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n", name, tn,
                           r->secs);
    if (!r->passed) {
      g_autofree char *why = xml_text(r->why ? r->why : "failed");
      g_string_append_printf(x, "    <failure message=\"%s\"/>\n", why);
    }
    g_string_append_printf(x, "    <system-out>%s</system-out>\n  </testcase>\n", out);
  }
  g_string_append(x, "</testsuite>\n");
  gboolean ok = nl_write_file(file, x->str, x->len, 0644, error);
  g_string_free(x, TRUE);
  return ok;
}
