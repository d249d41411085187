/* netlab up: start a lab's switches and VMs and return when every VM has run
 * its startup scripts. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "cmd.h"
#include "kernel.h"
#include "lab.h"
#include "run.h"
#include "state.h"
#include "util.h"

typedef struct {
  gboolean tty;
  guint drawn; /* lines of progress on the terminal */
} Display;

/* On a terminal, a line per VM, redrawn in place; else a log, one line per
 * VM that is ready or failed. */
static void show_vms(const NlVmStatus *vms, guint n, int changed, gpointer data) {
  Display *d = data;
  if (!d->tty) {
    if (changed < 0) return;
    const NlVmStatus *vm = &vms[changed];
    if (vm->phase == NL_VM_READY)
      fprintf(stderr, "%s: ready in %.1f s%s\n", vm->name, vm->secs,
              vm->startup_rc ? " (a startup command failed)" : "");
    else if (vm->phase == NL_VM_FAILED)
      fprintf(stderr, "%s: failed\n", vm->name);
    return;
  }
  if (d->drawn) fprintf(stderr, "\033[%uA", d->drawn);
  for (guint i = 0; i < n; i++) {
    fprintf(stderr, "\033[2K%-16s ", vms[i].name);
    switch (vms[i].phase) {
      case NL_VM_WAITING: fprintf(stderr, "waiting for its dependencies\n"); break;
      case NL_VM_BOOTING: fprintf(stderr, "booting (%.0f s)\n", vms[i].secs); break;
      case NL_VM_READY:
        fprintf(stderr, "ready in %.1f s%s\n", vms[i].secs,
                vms[i].startup_rc ? " (a startup command failed)" : "");
        break;
      case NL_VM_FAILED: fprintf(stderr, "failed\n"); break;
    }
  }
  d->drawn = n;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *accel = NULL, *kernel = NULL;
  int timeout = 300;
  gboolean tmux = FALSE;
  const GOptionEntry entries[] = {
      {"accel", 0, 0, G_OPTION_ARG_STRING, &accel, "kvm, tcg or auto (default)", "A"},
      {"kernel", 'k', 0, G_OPTION_ARG_FILENAME, &kernel,
       "Boot this kernel instead of the lab's: a path, or a name from `netlab kernel list`",
       "KERNEL"},
      {"timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
       "Seconds to wait for every VM to be ready (300)", "S"},
      {"tmux", 0, 0, G_OPTION_ARG_NONE, &tmux,
       "Then open a tmux session with a window per VM console (as `netlab tmux`)", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "start a lab", entries, &argc, &argv, &t, error)) return -1;

  NlUpOptions o = {.uri = g->uri, .accel = NL_ACCEL_AUTO, .timeout_s = timeout};
  if (!accel || strcmp(accel, "auto") == 0)
    o.accel = NL_ACCEL_AUTO;
  else if (strcmp(accel, "kvm") == 0)
    o.accel = NL_ACCEL_KVM;
  else if (strcmp(accel, "tcg") == 0)
    o.accel = NL_ACCEL_TCG;
  else {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "up: --accel takes kvm, tcg or auto, not '%s'",
                accel);
    return -1;
  }
  if (timeout <= 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "up: --timeout must be positive");
    return -1;
  }
  g_autofree char *kpath = NULL;
  if (kernel) {
    g_autofree char *named = nl_kernel_resolve(kernel, NULL);
    g_autoptr(GError) local = NULL;
    kpath = nl_realpath(named, &local);
    if (!kpath) {
      g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, local->message);
      return -1;
    }
    o.kernel = kpath;
  }

  const char *labdir = t.labdir;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab) return -1;

  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st || !nl_state_lock(st, TRUE, error)) return -1;
  Display display = {.tty = isatty(2)};
  const NlUpProgress progress = {.say = {nl_cmd_say.say, &display}, .vms = show_vms};
  o.progress = &progress;
  if (!nl_run_up(lab, st, &o, error)) return -1;
  /* The lock is close-on-exec, so tmux does not hold it. */
  if (!tmux) return 0;
  return nl_tmux_open(labdir, st, error) ? 0 : -1;
}

const NlCmd nl_cmd_up = {"up", NULL, "start a lab and wait until every VM is ready",
                         .target = NL_TARGET_LAB, .run = run};
