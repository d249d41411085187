/* What a lab's test left (netlab test): its verdict, read from its TAP
 * output, and the results of a run as JUnit XML, for CI. Pure code but
 * for writing the file. */
#pragma once

#include <glib.h>

typedef struct {
  char *name;
  gboolean passed;
  double secs;
  char *output;
  char *why; /* why it failed, or NULL */
} NlTestResult;

void nl_test_result_free(NlTestResult *r);

/* Whether OUT, a test's output, passes as TAP: it fails on any "not ok"
 * (not marked TODO) or when it ran fewer tests than it planned; output
 * with no TAP passes. *WHY (to free) says why it failed. */
gboolean nl_tap_verdict(const char *out, char **why);

/* RESULTS (NlTestResult) of the test suite SUITE as JUnit XML, into FILE. */
gboolean nl_junit_write(const char *file, const char *suite, GPtrArray *results, GError **error);
