/* netlab test's results (src/lib/testrun/results.c): a test's verdict from
 * its TAP output, and JUnit XML that any output leaves well-formed. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "results.h"
#include "tap.h"

/* The verdict on OUT, and why it failed ("" when it passed). */
static gboolean verdict(const char *out, char **why) {
  *why = NULL;
  gboolean ok = nl_tap_verdict(out, why);
  if (!*why) *why = g_strdup("");
  return ok;
}

static void test_tap(void) {
  g_autofree char *w1 = NULL, *w2 = NULL, *w3 = NULL, *w4 = NULL, *w5 = NULL, *w6 = NULL;
  TAP_OK(verdict("1..2\nok 1 - a\nok 2 - b\n", &w1) && !*w1, "tap: all ok passes");
  TAP_OK(!verdict("1..2\nok 1 - a\nnot ok 2 - b\n", &w2), "tap: a 'not ok' fails");
  TAP_STREQ(w2, "1 of its 2 TAP tests failed", "tap: ... saying how many");
  TAP_OK(verdict("ok 1\nnot ok 2 - later # TODO not yet\n1..2\n", &w3),
         "tap: a 'not ok' marked TODO does not fail, and the plan may come last");
  TAP_OK(!verdict("1..3\nok 1\nok 2\n", &w4), "tap: fewer tests than planned fails");
  TAP_STREQ(w4, "planned 3 TAP tests, ran 2", "tap: ... saying the plan and the count");
  TAP_OK(verdict("just some output\n", &w5) && !*w5, "tap: output with no TAP passes");
  TAP_OK(!verdict("# ok 1 is a comment\nnot ok 1\n", &w6),
         "tap: only lines that start with ok or not ok count");
}

static void test_junit(void) {
  g_autofree char *dir = g_dir_make_tmp("test-results.XXXXXX", NULL);
  g_autofree char *file = g_build_filename(dir, "junit.xml", NULL);
  g_autoptr(GPtrArray) results =
      g_ptr_array_new_with_free_func((GDestroyNotify)nl_test_result_free);
  NlTestResult *a = g_new0(NlTestResult, 1);
  a->name = g_strdup("01-ping");
  a->passed = TRUE;
  a->secs = 1.5;
  a->output = g_strdup("\x1b[32mok\x1b[0m 1 - <r1> & \"r2\"\n\x1b]0;title\a");
  g_ptr_array_add(results, a);
  NlTestResult *b = g_new0(NlTestResult, 1);
  b->name = g_strdup("02-ospf");
  b->secs = 0.25;
  b->output = g_strdup("bad \x01 byte \xff here\n");
  b->why = g_strdup("exited with status 1");
  g_ptr_array_add(results, b);
  g_autoptr(GError) error = NULL;
  TAP_OK(nl_junit_write(file, "lab <x>", results, &error), "junit: written (%s)",
         error ? error->message : "no error");
  g_autofree char *xml = NULL;
  g_file_get_contents(file, &xml, NULL, NULL);
  TAP_OK(xml && strstr(xml,
                       "<testsuite name=\"lab &lt;x&gt;\" tests=\"2\" failures=\"1\" "
                       "time=\"1.750\">"),
         "junit: the suite, escaped, with its counts and time");
  TAP_OK(xml && strstr(xml,
                       "<testcase classname=\"lab &lt;x&gt;\" name=\"02-ospf\" time=\"0.250\">\n"
                       "    <failure message=\"exited with status 1\"/>"),
         "junit: a failed test has a failure with why");
  TAP_OK(xml && strstr(xml, "<system-out>ok 1 - &lt;r1&gt; &amp; &quot;r2&quot;\n</system-out>"),
         "junit: a test's colours and terminal title are dropped, markup escaped");
  TAP_OK(xml && strstr(xml, "bad \xef\xbf\xbd byte \xef\xbf\xbd here"),
         "junit: a control character and invalid UTF-8 become U+FFFD");
  TAP_OK(xml && g_utf8_validate(xml, -1, NULL), "junit: the whole file is valid UTF-8");
  g_unlink(file);
  g_rmdir(dir);
}

int main(void) {
  test_tap();
  test_junit();
  return tap_done();
}
