/* The event log's lines: JSON as written, their text form, and why a QEMU
 * stopped from what its QMP monitor said and its console log's end. */
#include <string.h>
#include <time.h>

#include "bootlog.h"
#include "events.h"
#include "tap.h"

int main(void) {
  /* Times in the text form are local: UTC here. */
  g_setenv("TZ", "UTC", TRUE);
  tzset();
  const char *link[] = {"node", "r1", "interface", "eth0", "lan", "A", "state", "down", NULL};
  g_autofree char *j = nl_event_json(86400 + 3723.25, "/l/hello", "link", link);
  TAP_STREQ(j,
            "{\"time\":90123.25,\"lab\":\"/l/hello\",\"type\":\"link\",\"node\":\"r1\","
            "\"interface\":\"eth0\",\"lan\":\"A\",\"state\":\"down\"}",
            "an event is one line of JSON, members in the order given");
  g_autofree char *t = nl_event_text(j);
  TAP_STREQ(t, "01:02:03.250 hello link r1:eth0 A down", "its text: time, lab, type, what");

  const char *stop[] = {"node", "r2", "state", "stopped", "why", "panic", "secs", NULL, NULL};
  g_autofree char *j2 = nl_event_json(0, "/l/hello", "node", stop);
  TAP_OK(!strstr(j2, "secs"), "a member whose value is NULL is left out");
  g_autofree char *t2 = nl_event_text(j2);
  TAP_STREQ(t2, "00:00:00.000 hello node r2 stopped (panic)", "the why in parentheses");

  const char *odd[] = {"node", "r\"1\n", NULL};
  g_autofree char *j3 = nl_event_json(0, "/l", "node", odd);
  TAP_OK(!strchr(j3, '\n'), "a newline in a value stays escaped: one event, one line");
  g_autofree char *t3 = nl_event_text("{\"type\":\"node\"}");
  TAP_OK(t3 == NULL, "a line without a lab is not an event");
  g_autofree char *t4 = nl_event_text("not json");
  TAP_OK(t4 == NULL, "nor is a line that is not JSON");

  g_autoptr(JsonObject) o = nl_event_object("{\"event\":\"STOP\",\"n\":1}");
  TAP_STREQ(o ? json_object_get_string_member_with_default(o, "event", "") : "", "STOP",
            "a line holding a JSON object is parsed");
  g_autoptr(JsonObject) a = nl_event_object("[1,2]");
  g_autoptr(JsonObject) b = nl_event_object("{\"event\":");
  TAP_OK(!a && !b, "a JSON array, or a cut object, is no object");

  TAP_STREQ(nl_event_stop_reason("guest-shutdown", FALSE), "poweroff", "guest-shutdown: poweroff");
  TAP_STREQ(nl_event_stop_reason("guest-reset", TRUE), "panic", "a reset after a panic: panic");
  TAP_STREQ(nl_event_stop_reason("guest-reset", FALSE), "reboot", "a reset alone: reboot");
  TAP_STREQ(nl_event_stop_reason(NULL, FALSE), "QEMU died (killed, or crashed)",
            "no SHUTDOWN before the end: QEMU died");
  TAP_OK(
      g_str_has_prefix(nl_event_stop_reason("host-signal", FALSE), "QEMU terminated by a signal"),
      "host-signal: terminated");

  /* A panic's report as Debian's kernel prints it, then lines of the trace
   * and the registers: its first line is 30 to 40 lines from the end. */
  GString *log = g_string_new(
      "[    0.000000] Linux version 6.1.0-57-amd64\n[    9.1] sysrq: Trigger a crash\n"
      "[    9.1] Kernel panic - not syncing: sysrq triggered crash\n");
  for (int i = 0; i < 60; i++) g_string_append_printf(log, "[    9.2]  ? frame_%d+0x1/0x2\n", i);
  const char *p = nl_log_panic(log->str);
  TAP_OK(p && g_str_has_prefix(p, "Kernel panic - not syncing: sysrq"),
         "a panic 60 lines of backtrace above the end is found");
  g_string_append(log, "[    0.000000] Linux version 6.1.0-57-amd64\n[    1.0] Run /init\n");
  TAP_OK(nl_log_panic(log->str) == NULL, "an earlier boot's panic is not the last boot's");
  g_string_append(log, "[    5.0] Kernel panic - not syncing: Attempted to kill init!\n");
  p = nl_log_panic(log->str);
  TAP_OK(p && strstr(p, "kill init"), "the last boot's own panic is");
  g_string_free(log, TRUE);
  TAP_OK(nl_log_panic("") == NULL, "an empty log: no panic");
  return tap_done();
}
