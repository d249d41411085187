#include "bootlog.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "layout.h"
#include "util.h"

/* The last TAIL_READ bytes of the log LOG, across its parts. */
#define TAIL_READ 16384

char *nl_log_tail(const char *path, guint lines) {
  NlLogParts l;
  nl_log_parts(path, &l);
  GString *text = g_string_new(NULL);
  for (int i = 0; i < 3; i++) {
    /* O_NONBLOCK: a FIFO in a log's place opens at once, and is skipped. */
    int fd = open(l.path[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) continue;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      off_t from = st.st_size > TAIL_READ ? st.st_size - TAIL_READ : 0;
      char buf[TAIL_READ];
      ssize_t n = pread(fd, buf, sizeof buf, from);
      if (n > 0) g_string_append_len(text, buf, n);
    }
    close(fd);
  }
  nl_log_parts_clear(&l);
  if (text->len > TAIL_READ) g_string_erase(text, 0, text->len - TAIL_READ);
  /* The log is the guest's output: only its end is read, without what a
   * terminal would act upon. */
  for (gsize i = 0; i < text->len; i++)
    if (!text->str[i]) text->str[i] = ' ';
  g_auto(GStrv) all = g_strsplit(text->str, "\n", -1);
  g_string_free(text, TRUE);
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

const char *nl_log_panic(const char *tail) {
  const char *panic = NULL, *boot = NULL;
  for (const char *p = tail; (p = strstr(p, "Kernel panic")); p++) panic = p;
  for (const char *p = tail; (p = strstr(p, "Linux version ")); p++) boot = p;
  return panic && (!boot || boot < panic) ? panic : NULL;
}

char *nl_vm_why_stopped(const NlState *st, const char *domain, const char *log) {
  g_autofree char *tail = nl_log_tail(log, NL_LOG_PANIC_LINES);
  const char *panic = nl_log_panic(tail);
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
