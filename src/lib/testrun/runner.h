/* netlab test's runner: a lab's tests found, and each run on the host in a
 * process group of its own, with a timeout, its output kept; `up` run in a
 * process of its own (the embedded libvirt driver stays with the process
 * that opened it). SIGINT, SIGTERM and SIGHUP stop what runs. */
#pragma once

#include <glib.h>

#include "results.h"
#include "util.h"

/* The tests of the lab in LABDIR: the executables in LABDIR/tests, in name
 * order, that can be trusted to run (SAY hears of each that is not). An
 * error when there is none. */
GPtrArray *nl_testrun_find(const char *labdir, const NlProgress *say, GError **error);

/* From now on, SIGINT, SIGTERM and SIGHUP stop the running test or `up`
 * (through the GLib main loop the runner waits in), and are remembered:
 * nl_testrun_interrupted() returns the signal, 0 before one. */
void nl_testrun_catch_signals(void);
int nl_testrun_interrupted(void);

/* `netlab up LABDIR` (with --connect URI; --vmcore-on-panic with VMCORE) in
 * a process of its own. */
gboolean nl_testrun_up(const char *labdir, const char *uri, gboolean vmcore, GError **error);

/* Runs the test NAME of LABDIR, killed (its whole process group) after
 * TIMEOUT_S seconds; it passes on status 0 and a TAP verdict that passes. */
NlTestResult *nl_testrun_one(const char *labdir, const char *name, guint timeout_s);
