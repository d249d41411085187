#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "domxml.h"
#include "initramfs.h"
#include "kernel.h"
#include "util.h"
#include "vde.h"
#include "link.h"
#include "virt.h"

#include "config.h"

#define DEFAULT_MEM_MIB 256
#define DEFAULT_CPUS 1
#define EMULATOR "/usr/bin/qemu-system-x86_64"

gboolean nl_accel_pick(NlAccel want, gboolean *kvm, char **why, GError **error) {
  g_autofree char *reason = NULL;
  if (want == NL_ACCEL_TCG) {
    *kvm = FALSE;
    *why = g_strdup("asked for with --accel tcg");
    return TRUE;
  }
  /* kvm_pvm provides /dev/kvm but hangs an ordinary guest at "Booting from
   * ROM": only its module in sysfs tells it apart. */
  if (g_file_test("/sys/module/kvm_pvm", G_FILE_TEST_EXISTS)) {
    reason = g_strdup("/dev/kvm is backed by kvm_pvm, which cannot boot ordinary kernels");
  } else {
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
      reason = g_strdup_printf("/dev/kvm: %s", g_strerror(errno));
    else if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
      reason = g_strdup("/dev/kvm answers with an unknown API version");
    if (fd >= 0) close(fd);
  }
  if (!reason) {
    *kvm = TRUE;
    *why = NULL;
    return TRUE;
  }
  if (want == NL_ACCEL_KVM) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "KVM is not usable: %s", reason);
    return FALSE;
  }
  *kvm = FALSE;
  *why = g_steal_pointer(&reason);
  return TRUE;
}

/* ---- bringing VMs up ---------------------------------------------------- */

typedef enum { VM_WAITING, VM_STARTING, VM_BOOTING, VM_READY, VM_FAILED } VmPhase;

typedef struct Up Up;

typedef struct {
  Up *up;
  const NlNode *node;
  char *domain;
  char *xml;
  NlVmPaths paths;
  VmPhase phase;
  gint64 t_start;
  double secs;
  int startup_rc;
  char *why;          /* failure */
  int ctl_fd;
  GSource *ctl_watch;
  GString *ctl_buf;
} Vm;

struct Up {
  const NlLab *lab;
  NlVirt *virt;
  GPtrArray *vms;     /* Vm*, in lab order */
  /* up's own main context: libvirt's event thread iterates GLib's global
   * default one, and would otherwise run our callbacks too, behind our
   * back (a Ctrl-C during boot then hung in the teardown). */
  GMainContext *ctx;
  GMainLoop *loop;
  GError *error;      /* first failure */
  gboolean tty;
  guint drawn;        /* lines of progress on the terminal */
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
  nl_vm_paths_clear(&vm->paths);
  g_free(vm);
}

static void draw(Up *up, Vm *changed) {
  if (!up->tty) {
    /* A log, not a display: one line per event. */
    if (!changed) return;
    if (changed->phase == VM_READY)
      fprintf(stderr, "%s: ready in %.1f s%s\n", changed->node->name, changed->secs,
              changed->startup_rc ? " (a startup command failed)" : "");
    else if (changed->phase == VM_FAILED)
      fprintf(stderr, "%s: failed\n", changed->node->name);
    return;
  }
  if (up->drawn) fprintf(stderr, "\033[%uA", up->drawn);
  for (guint i = 0; i < up->vms->len; i++) {
    Vm *vm = up->vms->pdata[i];
    double now = (g_get_monotonic_time() - vm->t_start) / 1e6;
    fprintf(stderr, "\033[2K%-16s ", vm->node->name);
    switch (vm->phase) {
      case VM_WAITING: fprintf(stderr, "waiting for its dependencies\n"); break;
      case VM_STARTING:
      case VM_BOOTING: fprintf(stderr, "booting (%.0f s)\n", now); break;
      case VM_READY:
        fprintf(stderr, "ready in %.1f s%s\n", vm->secs,
                vm->startup_rc ? " (a startup command failed)" : "");
        break;
      case VM_FAILED: fprintf(stderr, "failed\n"); break;
    }
  }
  up->drawn = up->vms->len;
}

static void fail(Up *up, Vm *vm, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void fail(Up *up, Vm *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (vm) {
    vm->phase = VM_FAILED;
    draw(up, vm);
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
      if (strcmp(other->node->name, node->deps->pdata[i]) == 0 &&
          other->phase != VM_READY)
        return FALSE;
    }
  return TRUE;
}

static void start_ready_vms(Up *up);

static gboolean on_ctl(int fd, GIOCondition cond, gpointer data) {
  Vm *vm = data;
  Up *up = vm->up;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return G_SOURCE_CONTINUE;
  if (n > 0) g_string_append_len(vm->ctl_buf, buf, n);
  const char *nl = strchr(vm->ctl_buf->str, '\n');
  if (nl && g_str_has_prefix(vm->ctl_buf->str, "ready")) {
    vm->startup_rc = atoi(vm->ctl_buf->str + 5);
    vm->secs = (g_get_monotonic_time() - vm->t_start) / 1e6;
    vm->phase = VM_READY;
    draw(up, vm);
  } else if (n > 0) {
    return G_SOURCE_CONTINUE;
  } else {
    fail(up, vm, "VM '%s' stopped before it was ready", vm->node->name);
  }
  g_source_unref(vm->ctl_watch);
  vm->ctl_watch = NULL;
  close(vm->ctl_fd);
  vm->ctl_fd = -1;
  start_ready_vms(up);
  gboolean all = TRUE;
  for (guint i = 0; i < up->vms->len; i++)
    all = all && ((Vm *)up->vms->pdata[i])->phase == VM_READY;
  if (all) g_main_loop_quit(up->loop);
  return G_SOURCE_REMOVE;
}

static int connect_unix(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return -1;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void create_thread(GTask *task, gpointer src, gpointer data, GCancellable *c) {
  Vm *vm = data;
  GError *error = NULL;
  if (nl_virt_create(vm->up->virt, vm->xml, &error))
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
}

static void created(GObject *src, GAsyncResult *res, gpointer data) {
  Vm *vm = data;
  Up *up = vm->up;
  g_autoptr(GError) error = NULL;
  if (!g_task_propagate_boolean(G_TASK(res), &error)) {
    fail(up, vm, "%s", error->message);
    return;
  }
  vm->phase = VM_BOOTING;
  if (up->error) return; /* being torn down */
  vm->ctl_fd = connect_unix(vm->paths.ctl);
  if (vm->ctl_fd < 0) {
    fail(up, vm, "cannot connect to the control socket of '%s' (%s): %s",
         vm->node->name, vm->paths.ctl, g_strerror(errno));
    return;
  }
  vm->ctl_buf = g_string_new(NULL);
  vm->ctl_watch = add_source(up, g_unix_fd_source_new(vm->ctl_fd, G_IO_IN | G_IO_HUP | G_IO_ERR),
                             G_SOURCE_FUNC(on_ctl), vm);
  draw(up, vm);
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
  draw(up, NULL);
  fail(up, NULL, "timed out waiting for %s", names->str);
  g_string_free(names, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data) {
  fail(data, NULL, "interrupted");
  return G_SOURCE_CONTINUE;
}

static gboolean on_tick(gpointer data) {
  draw(data, NULL);
  return G_SOURCE_CONTINUE;
}

/* The last lines a VM printed, indented, for the error message. */
static char *console_tail(const char *log, guint lines) {
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(log, &text, &len, NULL) || len == 0)
    return g_strdup("  | (nothing)\n");
  g_strchomp(text);
  g_auto(GStrv) all = g_strsplit(text, "\n", -1);
  guint n = g_strv_length(all);
  GString *s = g_string_new(NULL);
  for (guint i = n > lines ? n - lines : 0; i < n; i++) {
    g_strdelimit(all[i], "\r\033", ' ');
    g_string_append_printf(s, "  | %s\n", all[i]);
  }
  return g_string_free(s, FALSE);
}

/* ---- the plan: everything checked and prepared before anything starts --- */

typedef struct {
  NlKernel *kernel;
  char *initrd;
} Boot;

static void boot_free(Boot *b) {
  nl_kernel_free(b->kernel);
  g_free(b->initrd);
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
  g_autofree char *initrd = nl_initramfs_get(k->moddir, NETLAB_TEMPLATES_DIR, error);
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

/* Where templates/init mounts the node's configuration share in the guest. */
#define GUEST_CONF_DIR "/run/netlab/conf"

/* The guest gets its own copy of netlab-agent in its configuration share: it
 * sees the host's root, but not what lies under the host's /tmp or /run,
 * where it has tmpfs mounts of its own, and a build tree may be there. */
static gboolean write_guest_conf(const NlNode *node, const NlVmPaths *p,
                                 gboolean have_shared, const char *agent,
                                 GError **error) {
  if (g_mkdir_with_parents(p->conf, 0700) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s': %s", p->conf,
                g_strerror(errno));
    return FALSE;
  }
  g_autofree char *bin = NULL;
  gsize len = 0;
  g_autofree char *copy = g_build_filename(p->conf, "netlab-agent", NULL);
  if (!g_file_get_contents(agent, &bin, &len, error) ||
      !nl_write_file(copy, bin, len, 0755, error))
    return FALSE;
  g_autoptr(GHashTable) files =
      nl_guest_conf(node, have_shared, GUEST_CONF_DIR "/netlab-agent");
  GHashTableIter it;
  gpointer name, text;
  g_hash_table_iter_init(&it, files);
  while (g_hash_table_iter_next(&it, &name, &text)) {
    g_autofree char *path = g_build_filename(p->conf, name, NULL);
    if (!nl_write_file(path, text, -1, 0644, error)) return FALSE;
  }
  return TRUE;
}


gboolean nl_run_up(const NlLab *lab, NlState *st, const NlUpOptions *o,
                   GError **error) {
  g_autofree char *agent =
      nl_find_beside_self("netlab-agent", NETLAB_AGENT_INSTALLED, error);
  if (!agent) return FALSE;
  gboolean kvm = FALSE;
  g_autofree char *why = NULL;
  if (!nl_accel_pick(o->accel, &kvm, &why, error)) return FALSE;
  if (!kvm && o->accel == NL_ACCEL_AUTO)
    fprintf(stderr, "netlab: using TCG (software emulation): %s\n", why);

  g_autoptr(GHashTable) boots =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)boot_free);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    const char *k = o->kernel ? o->kernel : node->kernel ? node->kernel : lab->kernel;
    if (!boot_for(boots, k, error)) return FALSE;
  }

  if (nl_state_get(st, "lab")) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "lab '%s' is already up (state in %s): `netlab down` it first",
                lab->dir, st->dir);
    return FALSE;
  }

  Up up = {.lab = lab, .tty = isatty(2), .t0 = g_get_monotonic_time()};
  /* From here on a Ctrl-C must tear down what was started, whenever it comes:
   * it is handled once the main loop runs. */
  up.ctx = g_main_context_new();
  /* GTask returns to the thread's default context. */
  g_main_context_push_thread_default(up.ctx);
  up.loop = g_main_loop_new(up.ctx, FALSE);
  GSource *sig_int = add_source(&up, g_unix_signal_source_new(SIGINT), on_signal, &up);
  GSource *sig_term = add_source(&up, g_unix_signal_source_new(SIGTERM), on_signal, &up);
  GSource *sig_hup = add_source(&up, g_unix_signal_source_new(SIGHUP), on_signal, &up);
  up.vms = g_ptr_array_new_with_free_func((GDestroyNotify)vm_free);
  g_autofree char *shared = g_build_filename(lab->dir, "shared", NULL);
  gboolean have_shared = g_file_test(shared, G_FILE_TEST_IS_DIR);
  g_autofree char *logdir = g_build_filename(lab->dir, ".netlab", "logs", NULL);
  gboolean ok = FALSE;

  if (!nl_state_set(st, "lab", lab->dir, error) ||
      !nl_state_set(st, "accel", kvm ? "kvm" : "tcg", error) ||
      (o->uri && !nl_state_set(st, "uri", o->uri, error)))
    goto out;
  if (g_mkdir_with_parents(logdir, 0755) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s': %s", logdir,
                g_strerror(errno));
    goto out;
  }

  for (guint i = 0; i < lab->lans->len; i++)
    if (!nl_vde_start(st->dir, lab->lans->pdata[i], error)) goto out;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++)
      if (!nl_link_start(st->dir, node->name, node->nics->pdata[j], error)) goto out;
  }

  up.virt = nl_virt_open(o->uri, st->dir, error);
  if (!up.virt) goto out;

  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    const char *kp = o->kernel ? o->kernel : node->kernel ? node->kernel : lab->kernel;
    Boot *b = g_hash_table_lookup(boots, kp ? kp : "");
    Vm *vm = g_new0(Vm, 1);
    vm->up = &up;
    vm->node = node;
    vm->ctl_fd = -1;
    g_ptr_array_add(up.vms, vm);
    nl_vm_paths_init(&vm->paths, st->dir, lab->dir, node->name);
    vm->domain = nl_domain_name(up.virt, st->id, node->name);
    g_autofree char *cmdline = nl_domain_cmdline(lab, node);
    NlDomainSpec spec = {
        .domain = vm->domain,
        .emulator = EMULATOR,
        .kvm = kvm,
        .kernel = b->kernel->boot,
        .initrd = b->initrd,
        .cmdline = cmdline,
        .statedir = st->dir,
        .mem_mib = node->mem_mib ? node->mem_mib : DEFAULT_MEM_MIB,
        .cpus = node->cpus ? node->cpus : DEFAULT_CPUS,
        .have_shared = have_shared,
    };
    vm->xml = nl_domain_xml(lab, node, &spec);
    if (!check_sock_path(vm->paths.console, error) ||
        !check_sock_path(vm->paths.ctl, error) ||
        !check_sock_path(vm->paths.gdb, error) ||
        !write_guest_conf(node, &vm->paths, have_shared, agent, error))
      goto out;
  }

  GSource *timer =
      add_source(&up, g_timeout_source_new_seconds(o->timeout_s), on_timeout, &up);
  GSource *tick = up.tty ? add_source(&up, g_timeout_source_new(500), on_tick, &up) : NULL;
  draw(&up, NULL);
  start_ready_vms(&up);
  g_main_loop_run(up.loop);
  draw(&up, NULL);
  drop_source(&timer);
  drop_source(&tick);

  if (up.error) {
    /* Creations still running in threads hold the connection: let them end
     * before tearing down, so no VM appears after `down` looked. */
    for (guint i = 0; i < up.vms->len; i++)
      while (((Vm *)up.vms->pdata[i])->phase == VM_STARTING)
        g_main_context_iteration(up.ctx, TRUE);
    GString *msg = g_string_new(up.error->message);
    for (guint i = 0; i < up.vms->len; i++) {
      Vm *vm = up.vms->pdata[i];
      if (vm->phase != VM_FAILED) continue;
      g_autofree char *tail = console_tail(vm->paths.log, 15);
      g_string_append_printf(msg, "\nthe end of %s's console (%s):\n%s", vm->node->name,
                             vm->paths.log, tail);
      g_strchomp(msg->str);
      msg->len = strlen(msg->str);
    }
    g_set_error_literal(error, NL_ERROR, NL_ERROR_FAILED, msg->str);
    g_string_free(msg, TRUE);
    goto out;
  }
  fprintf(stderr, "lab '%s' is up: %u VMs ready in %.1f s\n",
          lab->name ? lab->name : lab->dir, up.vms->len,
          (g_get_monotonic_time() - up.t0) / 1e6);
  if (!o->uri) nl_virt_save_caps(st->dir);
  ok = TRUE;

out:
  drop_source(&sig_int);
  drop_source(&sig_term);
  drop_source(&sig_hup);
  g_ptr_array_unref(up.vms);
  if (up.loop) g_main_loop_unref(up.loop);
  g_main_context_pop_thread_default(up.ctx);
  g_main_context_unref(up.ctx);
  nl_virt_close(up.virt);
  g_clear_error(&up.error);
  if (!ok) nl_run_down(st, NULL);
  return ok;
}

/* ---- down --------------------------------------------------------------- */

/* Any process whose command line names a path inside the state directory is
 * one of ours (QEMU, vde_switch), whatever state a crash left behind. */
static void kill_leftovers(const char *statedir) {
  g_autofree char *needle = g_strconcat(statedir, "/", NULL);
  g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
  g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(int));
  const char *n;
  while (proc && (n = g_dir_read_name(proc))) {
    int pid = atoi(n);
    if (pid <= 0 || pid == getpid()) continue;
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", pid);
    g_autofree char *cmd = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &cmd, &len, NULL)) continue;
    for (gsize i = 0; i + 1 < len; i++)
      if (cmd[i] == '\0') cmd[i] = ' ';
    if (strstr(cmd, needle) && !nl_pid_gone(pid)) {
      kill(pid, SIGKILL);
      g_array_append_val(pids, pid);
    }
  }
  for (guint i = 0; i < pids->len; i++)
    for (int t = 0; t < 300 && !nl_pid_gone(g_array_index(pids, int, i)); t++)
      g_usleep(10 * 1000);
}

gboolean nl_run_down(NlState *st, GError **error) {
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autofree char *prefix = NULL;
  /* A shared libvirt must hear of it. The embedded driver's whole root goes
   * with the state directory, and opening it only to destroy domains costs
   * a reconnect to every QEMU and, per domain, the ~1.4 s this sandbox's
   * init takes to reap a daemonized QEMU, which libvirt waits for. */
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
      if (!nl_virt_destroy(virt, d->name, &e))
        fprintf(stderr, "netlab: warning: %s\n", e->message);
    }
    if (local) fprintf(stderr, "netlab: warning: %s\n", local->message);
  }
  kill_leftovers(st->dir);
  return nl_state_remove(st, error);
}
