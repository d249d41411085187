/* netlab freeze / thaw: stop every VM of a lab (or the named ones) at the
 * same instant, and resume them. */
#include <stdio.h>

#include "cmd.h"
#include "freeze.h"
#include "state.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean thaw = g->cmd == &nl_cmd_thaw;
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Say nothing when it works", NULL}, {NULL}};
  if (!nl_cmd_parse(g,
                    thaw ? "[LABDIR] [NODE...]: resume a frozen lab, or these nodes of it"
                         : "[LABDIR] [NODE...]: stop a lab's VMs at once, or these nodes",
                    entries, &argc, &argv, &t, error))
    return -1;
  g_autoptr(NlState) st = nl_state_for(t.labdir, error);
  if (!st) return -1;
  if (!nl_state_exists(st)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", t.labdir);
    return -1;
  }
  g_auto(GStrv) nodes = g_new0(char *, argc);
  for (int i = 1; i < argc; i++) nodes[i - 1] = g_strdup(argv[i]);
  g_auto(NlFreezeResult) r = {0};
  if (!nl_freeze(st, nodes, thaw, &nl_cmd_say, &r, error)) return -1;
  if (quiet) return 0;
  if (r.nodes->len == 0) {
    fprintf(stderr, "netlab: no node of '%s' to %s\n", t.labdir, thaw ? "thaw" : "freeze");
    return 0;
  }
  g_ptr_array_add(r.nodes, NULL);
  g_autofree char *names = g_strjoinv(" ", (char **)r.nodes->pdata);
  g_autofree char *skew = r.skew_ms >= 0
                              ? g_strdup_printf("; QEMU %s them within %.3f ms of each other",
                                                thaw ? "resumed" : "stopped", r.skew_ms)
                              : g_strdup("");
  printf("%s %s in %.0f ms%s\n", thaw ? "thawed" : "froze", names, r.calls_ms, skew);
  return 0;
}

const NlCmd nl_cmd_freeze = {"freeze",
                             NULL,
                             "stop every VM of a lab at the same instant",
                             .target = NL_TARGET_LAB,
                             .nodes_follow = TRUE,
                             .run = run};

const NlCmd nl_cmd_thaw = {"thaw",
                           NULL,
                           "resume the VMs of a frozen lab",
                           .target = NL_TARGET_LAB,
                           .nodes_follow = TRUE,
                           .run = run};
