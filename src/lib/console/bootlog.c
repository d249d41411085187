#include "bootlog.h"

#include <string.h>

#include "layout.h"
#include "util.h"

char *nl_log_tail(const char *path, guint lines) {
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &text, &len, NULL)) return g_strdup("");
  /* The log is the guest's output: only its end is read, without what a
   * terminal would act upon. */
  const char *from = len > 16384 ? text + len - 16384 : text;
  g_auto(GStrv) all = g_strsplit(from, "\n", -1);
  guint n = g_strv_length(all);
  while (n > 0 && !*g_strstrip(all[n - 1])) n--;
  GString *s = g_string_new(NULL);
  for (guint i = n > lines ? n - lines : 0; i < n; i++) {
    for (char *c = all[i]; *c; c++)
      if ((guchar)*c < ' ' || *c == 0x7f) *c = ' ';
    g_string_append_printf(s, "%s%s", s->len ? "\n" : "", all[i]);
  }
  return g_string_free(s, FALSE);
}

char *nl_vm_why_stopped(const NlState *st, const char *domain, const char *log) {
  g_autofree char *tail = nl_log_tail(log, 40);
  const char *panic = strstr(tail, "Kernel panic");
  if (panic) {
    const char *end = strchr(panic, '\n');
    return g_strdup_printf("kernel panic (%.*s)", (int)(end ? end - panic : 120), panic);
  }
  /* libvirt notes how each QEMU ended in the domain's log. */
  g_autofree char *qlog = nl_layout_qemu_log(st->dir, domain);
  g_autofree char *text = NULL;
  g_file_get_contents(qlog, &text, NULL, NULL);
  const char *r = NULL;
  for (const char *p = text; p && (p = strstr(p, "shutting down, reason=")); p++)
    r = p + strlen("shutting down, reason=");
  if (r && g_str_has_prefix(r, "shutdown")) return g_strdup("the guest powered off");
  if (r && g_str_has_prefix(r, "destroyed")) return g_strdup("destroyed");
  if (r && g_str_has_prefix(r, "failed")) return g_strdup("its QEMU failed to start");
  /* "crashed", "unknown", or libvirt has not noticed yet. */
  return g_strdup("its QEMU ended unexpectedly (killed, or crashed)");
}
