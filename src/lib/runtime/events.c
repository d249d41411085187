#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "layout.h"

char *nl_event_json(double time, const char *labdir, const char *type, const char *const *members) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "time");
  json_builder_add_double_value(b, time);
  json_builder_set_member_name(b, "lab");
  json_builder_add_string_value(b, labdir);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, type);
  for (const char *const *m = members; m && m[0]; m += 2) {
    if (!m[1]) continue;
    json_builder_set_member_name(b, m[0]);
    json_builder_add_string_value(b, m[1]);
  }
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

void nl_event_emit(const char *statedir, const char *labdir, const char *type, ...) {
  g_autoptr(GPtrArray) members = g_ptr_array_new();
  va_list ap;
  va_start(ap, type);
  for (const char *name; (name = va_arg(ap, const char *));) {
    g_ptr_array_add(members, (gpointer)name);
    g_ptr_array_add(members, va_arg(ap, char *));
  }
  va_end(ap);
  g_ptr_array_add(members, NULL);
  g_autofree char *json =
      nl_event_json(g_get_real_time() / 1e6, labdir, type, (const char *const *)members->pdata);
  g_autofree char *line = g_strconcat(json, "\n", NULL);
  gsize len = strlen(line);
  if (len > NL_EVENT_LINE_MAX) return;
  g_autofree char *path = nl_layout_events(statedir, "");
  /* Only netlab writes the state directory: no guest can have put a link
   * here, but the log is never followed through one. */
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  struct stat s;
  if (fstat(fd, &s) == 0 && s.st_size + (off_t)len > NL_EVENTS_MAX) {
    /* Two writers may both start over: the later rename wins and one part
     * of the log is lost, never a line cut in two. */
    g_autofree char *old = nl_layout_events(statedir, ".1");
    close(fd);
    if (rename(path, old) != 0) return;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return;
  }
  /* One write with O_APPEND: lines of several writers never interleave. */
  if (write(fd, line, len) != (ssize_t)len) {
    /* Best effort (see events.h). */
  }
  close(fd);
}

static const char *member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
             ? json_node_get_string(n)
             : NULL;
}

JsonObject *nl_event_object(const char *line) {
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, line, -1, NULL)) return NULL;
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return NULL;
  return json_object_ref(json_node_get_object(root));
}

char *nl_event_text(const char *line) {
  g_autoptr(JsonObject) o = nl_event_object(line);
  if (!o) return NULL;
  const char *type = member(o, "type"), *lab = member(o, "lab");
  if (!type || !lab) return NULL;
  double t = json_object_get_double_member_with_default(o, "time", 0);
  time_t secs = (time_t)t;
  struct tm tm;
  localtime_r(&secs, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  g_autofree char *name = g_path_get_basename(lab);
  GString *s = g_string_new(NULL);
  g_string_printf(s, "%s.%03d %s %s", stamp, (int)((t - secs) * 1000) % 1000, name, type);
  /* The members in a fixed order, then the why in parentheses. */
  static const char *const order[] = {"node",   "interface",  "lan",  "target", "state",
                                      "client", "impairment", "file", NULL};
  for (const char *const *m = order; *m; m++) {
    const char *v = member(o, *m);
    if (!v) continue;
    if (strcmp(*m, "node") == 0 && member(o, "interface"))
      g_string_append_printf(s, " %s:%s", v, member(o, "interface"));
    else if (strcmp(*m, "interface") == 0 && member(o, "node"))
      continue;
    else
      g_string_append_printf(s, " %s", *v ? v : "-");
  }
  const char *why = member(o, "why");
  if (why) g_string_append_printf(s, " (%s)", why);
  return g_string_free(s, FALSE);
}

const char *nl_event_stop_reason(const char *shutdown_reason, gboolean panicked) {
  if (panicked) return "panic";
  if (!shutdown_reason) return "QEMU died (killed, or crashed)";
  if (strcmp(shutdown_reason, "guest-shutdown") == 0) return "poweroff";
  if (strcmp(shutdown_reason, "guest-panic") == 0) return "panic";
  if (strcmp(shutdown_reason, "guest-reset") == 0) return "reboot";
  if (strcmp(shutdown_reason, "host-signal") == 0)
    return "QEMU terminated by a signal (down, restart or kill)";
  if (strcmp(shutdown_reason, "host-qmp-quit") == 0) return "QEMU told to quit";
  return "QEMU stopped";
}
