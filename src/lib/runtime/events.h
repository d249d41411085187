/* A lab's event log: what happens to a running lab, one JSON object per
 * line, in STATE/events.log (doc/events.md has the schema). netlab's own
 * commands append their changes (lab up/down, links, impairments,
 * captures); the `netlab events` that watches QEMU appends the VMs'
 * (booting, ready, stopped, frozen, thawed); readers follow the file. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* Past this size the log starts over: the old part becomes events.log.1
 * (one older part is kept). Readers follow the new file. */
#define NL_EVENTS_MAX (256 * 1024)
/* No event line is longer: a reader skips a longer one. */
#define NL_EVENT_LINE_MAX 4096

/* Appends an event of TYPE ("lab", "node", "link", "impairment",
 * "capture", "console") about LABDIR to the log in STATEDIR, with the
 * string members given as NAME, VALUE pairs ended by NULL (a NULL VALUE
 * leaves its member out). Best effort: a lab whose state directory is gone
 * has no log, and a command never fails for want of an event. */
void nl_event_emit(const char *statedir, const char *labdir, const char *type,
                   ...) G_GNUC_NULL_TERMINATED;

/* The event as JSON (one line, no newline), as nl_event_emit() writes it;
 * MEMBERS holds NAME, VALUE pairs, NULL-terminated. TIME in seconds since
 * the epoch. Pure. */
char *nl_event_json(double time, const char *labdir, const char *type, const char *const *members);

/* The human form of an event line: "12:00:01.234 hello node r1 stopped
 * (QEMU died: killed, or crashed)". NULL if LINE is not an event. Pure. */
char *nl_event_text(const char *line);

/* LINE, one JSON object (an event, or a QMP message), parsed: NULL when it
 * is not one. Pure. */
JsonObject *nl_event_object(const char *line);

/* Why QEMU ended, from the reason of the last SHUTDOWN event its QMP
 * monitor sent (NULL: none came, QEMU died), and whether the console log
 * ends in a kernel panic. Pure. */
const char *nl_event_stop_reason(const char *shutdown_reason, gboolean panicked);
