#include "run.h"

#include <errno.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <sys/un.h>
#include <unistd.h>

#include "bootlog.h"
#include "budget.h"
#include "vmcore.h"
#include "disk.h"
#include "domxml.h"
#include "exec.h"
#include "ext.h"
#include "guest-contract.h"
#include "image.h"
#include "initramfs.h"
#include "kernel.h"
#include "remote.h"
#include "sandbox.h"
#include "span.h"
#include "util.h"
#include "vde.h"
#include "link.h"
#include "logkeep.h"
#include "partial.h"
#include "uplink.h"
#include "virt.h"

#include "config.h"

#define EMULATOR "/usr/bin/qemu-system-x86_64"

/* ---- bringing VMs up ---------------------------------------------------- */

typedef enum { VM_WAITING, VM_STARTING, VM_BOOTING, VM_READY, VM_FAILED } VmPhase;

typedef struct Up Up;

typedef struct {
  Up *up;
  const NlNode *node;
  char *domain;
  NlVirt *virt; /* up's, or its host's (remote.c) */
  char *xml;
  NlVmPaths paths;
  VmPhase phase;
  gint64 t_start;
  double secs;
  int startup_rc;
  char *why; /* failure */
  int ctl_fd;
  GSource *ctl_watch;
  GString *ctl_buf;
} Vm;

struct Up {
  const NlLab *lab;
  const NlState *st;
  gboolean embedded; /* libvirt's embedded driver: its QEMUs are ours */
  NlVirt *virt;
  NlRemote *remote; /* the other hosts nodes run on, or NULL */
  GPtrArray *vms;   /* Vm*, in lab order */
  /* up's own main context: libvirt's event thread iterates GLib's global
   * default one, and would otherwise run our callbacks too, behind our
   * back (a Ctrl-C during boot then hung in the teardown). */
  GMainContext *ctx;
  GMainLoop *loop;
  GError *error; /* first failure */
  const NlUpProgress *progress;
  gint64 t0;
};

/* Attaches S with FN to up's context; the caller owns the returned ref. */
static GSource *add_source(Up *up, GSource *s, GSourceFunc fn, gpointer data) {
  g_source_set_callback(s, fn, data, NULL);
  g_source_attach(s, up->ctx);
  return s;
}

static void drop_source(GSource **s) {
  if (!*s) return;
  g_source_destroy(*s);
  g_source_unref(*s);
  *s = NULL;
}

static void vm_free(Vm *vm) {
  drop_source(&vm->ctl_watch);
  if (vm->ctl_fd >= 0) close(vm->ctl_fd);
  g_free(vm->domain);
  g_free(vm->xml);
  g_free(vm->why);
  if (vm->ctl_buf) g_string_free(vm->ctl_buf, TRUE);
  nl_layout_vm_clear(&vm->paths);
  g_free(vm);
}

static NlVmPhase shown_phase(VmPhase p) {
  switch (p) {
    case VM_WAITING: return NL_VM_WAITING;
    case VM_STARTING:
    case VM_BOOTING: return NL_VM_BOOTING;
    case VM_READY: return NL_VM_READY;
    case VM_FAILED: break;
  }
  return NL_VM_FAILED;
}

/* Tells the caller where every VM is, after CHANGED changed (or NULL: as
 * time passes). */
static void notify(Up *up, Vm *changed) {
  const NlUpProgress *p = up->progress;
  if (!p || !p->vms) return;
  g_autofree NlVmStatus *all = g_new(NlVmStatus, up->vms->len);
  int index = -1;
  gint64 now = g_get_monotonic_time();
  for (guint i = 0; i < up->vms->len; i++) {
    Vm *vm = up->vms->pdata[i];
    all[i] = (NlVmStatus){.name = vm->node->name,
                          .phase = shown_phase(vm->phase),
                          .secs = vm->phase == VM_READY ? vm->secs : (now - vm->t_start) / 1e6,
                          .startup_rc = vm->startup_rc};
    if (vm == changed) index = (int)i;
  }
  p->vms(all, up->vms->len, index, p->say.data);
}

static void fail(Up *up, Vm *vm, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void fail(Up *up, Vm *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (vm) {
    vm->phase = VM_FAILED;
    notify(up, vm);
  }
  if (!up->error) {
    up->error = g_error_new_literal(NL_ERROR, NL_ERROR_FAILED, msg);
    g_main_loop_quit(up->loop);
  }
}

static gboolean deps_ready(Up *up, const NlNode *node) {
  for (guint i = 0; i < node->deps->len; i++)
    for (guint j = 0; j < up->vms->len; j++) {
      Vm *other = up->vms->pdata[j];
      if (strcmp(other->node->name, node->deps->pdata[i]) == 0 && other->phase != VM_READY)
        return FALSE;
    }
  return TRUE;
}

static void start_ready_vms(Up *up);

/* The guest's one line on its control port (guest-contract.h). The guest is not
 * trusted: anything else (a NUL, a longer line, another word; a startup
 * script writing to the port, say) fails the VM at once rather than
 * leaving `up` waiting for its timeout. */
#define CTL_LINE_MAX NL_GUEST_CTL_LINE_MAX

/* A VM said it is ready, or failed: start those waiting on it, or end. */
static void ctl_done(Up *up) {
  start_ready_vms(up);
  gboolean all = TRUE;
  for (guint i = 0; i < up->vms->len; i++)
    all = all && ((Vm *)up->vms->pdata[i])->phase == VM_READY;
  if (all) g_main_loop_quit(up->loop);
}

static gboolean on_ctl(int fd, GIOCondition cond, gpointer data) {
  Vm *vm = data;
  Up *up = vm->up;
  char buf[CTL_LINE_MAX];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return G_SOURCE_CONTINUE;
  if (n > 0) g_string_append_len(vm->ctl_buf, buf, n);
  GString *b = vm->ctl_buf;
  const char *nl = memchr(b->str, '\n', b->len);
  gsize line = nl ? (gsize)(nl - b->str) : b->len;
  g_autofree char *text = g_strndup(b->str, MIN(line, CTL_LINE_MAX));
  guint64 rc = 0;
  gboolean bad = strlen(text) < MIN(line, CTL_LINE_MAX) || line > CTL_LINE_MAX;
  if (!bad && nl)
    bad = !g_str_has_prefix(text, NL_GUEST_CTL_READY " ") ||
          !g_ascii_string_to_unsigned(text + strlen(NL_GUEST_CTL_READY " "), 10, 0, 255, &rc, NULL);
  if (bad) {
    /* Shown escaped, and up to its first NUL only: it is the guest's. */
    g_autofree char *shown = g_strescape(text, NULL);
    fail(up, vm,
         "VM '%s' wrote \"%s%s\" on its control port, where only \"" NL_GUEST_CTL_READY
         " N\" belongs (does a startup script write to the " NL_GUEST_PORT_CTL " port?)",
         vm->node->name, shown, strlen(text) < line ? "..." : "");
  } else if (nl) {
    vm->startup_rc = rc;
    vm->secs = (g_get_monotonic_time() - vm->t_start) / 1e6;
    vm->phase = VM_READY;
    notify(up, vm);
  } else if (n > 0) {
    return G_SOURCE_CONTINUE;
  } else {
    fail(up, vm, "VM '%s' stopped before it was ready", vm->node->name);
  }
  g_source_unref(vm->ctl_watch);
  vm->ctl_watch = NULL;
  close(vm->ctl_fd);
  vm->ctl_fd = -1;
  ctl_done(up);
  return G_SOURCE_REMOVE;
}

static void create_thread(GTask *task, gpointer src, gpointer data, GCancellable *c) {
  Vm *vm = data;
  GError *error = NULL;
  if (nl_virt_create(vm->virt, vm->xml, &error))
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
}

/* The embedded driver keeps each QEMU's pid in its run directory; `down`
 * kills that process and nothing else. */
static gboolean record_qemu(Up *up, Vm *vm, GError **error) {
  g_autofree char *path = nl_layout_qemu_pidfile(up->st->dir, vm->domain);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, error)) return FALSE;
  return nl_proc_record(up->st, "qemu", vm->node->name, atoi(text), EMULATOR, error);
}

/* A node on another host reports on its control port through libvirt's
 * stream API, read in a thread. */
static void remote_ctl_thread(GTask *task, gpointer src, gpointer data, GCancellable *c) {
  Vm *vm = data;
  GError *error = NULL;
  char *line = nl_virt_channel_line(vm->virt, vm->domain, "netlab.ctl", CTL_LINE_MAX, &error);
  if (line)
    g_task_return_pointer(task, line, g_free);
  else
    g_task_return_error(task, error);
}

static void remote_ctl_read(GObject *src, GAsyncResult *res, gpointer data) {
  Vm *vm = data;
  Up *up = vm->up;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_task_propagate_pointer(G_TASK(res), &error);
  guint64 rc = 0;
  if (up->error) return;
  if (!line) {
    fail(up, vm, "%s", error->message);
  } else if (!*line) {
    fail(up, vm, "VM '%s' stopped before it was ready", vm->node->name);
  } else if (!g_str_has_prefix(line, "ready ") ||
             !g_ascii_string_to_unsigned(line + 6, 10, 0, 255, &rc, NULL)) {
    g_autofree char *shown = g_strescape(line, NULL);
    fail(up, vm, "VM '%s' wrote \"%s\" on its control port, where only \"ready N\" belongs",
         vm->node->name, shown);
  } else {
    vm->startup_rc = rc;
    vm->secs = (g_get_monotonic_time() - vm->t_start) / 1e6;
    vm->phase = VM_READY;
    notify(up, vm);
  }
  ctl_done(up);
}

static void remote_ctl_start(Vm *vm) {
  g_autoptr(GTask) task = g_task_new(NULL, NULL, remote_ctl_read, vm);
  g_task_set_task_data(task, vm, NULL);
  g_task_run_in_thread(task, remote_ctl_thread);
  notify(vm->up, vm);
}

static void created(GObject *src, GAsyncResult *res, gpointer data) {
  Vm *vm = data;
  Up *up = vm->up;
  g_autoptr(GError) error = NULL;
  if (!g_task_propagate_boolean(G_TASK(res), &error)) {
    /* libvirt does not always say why it could not write its files. */
    struct statvfs fs;
    if (statvfs(up->st->dir, &fs) == 0 && (guint64)fs.f_bavail * fs.f_frsize < 1024 * 1024)
      fail(up, vm, "%s (the filesystem of %s is full: %s)", error->message, up->st->dir,
           g_strerror(ENOSPC));
    else
      fail(up, vm, "%s", error->message);
    return;
  }
  vm->phase = VM_BOOTING;
  if (vm->node->host) {
    if (!up->error) remote_ctl_start(vm);
    return;
  }
  if (up->embedded && !record_qemu(up, vm, &error)) {
    fail(up, vm, "%s", error->message);
    return;
  }
  if (up->error) return; /* being torn down */
  vm->ctl_fd = nl_qemu_connect(vm->paths.ctl, NULL);
  if (vm->ctl_fd < 0) {
    fail(up, vm, "cannot connect to the control socket of '%s' (%s): %s", vm->node->name,
         vm->paths.ctl, g_strerror(errno));
    return;
  }
  fcntl(vm->ctl_fd, F_SETFL, O_NONBLOCK);
  vm->ctl_buf = g_string_new(NULL);
  vm->ctl_watch = add_source(up, g_unix_fd_source_new(vm->ctl_fd, G_IO_IN | G_IO_HUP | G_IO_ERR),
                             G_SOURCE_FUNC(on_ctl), vm);
  notify(up, vm);
}

static void start_ready_vms(Up *up) {
  if (up->error) return;
  for (guint i = 0; i < up->vms->len; i++) {
    Vm *vm = up->vms->pdata[i];
    if (vm->phase != VM_WAITING || !deps_ready(up, vm->node)) continue;
    vm->phase = VM_STARTING;
    vm->t_start = g_get_monotonic_time();
    g_autoptr(GTask) task = g_task_new(NULL, NULL, created, vm);
    g_task_set_task_data(task, vm, NULL);
    g_task_run_in_thread(task, create_thread);
  }
}

static gboolean on_timeout(gpointer data) {
  Up *up = data;
  GString *names = g_string_new(NULL);
  for (guint i = 0; i < up->vms->len; i++) {
    Vm *vm = up->vms->pdata[i];
    if (vm->phase == VM_READY) continue;
    g_string_append_printf(names, "%s'%s'", names->len ? ", " : "", vm->node->name);
    vm->phase = VM_FAILED;
    vm->why = g_strdup("timed out");
  }
  notify(up, NULL);
  fail(up, NULL, "timed out waiting for %s", names->str);
  g_string_free(names, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data) {
  fail(data, NULL, "interrupted");
  return G_SOURCE_CONTINUE;
}

static gboolean on_tick(gpointer data) {
  notify(data, NULL);
  return G_SOURCE_CONTINUE;
}

/* The last lines a VM printed, indented, for the error message. */
static char *console_tail(const char *log, guint lines) {
  g_autofree char *tail = nl_log_tail(log, lines);
  if (!*tail) return g_strdup("  | (nothing)\n");
  g_auto(GStrv) all = g_strsplit(tail, "\n", -1);
  GString *s = g_string_new(NULL);
  for (char **l = all; *l; l++) g_string_append_printf(s, "  | %s\n", *l);
  return g_string_free(s, FALSE);
}

/* ---- the plan: everything checked and prepared before anything starts --- */

typedef struct {
  NlKernel *kernel;
  char *initrd;
  char *qemu_kernel; /* the same files, where QEMU opens them */
  char *qemu_initrd;
} Boot;

static void boot_free(Boot *b) {
  nl_kernel_free(b->kernel);
  g_free(b->initrd);
  g_free(b->qemu_kernel);
  g_free(b->qemu_initrd);
  g_free(b);
}

static Boot *boot_for(GHashTable *boots, const char *path, GError **error) {
  const char *key = path ? path : "";
  Boot *b = g_hash_table_lookup(boots, key);
  if (b) return b;
  g_autoptr(NlKernel) k = nl_kernel_find(path, error);
  if (!k) return NULL;
  /* A kernel without modules (such as `netlab kernel build` makes) must have
   * 9p, virtio and overlayfs built in; its initramfs has no modules. */
  g_autofree char *templates = nl_data_path("templates");
  g_autofree char *initrd = nl_initramfs_get(k->moddir, templates, error);
  if (!initrd) return NULL;
  b = g_new0(Boot, 1);
  b->kernel = g_steal_pointer(&k);
  b->initrd = g_steal_pointer(&initrd);
  g_hash_table_insert(boots, g_strdup(key), b);
  return b;
}

static gboolean check_sock_path(const char *path, GError **error) {
  if (strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "socket path '%s' is longer than the 107 bytes Unix sockets allow", path);
  return FALSE;
}

/* The guest gets its own copies of netlab-agent and netlab-svc in its
 * configuration share: it sees the host's root, but not what lies under the
 * host's /tmp or /run, where it has tmpfs mounts of its own, and a build tree
 * may be there. */
static gboolean copy_program(const char *conf, const char *name, const char *from, GError **error) {
  g_autofree char *bin = NULL;
  gsize len = 0;
  g_autofree char *copy = g_build_filename(conf, name, NULL);
  return g_file_get_contents(from, &bin, &len, error) && nl_write_file(copy, bin, len, 0755, error);
}

/* A node on an image's root (IMAGE) gets the static copies of the agent
 * and the shim, and MODULES says whether its kernel's modules go along. */
static gboolean write_guest_conf(const NlNode *node, const NlVmPaths *p, gboolean have_shared,
                                 const char *agent, const char *svc, gboolean image,
                                 gboolean modules, GError **error) {
  if (!nl_mkdir(p->conf, 0755, error)) return FALSE;
  g_autofree char *quagga = nl_data_path("templates/quagga");
  if (!copy_program(p->conf, "netlab-agent", agent, error) ||
      !copy_program(p->conf, "netlab-svc", svc, error) ||
      !copy_program(p->conf, "quagga", quagga, error))
    return FALSE;
  g_autoptr(GHashTable) files = nl_guest_conf(node, have_shared, NL_GUEST_CONF_DIR "/netlab-agent");
  if (image) nl_guest_conf_image(files, modules);
  GHashTableIter it;
  gpointer name, text;
  g_hash_table_iter_init(&it, files);
  while (g_hash_table_iter_next(&it, &name, &text)) {
    g_autofree char *path = g_build_filename(p->conf, name, NULL);
    if (!nl_write_file(path, text, -1, 0644, error)) return FALSE;
  }
  return TRUE;
}

/* What QEMU itself takes beside the guest's memory, measured idle on these
 * machines: ~45 MiB of its own, plus the TCG translation cache (32 MiB). */
#define QEMU_OVERHEAD_MIB(kvm) ((kvm) ? 48 : 80)

static guint64 mem_available_mib(void) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents("/proc/meminfo", &text, NULL, NULL)) return 0;
  const char *p = strstr(text, "MemAvailable:");
  return p ? g_ascii_strtoull(p + strlen("MemAvailable:"), NULL, 10) / 1024 : 0;
}

/* Refused before anything starts, rather than VMs killed by the OOM killer
 * halfway through a boot. */
static gboolean check_memory(const NlLab *lab, gboolean kvm, GError **error) {
  guint64 need = 0;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (node->host) continue; /* another host's memory */
    need += (node->mem_mib ? node->mem_mib : NL_DEFAULT_MEM_MIB) + QEMU_OVERHEAD_MIB(kvm);
  }
  guint64 avail = mem_available_mib();
  if (!avail || need <= avail) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "lab '%s' needs about %" G_GUINT64_FORMAT
              " MiB for its %u VMs (their memory and "
              "~%d MiB of QEMU each), and the host has %" G_GUINT64_FORMAT " MiB available",
              lab->dir, need, lab->nodes->len, QEMU_OVERHEAD_MIB(kvm), avail);
  return FALSE;
}

/* ---- the host side: what QEMU, running as the QEMU user, may reach ------- */

/* NODE's console log, made afresh: its files (logkeep.h) in DATA/logs, the
 * user's, mode 0600 (a file left there is unlinked, never written through);
 * the FIFO QEMU writes the console to, in netlab's STATE/console; and
 * netlab-log between them, as the QEMU user, with the files' descriptors
 * only. Joining a running lab, a node's keeper already there stays. */
static gboolean start_log_keeper(const NlLab *lab, const NlState *st, const NlQemuUser *qu,
                                 const char *exe, const NlNode *node, int logs, GError **error) {
  if (nl_proc_alive(st, "log", node->name)) return TRUE;
  NlVmPaths p;
  nl_layout_vm(&p, st->dir, lab->dir, node->name);
  char *paths[4] = {g_strdup(p.log), nl_layout_console_part(p.log, 1),
                    nl_layout_console_part(p.log, 2), nl_layout_console_cut(p.log)};
  int fds[4] = {-1, -1, -1, -1}, fifo = -1;
  gboolean ok = TRUE;
  for (int i = 0; ok && i < 4; i++) {
    g_autofree char *name = g_path_get_basename(paths[i]);
    if (unlinkat(logs, name, 0) != 0 && errno != ENOENT)
      ok = nl_set_errno(error, errno, "cannot remove '%s'", paths[i]);
    else if ((fds[i] = openat(logs, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              0600)) < 0)
      ok = nl_set_errno(error, errno, "cannot create '%s'", paths[i]);
  }
  struct stat sb;
  if (ok && ((unlink(p.fifo) != 0 && errno != ENOENT) || mkfifo(p.fifo, 0600) != 0 ||
             (qu->dropped && lchown(p.fifo, qu->uid, qu->gid) != 0)))
    ok = nl_set_errno(error, errno, "cannot make the FIFO '%s'", p.fifo);
  /* Read-write: opening does not wait for QEMU, and the keeper never sees
   * the FIFO's end when QEMU goes (a restarted node writes to it again). */
  if (ok && ((fifo = open(p.fifo, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fifo, &sb) != 0 ||
             !S_ISFIFO(sb.st_mode)))
    ok = nl_set_errno(error, errno ? errno : EINVAL, "cannot open the FIFO '%s'", p.fifo);
  if (ok) {
    const char *argv[] = {exe, NULL};
    int target[] = {NL_LOG_FD_HEAD, NL_LOG_FD_TAIL1, NL_LOG_FD_TAIL2, NL_LOG_FD_CUT};
    GPid pid = 0;
    g_autoptr(GError) local = NULL;
    if (!g_spawn_async_with_pipes_and_fds(NULL, argv, NULL,
                                          G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                          nl_qemu_user_become, (gpointer)qu, fifo, -1, -1, fds,
                                          target, 4, &pid, NULL, NULL, NULL, &local)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot start the console log keeper %s: %s",
                  exe, local->message);
      ok = FALSE;
    } else if (!nl_proc_record(st, "log", node->name, pid, exe, error)) {
      kill(pid, SIGKILL);
      ok = FALSE;
    }
  }
  if (fifo >= 0) close(fifo);
  for (int i = 0; i < 4; i++) {
    if (fds[i] >= 0) close(fds[i]);
    g_free(paths[i]);
  }
  nl_layout_vm_clear(&p);
  return ok;
}

static gboolean start_log_keepers(const NlLab *lab, const NlState *st, const NlQemuUser *qu,
                                  const char *exe, GError **error) {
  g_autofree char *fifos = nl_layout_fifos(st->dir);
  if (!nl_mkdir(fifos, 0711, error)) return FALSE;
  g_autofree char *dir = nl_layout_console_logs(lab->dir);
  int logs = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (logs < 0) return nl_set_errno(error, errno, "cannot open '%s'", dir);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (!node->host) ok = start_log_keeper(lab, st, qu, exe, node, logs, error);
  }
  close(logs);
  return ok;
}

/* The qcow2 disk of each node that has one: the QEMU user's, mode 0600,
 * whatever an earlier run left; the marks beside it stay the user's. */
static gboolean own_disks(const NlLab *lab, const NlQemuUser *qu, GError **error) {
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (!node->disk_mib || node->host) continue;
    g_autofree char *path = nl_disk_path(lab->dir, node->name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    gboolean ok = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
                  (!qu->dropped || fchown(fd, qu->uid, qu->gid) == 0) && fchmod(fd, 0600) == 0;
    int saved = errno;
    if (fd >= 0) close(fd);
    if (!ok) return nl_set_errno(error, saved, "cannot give '%s' to the QEMU user", path);
  }
  return TRUE;
}

/* What QEMU opens, as the QEMU user sees it. */
typedef struct {
  char *labdir; /* read-only */
  char *shared; /* LABDIR/shared, read-write, or NULL */
  char *mnt;    /* where the binds are (see host_prepare), or NULL: none */
} HostView;

/* PATH as QEMU reaches it: bound at mnt/NAME when netlab runs as root. */
static char *qemu_path(const HostView *view, const char *path, const char *name) {
  return view->mnt ? g_build_filename(view->mnt, name, NULL) : g_strdup(path);
}

/* As root, QEMU runs as netlab-qemu, which may not reach the lab (a lab in
 * /root, mode 0700), the kernel cache, nor the data directory (0700): what
 * it opens of them is bound into the state directory, in up's own mount
 * namespace, which the QEMUs inherit. The lab is shared read-only; only
 * shared/ is writable, through an ACL entry on that directory itself. */
static gboolean host_prepare(const NlLab *lab, const NlState *st, const NlQemuUser *qu,
                             const char *logkeep, GHashTable *boots, gboolean have_shared,
                             HostView *view, GError **error) {
  g_autofree char *vmdir = nl_layout_vms(st->dir);
  g_autofree char *lockdir = nl_layout_locks(st->dir);
  if (!nl_mkdir(vmdir, 0711, error) || !nl_mkdir(lockdir, 0700, error)) return FALSE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const char *name = ((NlNode *)lab->nodes->pdata[i])->name;
    g_autofree char *d = g_build_filename(vmdir, name, NULL);
    g_autofree char *l = g_build_filename(lockdir, name, NULL);
    if (!nl_qemu_user_own(qu, d, 0700, error) || !nl_mkdir(l, 0700, error)) return FALSE;
  }
  if (!start_log_keepers(lab, st, qu, logkeep, error) || !own_disks(lab, qu, error)) return FALSE;
  g_autofree char *shared = g_build_filename(lab->dir, "shared", NULL);
  if (!qu->dropped) {
    view->labdir = g_strdup(lab->dir);
    view->shared = have_shared ? g_strdup(shared) : NULL;
    return TRUE;
  }

  if (chown(st->dir, 0, qu->gid) != 0 || chmod(st->dir, 0710) != 0)
    return nl_set_errno(error, errno, "cannot open '%s' to the QEMU user", st->dir);
  view->mnt = nl_layout_mnt(st->dir);
  if (!nl_mkdir(view->mnt, 0755, error)) return FALSE;
  view->labdir = nl_sandbox_bind(lab->dir, view->mnt, "lab", FALSE, error);
  if (!view->labdir) return FALSE;
  /* Beside the lab's bind, which is read-only all through. */
  if (have_shared && !(view->shared = nl_sandbox_bind(shared, view->mnt, "shared", TRUE, error)))
    return FALSE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (node->host) continue;
    if (!node->disk_mib) continue;
    g_autofree char *disk = nl_disk_path(lab->dir, node->name);
    g_autofree char *diskname = g_strconcat(node->name, ".qcow2", NULL);
    g_autofree char *diskat = nl_sandbox_bind(disk, view->mnt, diskname, TRUE, error);
    if (!diskat) return FALSE;
  }
  GHashTableIter it;
  gpointer key;
  Boot *b;
  guint n = 0;
  g_hash_table_iter_init(&it, boots);
  while (g_hash_table_iter_next(&it, &key, (gpointer *)&b)) {
    g_autofree char *kname = g_strdup_printf("kernel-%u", n);
    g_autofree char *iname = g_strdup_printf("initrd-%u", n++);
    b->qemu_kernel = nl_sandbox_bind(b->kernel->boot, view->mnt, kname, FALSE, error);
    if (!b->qemu_kernel) return FALSE;
    if (b->initrd && !(b->qemu_initrd = nl_sandbox_bind(b->initrd, view->mnt, iname, FALSE, error)))
      return FALSE;
  }
  return !have_shared || nl_shared_grant(st, qu, lab->dir, error);
}

/* ---- the steps of up --------------------------------------------------- */

/* What up decided and made ready before anything starts. */
typedef struct {
  NlQemuUser qu;
  char *agent; /* netlab-agent and netlab-svc, copied into each guest */
  char *svc;
  char *agent_static; /* their static copies, for nodes on an image's root */
  char *svc_static;
  GHashTable *roots; /* node name -> the rootfs of its image; absent: the host's */
  char *logkeep;     /* netlab-log */
  gboolean kvm;
  GHashTable *boots; /* kernel path ("" for the default) -> Boot */
  gboolean have_shared;
  gboolean shared_ro; /* no user xattrs where shared/ is: /shared is read-only */
  HostView view;
  NlRemote *remote; /* the other hosts the lab's nodes run on, or NULL */
} Plan;

static void plan_clear(Plan *p) {
  nl_qemu_user_clear(&p->qu);
  g_free(p->agent);
  g_free(p->svc);
  g_free(p->agent_static);
  g_free(p->svc_static);
  if (p->roots) g_hash_table_unref(p->roots);
  g_free(p->logkeep);
  if (p->boots) g_hash_table_unref(p->boots);
  g_free(p->view.labdir);
  g_free(p->view.mnt);
  g_free(p->view.shared);
  nl_remote_close(p->remote);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Plan, plan_clear)

static const NlProgress *say_of(const NlUpOptions *o) {
  return o->progress ? &o->progress->say : NULL;
}

/* The kernel NODE boots: --kernel, else its own, else the lab's; NULL for
 * the default. */
static const char *kernel_of(const NlUpOptions *o, const NlLab *lab, const NlNode *node) {
  if (o->kernel) return o->kernel;
  return node->kernel ? node->kernel : lab->kernel;
}

static Boot *boot_of(const Plan *plan, const NlUpOptions *o, const NlLab *lab, const NlNode *node) {
  const char *k = kernel_of(o, lab, node);
  return g_hash_table_lookup(plan->boots, k ? k : "");
}

static void disk_note(const char *node, const char *what, gpointer data) {
  nl_say(data, NL_SAY_PROGRESS, "%s: %s", node, what);
}

/* The root each node boots (image.h): the host's, or its image's, pulled
 * now if the cache lacks it and the policy allows. Said once: which image
 * runs on the host's root, and why. A reference that cannot be had is an
 * error at its lab.conf line. */
static gboolean plan_images(const NlLab *lab, const NlUpOptions *o, Plan *plan, GError **error) {
  const NlProgress *say = say_of(o);
  NlPullPolicy policy = o->pull >= 0 ? (NlPullPolicy)o->pull : lab->pull;
  plan->roots = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *cache = nl_image_cache_dir();
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    if (!node->image) continue;
    const char *host = nl_image_host_equivalent(node->image);
    gboolean seen = g_hash_table_contains(done, node->image);
    if (host) {
      if (!seen)
        nl_say(say, NL_SAY_NOTICE, "image %s runs on the host's root: %s", node->image, host);
      g_hash_table_insert(done, g_strdup(node->image), NULL);
      continue;
    }
    if (node->host) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "%s:%u: '%s' names an image and runs on another host: images are for nodes "
                  "where `up` runs",
                  node->image_loc.file, node->image_loc.line, node->name);
      return FALSE;
    }
    char *rootfs = g_strdup(g_hash_table_lookup(done, node->image));
    if (!seen) {
      const NlLoc *at = &node->image_loc;
      rootfs = policy == NL_PULL_ALWAYS ? NULL : nl_image_find(cache, node->image, NULL);
      if (!rootfs && policy == NL_PULL_NEVER) {
        g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                    "%s:%u: image '%s' is not in the cache %s, and pulling is off "
                    "(`netlab image pull`, or `up --pull-images=missing`)",
                    at->file, at->line, node->image, cache);
        return FALSE;
      }
      g_autoptr(GError) local = NULL;
      if (!rootfs && !(rootfs = nl_image_pull(cache, node->image, say, &local))) {
        g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s:%u: image '%s' cannot be pulled: %s",
                    at->file, at->line, node->image, local->message);
        return FALSE;
      }
      g_autofree char *lacks = nl_image_check_root(rootfs);
      if (lacks) {
        g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s:%u: image '%s' cannot boot: %s", at->file,
                    at->line, node->image, lacks);
        g_free(rootfs);
        return FALSE;
      }
      nl_say(say, NL_SAY_NOTICE, "image %s: %s", node->image, rootfs);
      g_hash_table_insert(done, g_strdup(node->image), g_strdup(rootfs));
    }
    g_hash_table_insert(plan->roots, node->name, rootfs);
  }
  if (g_hash_table_size(plan->roots) == 0) return TRUE;
  plan->agent_static =
      nl_find_beside_self("netlab-agent-static", NETLAB_AGENT_STATIC_INSTALLED, error);
  plan->svc_static = plan->agent_static ? nl_find_beside_self("netlab-svc-static",
                                                              NETLAB_SVC_STATIC_INSTALLED, error)
                                        : NULL;
  return plan->svc_static != NULL;
}

/* Older netlabs kept disks, logs and artifacts in LABDIR/.netlab, where
 * guests could write: said once, and never read. */
static void old_data_note(const NlLab *lab, const NlProgress *say) {
  g_autofree char *old = nl_layout_old_data(lab->dir);
  g_autofree char *data = nl_layout_data(lab->dir);
  g_autofree char *mark = g_build_filename(data, "old-data-noted", NULL);
  struct stat sb;
  if (lstat(old, &sb) != 0 || lstat(mark, &sb) == 0) return;
  g_autofree char *disks = nl_layout_disks(lab->dir);
  nl_say(say, NL_SAY_NOTICE,
         "%s is ignored: netlab keeps node disks, console logs and test artifacts in %s "
         "(disks in %s); nothing is taken from the old directory",
         old, data, disks);
  nl_write_file(mark, "", 0, 0600, NULL);
}

/* Everything checked and prepared that can be before anything starts: the
 * QEMU user, the accelerator, a kernel and initramfs per kernel asked for,
 * memory, disk space, the nodes' disks. */
static gboolean plan_up(const NlLab *lab, const NlUpOptions *o, Plan *plan, GError **error) {
  const NlProgress *say = say_of(o);
  if (!nl_qemu_user(&plan->qu, error) || !nl_state_data_make(lab->dir, error)) return FALSE;
  old_data_note(lab, say);
  /* Before any thread exists: every thread, and every QEMU, inherits it. */
  if (plan->qu.dropped && !nl_sandbox_enter(error)) return FALSE;
  /* Inherited by every QEMU: with transparent huge pages, the guest RAM an
   * idle VM touched here and there is resident 2 MiB at a time. Measured on
   * labs/hello: 7.7 MiB less per VM on a built kernel, 5 on Debian's, boot
   * CPU time unchanged. */
  prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  plan->agent = nl_find_beside_self("netlab-agent", NETLAB_AGENT_INSTALLED, error);
  if (!plan->agent) return FALSE;
  plan->svc = nl_find_beside_self("netlab-svc", NETLAB_SVC_INSTALLED, error);
  if (!plan->svc) return FALSE;
  if (!plan_images(lab, o, plan, error)) return FALSE;
  plan->logkeep = nl_find_beside_self("netlab-log", NETLAB_LOG_INSTALLED, error);
  if (!plan->logkeep) return FALSE;
  g_autofree char *why = NULL;
  if (!nl_accel_pick(o->accel, &plan->kvm, &why, error)) return FALSE;
  if (!plan->kvm && o->accel == NL_ACCEL_AUTO)
    nl_say(say, NL_SAY_NOTICE, "using TCG (software emulation): %s", why);

  plan->boots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)boot_free);
  gboolean distro_said = FALSE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    Boot *b = boot_for(plan->boots, kernel_of(o, lab, lab->nodes->pdata[i]), error);
    if (!b) return FALSE;
    if (b->kernel->distro && !distro_said) {
      nl_say(say, NL_SAY_NOTICE,
             "booting Debian's kernel %s: a kernel of `netlab kernel build` (built once, "
             "in minutes) boots labs faster, in less memory",
             b->kernel->version ? b->kernel->version : b->kernel->path);
      distro_said = TRUE;
    }
  }
  g_autofree char *shared = g_build_filename(lab->dir, "shared", NULL);
  struct stat shared_st;
  /* A symlink named shared (which a VM cannot make, but a user can) is not
   * followed: it could share any directory of the host read-write. */
  plan->have_shared = lstat(shared, &shared_st) == 0 && S_ISDIR(shared_st.st_mode);
  /* 9p's mapped model keeps what the guest sets in user.* xattrs; without
   * them (tmpfs before Linux 6.6) the share can only be read-only. */
  plan->shared_ro =
      plan->have_shared && getxattr(shared, "user.netlab", NULL, 0) < 0 && errno == ENOTSUP;
  if (plan->shared_ro)
    nl_say(say, NL_SAY_NOTICE, "%s: its filesystem has no user xattrs: /shared is read-only",
           shared);

  if (!check_memory(lab, plan->kvm, error) || !nl_budget_fds(lab->nodes->len, error) ||
      !nl_disk_check_space(lab, error))
    return FALSE;
  /* Before anything starts: libguestfs runs an appliance VM of its own. */
  return nl_disk_prepare(lab, disk_note, (gpointer)say, error);
}

/* Every other host a node runs on answers and has what it needs (see
 * remote.h), before anything starts. */

/* The host's TSC frequency, measured once against CLOCK_MONOTONIC_RAW. Under
 * TCG the guest's TSC is the host's, and a guest that calibrates it against
 * the emulated PIT while the host is loaded can get it several times too low
 * (seen: 474684 kHz for 2595566): its clock then runs that much fast, and
 * its protocols' timers (BGP hold, OSPF dead) expire early. Given the
 * frequency (tsc_early_khz=), the kernel does not calibrate. 0: unknown. */
static guint host_tsc_khz(void) {
#if defined(__x86_64__)
  static guint khz;
  static gsize once;
  if (g_once_init_enter(&once)) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    guint64 t0 = __rdtsc();
    g_usleep(50 * 1000);
    guint64 t1 = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    if (ns > 0 && t1 > t0) khz = (guint)((t1 - t0) / ns * 1e6);
    g_once_init_leave(&once, 1);
  }
  return khz;
#else
  return 0;
#endif
}

static gboolean plan_hosts(const NlLab *lab, const NlState *st, const NlUpOptions *o, Plan *plan,
                           GError **error) {
  g_autoptr(GError) local = NULL;
  plan->remote = nl_remote_open(lab, st, &local);
  if (local) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  for (guint i = 0; plan->remote && i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    Boot *b = boot_of(plan, o, lab, node);
    if (node->host && !nl_remote_check(plan->remote, node, EMULATOR, b->kernel->moddir, error))
      return FALSE;
  }
  g_autoptr(GPtrArray) notes = nl_span_notes(lab);
  for (guint i = 0; i < notes->len; i++)
    nl_say(say_of(o), NL_SAY_NOTICE, "%s", (char *)notes->pdata[i]);
  g_autoptr(GPtrArray) hidden = plan->remote ? nl_remote_unreadable(lab->dir) : NULL;
  if (hidden && hidden->len) {
    g_ptr_array_add(hidden, NULL);
    g_autofree char *list = g_strjoinv(", ", (char **)hidden->pdata);
    nl_say(say_of(o), NL_SAY_WARNING,
           "nodes on other hosts get no copy of what other users may not read in '%s': %s",
           lab->dir, list);
  }
  return TRUE;
}

/* One name per line, for `down` and `status`. */
static char *lines_of(const GPtrArray *names) {
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < names->len; i++) g_string_append_printf(s, "%s\n", (char *)names->pdata[i]);
  return g_string_free(s, FALSE);
}

/* What `down`, `status` and the others read of a lab that is up, and the
 * host side QEMU reaches. The lab's path goes first: from then on the lab
 * looks up, and `down` finds it. */
static gboolean record_lab(const NlLab *lab, const NlState *st, const NlUpOptions *o, Plan *plan,
                           GError **error) {
  g_autoptr(GPtrArray) nodes = g_ptr_array_new();
  g_autoptr(GPtrArray) disks = g_ptr_array_new();
  for (guint i = 0; i < lab->nodes->len; i++) {
    NlNode *node = lab->nodes->pdata[i];
    g_ptr_array_add(nodes, node->name);
    if (node->disk_mib) g_ptr_array_add(disks, node->name);
  }
  g_autofree char *node_list = lines_of(nodes);
  g_autofree char *lan_list = lines_of(lab->lans);
  g_autofree char *disk_list = lines_of(disks);
  /* A lab started in parts lists them all. */
  return nl_state_set(st, "lab", lab->dir, error) && nl_state_record(st, lab->dir, error) &&
         nl_state_set(st, "accel", plan->kvm ? "kvm" : "tcg", error) &&
         nl_partial_add(st, "nodes", node_list, error) &&
         nl_partial_add(st, "lans", lan_list, error) &&
         (!o->uri || nl_state_set(st, "uri", o->uri, error)) &&
         (!o->vmcore_on_panic || nl_state_set(st, NL_VMCORE_ON_PANIC, "1\n", error)) &&
         (!plan->remote || nl_remote_record(plan->remote, st, error)) &&
         nl_remote_record_lab(lab, st, error) &&
         host_prepare(lab, st, &plan->qu, plan->logkeep, plan->boots, plan->have_shared,
                      &plan->view, error) &&
         (!*disk_list || nl_partial_add(st, "disks", disk_list, error));
}

/* LAN's vde_switch; when lab.ext names it, holding a tap that a bridge
 * joins to the host's interfaces (ext.h). */
static gboolean start_switch(const NlLab *lab, const NlState *st, const NlQemuUser *qu,
                             const char *lan, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autofree char *tap = nl_ext_tap_create(st, qu, lab, lan, &local);
  if (local) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  return nl_vde_start(st, qu, lan, tap, nl_budget_lan_ports(lab, lan), error) &&
         (!tap || nl_ext_connect(st, lab, lan, error));
}

/* A LAN of two interfaces here is a wire (link.h); else a vde_switch per
 * LAN with a NIC here (joining a running lab, per LAN not running yet),
 * joined by a vde_plug to the LAN's vxvde network when it spans hosts
 * (span.h), and a wirefilter per interface here; a passt per bridged
 * node. */
static gboolean start_switches(const NlLab *lab, const NlState *st, const NlQemuUser *qu,
                               gboolean join, GError **error) {
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      if (nic->end < 0 || nl_vde_pid(st, nic->lan)) continue;
      if (!nl_link_start_wire(st, qu, node->name, nic, error)) return FALSE;
    }
  }
  for (guint i = 0; i < lab->lans->len; i++) {
    const char *lan = lab->lans->pdata[i];
    if (!nl_lan_here(lab, lan) || nl_lan_wire(lab, lan)) continue;
    if (!(join && nl_vde_pid(st, lan)) && !start_switch(lab, st, qu, lan, error)) return FALSE;
    g_autofree char *key = g_strconcat("vxvde.", lan, NULL);
    g_autofree char *url = nl_lan_vxvde(lab, lan) ? nl_state_get(st, key) : NULL;
    if (url && !(join && nl_vde_cable_pid(st, lan)) && !nl_vde_cable_start(st, qu, lan, url, error))
      return FALSE;
  }
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; !node->host && j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      if (nic->end < 0 && !nl_link_start(st, qu, node->name, nic, error)) return FALSE;
    }
    if (node->bridged && !nl_uplink_start(st, qu, node, error)) return FALSE;
  }
  return TRUE;
}

/* A node on another host boots from files put there through libvirt, with
 * its configuration in its initramfs. */
static gboolean remote_boot(Up *up, const Plan *plan, const NlNode *node, const Boot *b,
                            char **kernel_at, char **initrd_at, GError **error) {
  g_autoptr(GHashTable) files =
      nl_guest_conf(node, plan->have_shared, NL_GUEST_CONF_DIR "/netlab-agent");
  g_autoptr(GHashTable) programs = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(programs, "netlab-agent", plan->agent);
  g_hash_table_insert(programs, "netlab-svc", plan->svc);
  g_autofree char *quagga = nl_data_path("templates/quagga");
  g_hash_table_insert(programs, "quagga", quagga);
  return nl_remote_boot(up->remote, up->lab, node, b->kernel->boot, b->initrd, files, programs,
                        kernel_at, initrd_at, error);
}

/* What NODE boots, in the state directory: `netlab gdb` finds the symbols
 * of its kernel there, never in a process's arguments; `image rm` and
 * `prune` keep the image root it boots on (image.h). */
static gboolean record_boot(const NlState *st, const NlNode *node, const Boot *b,
                            const char *image_root, GError **error) {
  g_autofree char *kernel_key = g_strconcat("kernel.", node->name, NULL);
  g_autofree char *booted_key = g_strconcat("booted.", node->name, NULL);
  g_autofree char *image_key = g_strconcat(NL_IMAGE_STATE_KEY, node->name, NULL);
  g_autofree char *booted =
      g_strdup_printf("%s (%s)", b->kernel->path, b->kernel->version ? b->kernel->version : "?");
  return nl_state_set(st, kernel_key, b->kernel->boot, error) &&
         nl_state_set(st, booted_key, booted, error) &&
         (!image_root || nl_state_set(st, image_key, image_root, error));
}

/* NODE's VM, ready to be created: its domain XML, its configuration share,
 * what `netlab gdb` reads of its kernel. */
static gboolean define_vm(Up *up, const Plan *plan, const NlUpOptions *o, const NlNode *node,
                          GError **error) {
  const NlLab *lab = up->lab;
  const NlState *st = up->st;
  Boot *b = boot_of(plan, o, lab, node);
  Vm *vm = g_new0(Vm, 1);
  vm->up = up;
  vm->node = node;
  vm->ctl_fd = -1;
  g_ptr_array_add(up->vms, vm);
  nl_layout_vm(&vm->paths, st->dir, lab->dir, node->name);
  vm->virt = node->host ? nl_remote_virt(up->remote, node->host) : up->virt;
  vm->domain = nl_domain_name(vm->virt, st->id, node->name);
  g_autoptr(GPtrArray) urls = nl_remote_nic_urls(st, node);
  g_autofree char *kernel_at = NULL;
  g_autofree char *initrd_at = NULL;
  if (node->host && !remote_boot(up, plan, node, b, &kernel_at, &initrd_at, error)) return FALSE;
  g_autofree char *cmdline = nl_domain_cmdline(lab, node);
  guint khz = !plan->kvm && !node->host ? host_tsc_khz() : 0;
  if (khz) {
    char *with = g_strdup_printf("%s tsc_early_khz=%u", cmdline, khz);
    g_free(cmdline);
    cmdline = with;
  }
  const char *image_root = g_hash_table_lookup(plan->roots, node->name);
  g_autofree char *disk_file = nl_disk_path(lab->dir, node->name);
  g_autofree char *disk_name = g_strconcat(node->name, ".qcow2", NULL);
  g_autofree char *disk = node->disk_mib ? qemu_path(&plan->view, disk_file, disk_name) : NULL;
  /* Until `down` has synced it, the next `up` checks it first. Whatever
   * its header says, it names no other file (libvirt and QEMU would open
   * it). */
  if (disk &&
      (!nl_disk_check(disk_file, error) || !nl_disk_set_dirty(lab->dir, node->name, TRUE, error) ||
       !nl_disk_mark_booted(lab->dir, node->name, error)))
    return FALSE;
  NlDomainSpec spec = {
      .domain = vm->domain,
      .emulator = EMULATOR,
      .kvm = plan->kvm,
      .kernel = kernel_at        ? kernel_at
                : b->qemu_kernel ? b->qemu_kernel
                                 : b->kernel->boot,
      .initrd = initrd_at        ? initrd_at
                : b->qemu_initrd ? b->qemu_initrd
                                 : b->initrd,
      .cmdline = cmdline,
      .pvpanic = nl_vmcore_on_panic(st),
      .statedir = st->dir,
      .mem_mib = node->mem_mib ? node->mem_mib : NL_DEFAULT_MEM_MIB,
      .cpus = node->cpus ? node->cpus : NL_DEFAULT_CPUS,
      .labdir = plan->view.labdir,
      .have_shared = plan->have_shared,
      .shared = plan->view.shared,
      .shared_ro = plan->shared_ro,
      .log = vm->paths.fifo,
      .disk = disk,
      .remote = node->host != NULL,
      .nic_urls = (char *const *)urls->pdata,
      .span_mtu = nl_span_mtu(&lab->underlay),
      .image_root = image_root,
      .modules = image_root ? b->kernel->moddir : NULL,
  };
  vm->xml = nl_domain_xml(lab, node, &spec);
  return check_sock_path(vm->paths.console, error) && check_sock_path(vm->paths.ctl, error) &&
         check_sock_path(vm->paths.gdb, error) && record_boot(st, node, b, image_root, error) &&
         (node->host ||
          write_guest_conf(node, &vm->paths, plan->have_shared,
                           image_root ? plan->agent_static : plan->agent,
                           image_root ? plan->svc_static : plan->svc, image_root != NULL,
                           image_root && b->kernel->moddir, error));
}

static gboolean define_vms(Up *up, const Plan *plan, const NlUpOptions *o, GError **error) {
  up->virt = nl_virt_open(o->uri, up->st->dir, error);
  if (!up->virt) return FALSE;
  up->remote = plan->remote;
  for (guint i = 0; i < up->lab->nodes->len; i++)
    if (!define_vm(up, plan, o, up->lab->nodes->pdata[i], error)) return FALSE;
  return !up->remote || nl_remote_relay_start(up->remote, up->lab, up->st, error);
}

/* Why up failed, with the end of each failed VM's console. */
static void report_failure(Up *up, GError **error) {
  GString *msg = g_string_new(up->error->message);
  for (guint i = 0; i < up->vms->len; i++) {
    Vm *vm = up->vms->pdata[i];
    if (vm->phase != VM_FAILED) continue;
    g_autofree char *tail = console_tail(vm->paths.log, 15);
    g_string_append_printf(msg, "\nthe end of %s's console (%s):\n%s", vm->node->name,
                           vm->paths.log, tail);
    g_strchomp(msg->str);
    msg->len = strlen(msg->str);
  }
  g_set_error_literal(error, NL_ERROR, NL_ERROR_FAILED, msg->str);
  g_string_free(msg, TRUE);
}

/* Creates the VMs as their dependencies are ready and waits until every
 * one said it is ready, or one failed, or TIMEOUT_S passed, or a signal
 * came. */
static gboolean wait_ready(Up *up, guint timeout_s, GError **error) {
  GSource *timer = add_source(up, g_timeout_source_new_seconds(timeout_s), on_timeout, up);
  GSource *tick = add_source(up, g_timeout_source_new(NL_UP_TICK_MS), on_tick, up);
  notify(up, NULL);
  start_ready_vms(up);
  g_main_loop_run(up->loop);
  notify(up, NULL);
  drop_source(&timer);
  drop_source(&tick);
  if (!up->error) return TRUE;
  /* Creations still running in threads hold the connection: let them end
   * before tearing down, so no VM appears after `down` looked. */
  for (guint i = 0; i < up->vms->len; i++)
    while (((Vm *)up->vms->pdata[i])->phase == VM_STARTING) g_main_context_iteration(up->ctx, TRUE);
  report_failure(up, error);
  return FALSE;
}

/* up's own main context, with the signals that interrupt it: from here on
 * a Ctrl-C must tear down what was started, whenever it comes. It is
 * handled once the main loop runs. */
static void up_begin(Up *up, GSource *sigs[3]) {
  up->ctx = g_main_context_new();
  /* GTask returns to the thread's default context. */
  g_main_context_push_thread_default(up->ctx);
  up->loop = g_main_loop_new(up->ctx, FALSE);
  const int nums[] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++)
    sigs[i] = add_source(up, g_unix_signal_source_new(nums[i]), on_signal, up);
  up->vms = g_ptr_array_new_with_free_func((GDestroyNotify)vm_free);
}

static void up_end(Up *up, GSource *sigs[3]) {
  for (int i = 0; i < 3; i++) drop_source(&sigs[i]);
  g_ptr_array_unref(up->vms);
  g_main_loop_unref(up->loop);
  g_main_context_pop_thread_default(up->ctx);
  g_main_context_unref(up->ctx);
  nl_virt_close(up->virt);
  g_clear_error(&up->error);
}

/* After a failure: whatever started goes, and with it the state directory,
 * so that the lab does not look up. What cannot go is said. Joining a
 * running lab, only the nodes this up started go (partial.h). */
static void teardown(NlState *st, const NlUpOptions *o, const NlLab *lab) {
  g_autoptr(GError) e = NULL;
  if (o->join)
    nl_partial_stop(st, o->uri, lab);
  else if (!nl_run_down(st, say_of(o), &e))
    nl_say(say_of(o), NL_SAY_WARNING, "the lab is not fully down: %s", e->message);
}

gboolean nl_run_up(const NlLab *lab, NlState *st, const NlUpOptions *o, GError **error) {
  g_autofree char *upfor = nl_state_get(st, "lab");
  if (upfor && !o->join) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "lab '%s' is already up (state in %s): `netlab down` it first", lab->dir, st->dir);
    return FALSE;
  }
  g_auto(Plan) plan = {0};
  /* Before anything starts: a host interface lab.ext names that is missing
   * refuses the lab, as in Kathará. */
  if (!nl_ext_check(lab, error) || !plan_up(lab, o, &plan, error) ||
      !plan_hosts(lab, st, o, &plan, error)) {
    teardown(st, o, lab);
    return FALSE;
  }
  Up up = {.lab = lab,
           .st = st,
           .embedded = o->uri == NULL,
           .progress = o->progress,
           .t0 = g_get_monotonic_time()};
  GSource *sigs[3];
  up_begin(&up, sigs);
  gboolean ok =
      record_lab(lab, st, o, &plan, error) && start_switches(lab, st, &plan.qu, o->join, error) &&
      define_vms(&up, &plan, o, error) &&
      wait_ready(&up, o->timeout_s ? o->timeout_s : nl_budget_timeout(lab->nodes->len, plan.kvm),
                 error);
  if (ok) {
    nl_say(say_of(o), NL_SAY_PROGRESS, "lab '%s' is up: %u VMs ready in %.1f s",
           lab->name ? lab->name : lab->dir, up.vms->len, (g_get_monotonic_time() - up.t0) / 1e6);
    if (!o->uri) nl_virt_save_caps(st->dir);
  }
  up_end(&up, sigs);
  if (!ok) teardown(st, o, lab);
  return ok;
}

/* ---- down --------------------------------------------------------------- */

/* In the node, as stage2 runs a startup script. */
static const char shutdown_script[] =
    "exec </dev/null >/dev/console 2>&1; cd /\n"
    "for f in \"/hostlab/$1.shutdown\" /hostlab/shared.shutdown; do\n"
    "  [ -f \"$f\" ] || continue\n"
    "  if [ -x \"$f\" ]; then \"$f\"; else bash \"$f\"; fi\n"
    "done\n";

GPtrArray *nl_run_shutdown_scripts(NlState *st, guint timeout_s) {
  GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *labdir = nl_state_get(st, "lab");
  g_autofree char *vmdir = nl_layout_vms(st->dir);
  g_autoptr(GDir) d = labdir ? g_dir_open(vmdir, 0, NULL) : NULL;
  g_autofree char *shared = labdir ? g_build_filename(labdir, "shared.shutdown", NULL) : NULL;
  gboolean have_shared = shared && g_file_test(shared, G_FILE_TEST_IS_REGULAR);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  const char *node;
  while (d && (node = g_dir_read_name(d))) {
    g_autofree char *file = g_strdup_printf("%s.shutdown", node);
    g_autofree char *own = g_build_filename(labdir, file, NULL);
    if (!have_shared && !g_file_test(own, G_FILE_TEST_IS_REGULAR)) continue;
    char *argv[] = {"sh", "-c", (char *)shutdown_script, "sh", (char *)node, NULL};
    NlExec x = {.statedir = st->dir,
                .vm = node,
                .argv = argv,
                .timeout_s = timeout_s,
                .in_fd = -1,
                .out_fd = null,
                .err_fd = null};
    g_autoptr(GError) e = NULL;
    int rc = nl_exec_run(&x, &e);
    if (rc < 0)
      g_ptr_array_add(notes, g_strdup_printf("%s: shutdown scripts not run: %s", node, e->message));
    else if (rc == 124)
      g_ptr_array_add(notes, g_strdup_printf("%s: shutdown scripts still running after %u s, "
                                             "killed",
                                             node, timeout_s));
    else if (rc != 0)
      g_ptr_array_add(notes,
                      g_strdup_printf("%s: shutdown scripts exited with status %d", node, rc));
  }
  if (null >= 0) close(null);
  return notes;
}

/* A QEMU that `up` started but had no time to record (it was killed at that
 * moment): found by the pidfile libvirt wrote in the state directory, and
 * believed only for a process that runs QEMU and names the state
 * directory. */
static void record_unrecorded(const NlState *st, const char *suffix, const char *kind,
                              const char *exe) {
  g_autofree char *dir = nl_layout_qemu_run(st->dir);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autofree char *needle = g_strconcat(st->dir, "/", NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    if (!g_str_has_suffix(n, suffix)) continue;
    g_autofree char *name = g_strndup(n, strlen(n) - strlen(suffix));
    g_autofree char *path = g_build_filename(dir, n, NULL);
    g_autofree char *text = NULL;
    if (nl_proc_alive(st, kind, name) || !g_file_get_contents(path, &text, NULL, NULL)) continue;
    int pid = atoi(text);
    g_autofree char *cmdpath = g_strdup_printf("/proc/%d/cmdline", pid);
    g_autofree char *cmd = NULL;
    gsize len = 0;
    if (pid <= 0 || !g_file_get_contents(cmdpath, &cmd, &len, NULL) ||
        !memmem(cmd, len, needle, strlen(needle)))
      continue;
    nl_proc_record(st, kind, name, pid, exe, NULL);
  }
}

/* A disk's last writes may still be in its guest's page cache: a `sync`
 * through the agent puts them on the disk before QEMU is killed, and the
 * disk is then clean (its journal replays on the next mount). A VM that
 * does not answer leaves its disk dirty, checked by the next `up`. */
static void sync_disks(NlState *st) {
  g_autofree char *labdir = nl_state_get(st, "lab");
  g_autofree char *disks = nl_state_get(st, "disks");
  if (!labdir || !disks) return;
  g_auto(GStrv) nodes = g_strsplit(g_strstrip(disks), "\n", -1);
  for (char **n = nodes; *n && **n; n++) {
    char *argv[] = {"sync", NULL};
    NlExec x = {.statedir = st->dir,
                .vm = *n,
                .argv = argv,
                .timeout_s = 10,
                .in_fd = -1,
                .out_fd = 2,
                .err_fd = 2};
    g_autoptr(GError) e = NULL;
    if (nl_exec_run(&x, &e) == 0) nl_disk_set_dirty(labdir, *n, FALSE, NULL);
  }
}

gboolean nl_run_down(NlState *st, const NlProgress *say, GError **error) {
  g_autofree char *uri = nl_state_get(st, "uri");
  sync_disks(st);
  g_autofree char *prefix = NULL;
  /* A shared libvirt must hear of it. The embedded driver's whole root goes
   * with the state directory, and opening it only to destroy domains costs
   * a reconnect to every QEMU and, per domain, the ~1.4 s this sandbox's
   * init takes to reap a daemonized QEMU, which libvirt waits for. */
  g_autofree char *lab = nl_state_get(st, "lab");
  if (!uri && lab && nl_vmcore_on_panic(st)) {
    /* A lab that keeps panicked kernels: their vmcores before they go. */
    g_autoptr(NlVirt) virt = nl_virt_open(NULL, st->dir, NULL);
    g_autofree char *none = virt ? nl_domain_name(virt, st->id, "") : NULL;
    g_autoptr(GPtrArray) doms = virt ? nl_virt_list(virt, none, NULL) : NULL;
    if (doms) nl_vmcore_collect(lab, st, virt, doms, none, say);
  }
  if (uri) {
    g_autoptr(GError) local = NULL;
    g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, &local);
    g_autoptr(GPtrArray) doms = NULL;
    if (virt) {
      prefix = nl_domain_name(virt, st->id, "");
      doms = nl_virt_list(virt, prefix, &local);
    }
    for (guint i = 0; doms && i < doms->len; i++) {
      NlDomainInfo *d = doms->pdata[i];
      g_autoptr(GError) e = NULL;
      if (!nl_virt_destroy(virt, d->name, &e)) nl_say(say, NL_SAY_WARNING, "%s", e->message);
    }
    if (local) nl_say(say, NL_SAY_WARNING, "%s", local->message);
  }
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(NlRemote) remote = nl_remote_open_recorded(st, notes);
  if (remote) nl_remote_down(remote, st, notes);
  for (guint i = 0; i < notes->len; i++) nl_say(say, NL_SAY_WARNING, "%s", (char *)notes->pdata[i]);
  record_unrecorded(st, ".pid", "qemu", EMULATOR);
  nl_proc_kill_all(st);
  /* After the switches: a tap goes with nothing holding it. */
  g_autoptr(GPtrArray) ext_notes = g_ptr_array_new_with_free_func(g_free);
  nl_ext_down(st, ext_notes);
  for (guint i = 0; i < ext_notes->len; i++)
    nl_say(say, NL_SAY_WARNING, "%s", (char *)ext_notes->pdata[i]);
  nl_shared_revoke(st, say);
  return nl_state_remove(st, error);
}
