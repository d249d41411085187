/* netlab restart: Kathará's lrestart. Each NODE of the running lab boots
 * again, clean (a fresh overlay), while its LANs and the other nodes stay. */
#include <unistd.h>

#include "cmd.h"
#include "events.h"
#include "lab.h"
#include "partial.h"
#include "run.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  int timeout = 300;
  const GOptionEntry entries[] = {{"timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
                                   "Seconds to wait for the nodes to be ready (300)", "S"},
                                  {NULL}};
  if (!nl_cmd_parse(g, "NODE...: boot these nodes again, clean", entries, &argc, &argv, &t, error))
    return -1;
  if (argc < 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "restart: usage: netlab restart [-d LABDIR] NODE...");
    return -1;
  }
  if (timeout <= 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "restart: --timeout must be positive");
    return -1;
  }
  g_auto(GStrv) nodes = g_new0(char *, argc);
  for (int i = 1; i < argc; i++) nodes[i - 1] = g_strdup(argv[i]);

  const char *labdir = t.labdir;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab || !nl_lab_select(lab, (const char *const *)nodes, NULL, error)) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st || !nl_state_lock(st, TRUE, error)) return -1;
  NlUpOptions o = {.accel = NL_ACCEL_AUTO, .timeout_s = timeout, .join = TRUE, .pull = -1};
  /* The lab's own: a node boots again as `up` booted it. */
  g_autofree char *uri = nl_state_get(st, "uri");
  o.uri = uri ? g_strstrip(uri) : NULL;
  g_autofree char *accel = nl_state_get(st, "accel");
  if (accel) o.accel = g_str_equal(g_strstrip(accel), "kvm") ? NL_ACCEL_KVM : NL_ACCEL_TCG;
  NlCmdVmDisplay display = {.tty = isatty(2), .statedir = st->dir, .labdir = labdir};
  const NlUpProgress progress = {.say = {nl_cmd_say.say, &display}, .vms = nl_cmd_show_vms};
  o.progress = &progress;
  if (!nl_partial_restart(st, lab, error)) return -1;
  return nl_run_up(lab, st, &o, error) && nl_partial_reconnect(st, o.uri, lab, error) ? 0 : -1;
}

const NlCmd nl_cmd_restart = {"restart", NULL,
                              "boot nodes of a running lab again, clean (Kathará's lrestart)",
                              .target = NL_TARGET_DIR, .run = run};
