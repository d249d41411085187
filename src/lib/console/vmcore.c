#include "vmcore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootlog.h"
#include "console.h"
#include "layout.h"
#include "state.h"
#include "util.h"
#include "virt.h"

char *nl_vmcore_dir(const char *labdir) { return nl_layout_vmcores(labdir); }

/* The default place's new file, in the lab's data directory (layout.h),
 * whose every level is checked to be this user's. */
static int create_default(const char *labdir, const char *file, GError **error) {
  if (!nl_state_data_make(labdir, error)) return -1;
  g_autofree char *dir = nl_vmcore_dir(labdir);
  g_autofree char *path = g_build_filename(dir, file, NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) nl_set_errno(error, errno, "cannot create '%s'", path);
  return fd;
}

static gboolean copy_fd(int from, int to, guint64 *bytes, GError **error) {
  *bytes = 0;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return nl_set_errno(error, errno, "cannot read the dump");
    if (n == 0) return TRUE;
    if (!nl_write_all(to, buf, n)) return nl_set_errno(error, errno, "cannot write the vmcore");
    *bytes += n;
  }
}

char *nl_vmcore_write(const char *labdir, NlState *st, NlVirt *virt, const char *node,
                      const char *out, double *secs, guint64 *bytes, GError **error) {
  gint64 start = g_get_monotonic_time();
  /* The state directory is root's (or the user's), 0700, out of every
   * guest's reach: QEMU writes there, netlab copies the result out. */
  g_autofree char *tmpdir = nl_layout_key(st->dir, "dump");
  if (!nl_mkdir(tmpdir, 0700, error)) return NULL;
  g_autofree char *tmp = g_strdup_printf("%s/%s.vmcore", tmpdir, node);
  unlink(tmp);
  /* The file first: a dump that has nowhere to go is not taken. */
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
  g_autofree char *file = g_strdup_printf("%s-%s.vmcore", node, stamp);
  g_autofree char *dir = nl_vmcore_dir(labdir);
  g_autofree char *dst =
      out ? g_canonicalize_filename(out, NULL) : g_build_filename(dir, file, NULL);
  int to = out ? open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)
               : create_default(labdir, file, error);
  if (to < 0) {
    if (out) nl_set_errno(error, errno, "cannot create '%s'", dst);
    return NULL;
  }
  g_autofree char *domain = nl_domain_name(virt, st->id, node);
  if (!nl_virt_dump(virt, domain, tmp, error)) {
    close(to);
    unlink(dst);
    unlink(tmp);
    return NULL;
  }
  int from = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  gboolean ok = from >= 0 ? copy_fd(from, to, bytes, error)
                          : nl_set_errno(error, errno, "cannot open the dump '%s'", tmp);
  if (from >= 0) close(from);
  /* Its mode is netlab's whatever the umask. */
  if (ok && fchmod(to, 0600) != 0) ok = nl_set_errno(error, errno, "cannot chmod '%s'", dst);
  close(to);
  unlink(tmp);
  if (!ok) {
    unlink(dst);
    return NULL;
  }
  *secs = (g_get_monotonic_time() - start) / 1e6;
  return g_steal_pointer(&dst);
}

static void vmcore_free(NlVmcore *c) {
  g_free(c->node);
  g_free(c->path);
  g_free(c);
}

static int by_path(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlVmcore *const *)a)->path, (*(NlVmcore *const *)b)->path);
}

GPtrArray *nl_vmcore_list(const char *labdir) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vmcore_free);
  g_autofree char *dir = nl_vmcore_dir(labdir);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    /* NODE-YYYYmmdd-HHMMSS.vmcore */
    gsize len = strlen(n);
    static const gsize tail = sizeof "-YYYYmmdd-HHMMSS.vmcore" - 1;
    if (len <= tail || !g_str_has_suffix(n, ".vmcore")) continue;
    g_autofree char *path = g_build_filename(dir, n, NULL);
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    NlVmcore *c = g_new0(NlVmcore, 1);
    c->node = g_strndup(n, len - tail);
    c->bytes = st.st_size;
    c->path = g_steal_pointer(&path);
    g_ptr_array_add(out, c);
  }
  g_ptr_array_sort(out, by_path);
  return out;
}

gboolean nl_vmcore_on_panic(const NlState *st) {
  g_autofree char *v = nl_state_get(st, NL_VMCORE_ON_PANIC);
  return v != NULL;
}

char *nl_vmcore_of(const NlState *st, const char *node) {
  g_autofree char *key = g_strconcat("vmcore.", node, NULL);
  return nl_state_get(st, key);
}

/* libvirt's state of a domain may be the one it saved before this process
 * connected, until its reconnect to QEMU is done; QEMU's own status, asked
 * through the monitor (which waits for that), is the truth. */
/* The seconds a kernel has, after it printed its panic, to tell QEMU. */
#define PANIC_TELL_S 10

static gboolean panicked(NlVirt *virt, const NlDomainInfo *d) {
  if (strcmp(d->state, "crashed") == 0) return TRUE;
  if (strcmp(d->state, "shut off") == 0) return FALSE;
  g_autofree char *status = nl_virt_hmp(virt, d->name, "info status", NULL);
  return status && strstr(status, "(guest-panicked)");
}

/* How long ago the console log LOG last grew, in seconds (G_MAXINT64: no log). */
static gint64 log_age(const char *log) {
  NlLogParts l;
  nl_log_parts(log, &l);
  gint64 newest = 0;
  for (int i = 0; i < 3; i++) {
    struct stat s;
    if (l.path[i] && lstat(l.path[i], &s) == 0 && s.st_mtime > newest) newest = s.st_mtime;
  }
  nl_log_parts_clear(&l);
  return newest ? g_get_real_time() / G_USEC_PER_SEC - newest : G_MAXINT64;
}

/* A kernel prints its panic and backtrace before its pvpanic driver (a panic
 * notifier) tells QEMU, so a command that comes right after the panic's line
 * (a test that saw it and failed, a down) finds the VM running: one whose
 * console log printed a panic in the last seconds gets until then to tell.
 * The log is the guest's output: what it says only makes netlab wait,
 * bounded, never act. */
static gboolean panicking(NlVirt *virt, const NlDomainInfo *d, const char *labdir,
                          const char *node) {
  if (panicked(virt, d)) return TRUE;
  if (strcmp(d->state, "running") != 0) return FALSE;
  g_autofree char *log = nl_layout_console_log(labdir, node);
  g_autofree char *tail = nl_log_tail(log, NL_LOG_PANIC_LINES);
  gint64 age = log_age(log);
  if (age >= PANIC_TELL_S || !nl_log_panic(tail)) return FALSE;
  for (gint64 end = g_get_monotonic_time() + (PANIC_TELL_S - age) * G_USEC_PER_SEC;
       g_get_monotonic_time() < end;) {
    g_usleep(100 * 1000);
    if (panicked(virt, d)) return TRUE;
  }
  return FALSE;
}

guint nl_vmcore_collect(const char *labdir, NlState *st, NlVirt *virt, GPtrArray *doms,
                        const char *prefix, const NlProgress *say) {
  guint stopped = 0;
  for (guint i = 0; i < doms->len; i++) {
    NlDomainInfo *d = doms->pdata[i];
    if (!g_str_has_prefix(d->name, prefix)) continue;
    const char *node = d->name + strlen(prefix);
    if (!panicking(virt, d, labdir, node)) continue;
    g_autoptr(GPtrArray) kept = nl_vmcore_list(labdir);
    g_autoptr(GError) e = NULL;
    if (kept->len >= NL_VMCORE_AUTO_MAX) {
      nl_say(say, NL_SAY_WARNING,
             "%s: its kernel panicked; no vmcore written, the lab has %u already (the most "
             "netlab keeps of panics)",
             node, kept->len);
    } else {
      double secs = 0;
      guint64 bytes = 0;
      g_autofree char *path = nl_vmcore_write(labdir, st, virt, node, NULL, &secs, &bytes, &e);
      if (path) {
        g_autofree char *key = g_strconcat("vmcore.", node, NULL);
        g_autofree char *line = g_strconcat(path, "\n", NULL);
        nl_state_set(st, key, line, NULL);
        nl_say(say, NL_SAY_NOTICE, "%s: its kernel panicked; vmcore %s (%.1f MiB)", node, path,
               bytes / 1048576.0);
      } else {
        nl_say(say, NL_SAY_WARNING, "%s: its kernel panicked; %s", node, e->message);
        g_clear_error(&e);
      }
    }
    if (nl_virt_destroy(virt, d->name, &e))
      stopped++;
    else
      nl_say(say, NL_SAY_WARNING, "%s", e->message);
  }
  return stopped;
}
