/* netlab up: start a lab's switches and VMs (or some of them, beside those
 * already up) and return when every VM has run its startup scripts. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tmux.h"
#include "cmd.h"
#include "events.h"
#include "image.h"
#include "kernel.h"
#include "lab.h"
#include "partial.h"
#include "run.h"
#include "state.h"
#include "util.h"

/* The values of --accel, --pull-images, --timeout and --kernel in O; the
 * kernel's path in *KPATH, which O points to. */
static gboolean up_options(NlUpOptions *o, const char *accel, const char *pull, int timeout,
                           const char *kernel, char **kpath, GError **error) {
  o->accel = NL_ACCEL_AUTO;
  o->pull = -1;
  NlPullPolicy policy;
  if (pull && !nl_image_parse_pull(pull, &policy)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "up: --pull-images takes missing, never or always, not '%s'", pull);
    return FALSE;
  }
  if (pull) o->pull = policy;
  if (!accel || strcmp(accel, "auto") == 0)
    o->accel = NL_ACCEL_AUTO;
  else if (strcmp(accel, "kvm") == 0)
    o->accel = NL_ACCEL_KVM;
  else if (strcmp(accel, "tcg") == 0)
    o->accel = NL_ACCEL_TCG;
  else {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "up: --accel takes kvm, tcg or auto, not '%s'",
                accel);
    return FALSE;
  }
  if (timeout < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "up: --timeout must not be negative");
    return FALSE;
  }
  o->timeout_s = timeout;
  if (!kernel) return TRUE;
  g_autofree char *named = nl_kernel_resolve(kernel, NULL);
  g_autoptr(GError) local = NULL;
  *kpath = nl_realpath(named, &local);
  if (!*kpath) {
    g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, local->message);
    return FALSE;
  }
  o->kernel = *kpath;
  return TRUE;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *accel = NULL, *kernel = NULL;
  int timeout = 0;
  gboolean tmux = FALSE;
  gboolean vmcore_on_panic = FALSE;
  g_auto(GStrv) exclude = NULL;
  g_autofree char *pull = NULL;
  const GOptionEntry entries[] = {
      {"accel", 0, 0, G_OPTION_ARG_STRING, &accel, "kvm, tcg or auto (default)", "A"},
      {"kernel", 'k', 0, G_OPTION_ARG_FILENAME, &kernel,
       "Boot this kernel instead of the lab's: a path, or a name from `netlab kernel list`",
       "KERNEL"},
      {"timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
       "Seconds to wait for every VM to be ready (default: 300, or 60 s per VM per host core "
       "under TCG if more)",
       "S"},
      {"exclude", 'x', 0, G_OPTION_ARG_STRING_ARRAY, &exclude,
       "Do not start NODE (Kathará's --exclude; repeatable): a later `up` starts it", "NODE"},
      {"vmcore-on-panic", 0, 0, G_OPTION_ARG_NONE, &vmcore_on_panic,
       "Keep a panicked kernel's memory and write its vmcore (into the lab's data directory)",
       NULL},
      {"pull-images", 0, 0, G_OPTION_ARG_STRING, &pull,
       "Which of the nodes' images to pull: missing (default: LAB_PULL_IMAGES), never, always",
       "WHEN"},
      {"tmux", 0, 0, G_OPTION_ARG_NONE, &tmux,
       "Then open a tmux session with a window per VM console (as `netlab tmux`)", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "[LABDIR] [NODE...]: start a lab, or these nodes of it", entries, &argc,
                    &argv, &t, error))
    return -1;

  NlUpOptions o = {.uri = g->uri, .vmcore_on_panic = vmcore_on_panic};
  g_autofree char *kpath = NULL;
  if (!up_options(&o, accel, pull, timeout, kernel, &kpath, error)) return -1;

  /* up [LABDIR] [NODE...], or -d LABDIR [NODE...]: Kathará's lstart. */
  const char *labdir = t.labdir;
  int first_node = 1;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab) return -1;
  nl_cmd_print_needs(lab, stderr, "netlab: warning: ");

  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st || !nl_state_lock(st, TRUE, error)) return -1;
  g_auto(GStrv) nodes = NULL;
  if (argc > first_node) {
    nodes = g_new0(char *, argc - first_node + 1);
    for (int i = first_node; i < argc; i++) nodes[i - first_node] = g_strdup(argv[i]);
  }
  if (!nl_partial_select(lab, st, nodes, exclude, &o.join, error)) return -1;
  NlCmdVmDisplay display = {.tty = isatty(2), .statedir = st->dir, .labdir = labdir};
  const NlUpProgress progress = {.say = {nl_cmd_say.say, &display}, .vms = nl_cmd_show_vms};
  o.progress = &progress;
  if (!nl_run_up(lab, st, &o, error)) return -1;
  nl_event_emit(st->dir, labdir, "lab", "state", "up", NULL);
  /* The lock is close-on-exec, so tmux does not hold it. */
  if (!tmux) return 0;
  return nl_tmux_open(labdir, st, &nl_cmd_say, error) ? 0 : -1;
}

const NlCmd nl_cmd_up = {"up",
                         NULL,
                         "start a lab and wait until every VM is ready",
                         .target = NL_TARGET_LAB,
                         .nodes_follow = TRUE,
                         .run = run};
