/* netlab link: one interface's impairment (set, show, reset) and its link
 * state (down, up), changed while the lab runs. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "events.h"
#include "link.h"
#include "span.h"
#include "util.h"
#include "virt.h"

#define USAGE                                                                         \
  "link: usage: netlab link [-d LABDIR] NODE:ethN set KEY=VALUE... | show | reset | " \
  "down | up"

static gboolean set_state(NlState *st, const char *node, const NlNic *nic, gboolean up,
                          GError **error) {
  /* libvirt's embedded driver is one process's at a time. */
  if (!nl_state_lock(st, FALSE, error)) return FALSE;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return FALSE;
  g_autofree char *domain = nl_domain_name(virt, st->id, node);
  if (!nl_link_set_state(virt, domain, st->dir, node, nic->index, up, error)) return FALSE;
  /* A wire that restarted while this end was down is reached once this
   * end sends (link.h). */
  return !up || nic->end < 0 || nl_link_announce(virt, domain, error);
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g,
                    "NODE:ethN set KEY=VALUE...|show|reset|down|up: "
                    "impair an interface or cut its link",
                    entries, &argc, &argv, &t, error))
    return -1;
  if (argc < 3) {
    g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, USAGE);
    return -1;
  }
  const char *verb = argv[2];
  gboolean set = strcmp(verb, "set") == 0;
  if (!set && argc != 3) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "link: unexpected argument '%s'\n%s", argv[3],
                USAGE);
    return -1;
  }
  NlImpair imp = {0};
  if (set) {
    if (argc < 4) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "link: set needs KEY=VALUE words, such as delay=50ms loss=1%%");
      return -1;
    }
  } else if (!g_strv_contains((const char *const[]){"show", "reset", "down", "up", NULL}, verb)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "link: unknown action '%s'\n%s", verb, USAGE);
    return -1;
  }
  const NlLab *lab = t.lab;
  NlState *st = t.st;
  const NlNode *node = NULL;
  NlNic *nic = nl_lab_find_nic(lab, argv[1], &node, error);
  if (!nic) return -1;
  if (!nl_nic_here(node, "impairment or link state", error)) {
    g_prefix_error(error, "link %s: ", argv[1]);
    return -1;
  }

  g_autofree char *ifname = g_strdup_printf("eth%u", nic->index);
  if (strcmp(verb, "down") == 0 || strcmp(verb, "up") == 0) {
    if (!set_state(st, node->name, nic, strcmp(verb, "up") == 0, error)) return -1;
    nl_event_emit(st->dir, t.labdir, "link", "node", node->name, "interface", ifname, "lan",
                  nic->lan, "state", verb, NULL);
    return 0;
  }
  if (set || strcmp(verb, "show") == 0) nl_link_get(st->dir, node->name, nic->index, &imp);
  if (set) {
    g_autofree char *words = g_strjoinv(" ", argv + 3);
    if (!nl_impair_parse(words, &imp, error)) {
      g_prefix_error(error, "link %s: ", argv[1]);
      return -1;
    }
  }
  if (set || strcmp(verb, "reset") == 0) {
    if (!nl_link_set(st->dir, node->name, nic, &imp, error)) return -1;
  }
  g_autofree char *text = nl_impair_format(&imp);
  if (set || strcmp(verb, "reset") == 0)
    nl_event_emit(st->dir, t.labdir, "impairment", "node", node->name, "interface", ifname, "lan",
                  nic->lan, "impairment", text, NULL);
  printf("%s %s %s %s\n", argv[1], nic->lan,
         nl_link_is_up(st->dir, node->name, nic->index) ? "up" : "down",
         *text ? text : "unimpaired");
  return 0;
}

const NlCmd nl_cmd_link = {"link", NULL,
                           "impair an interface (delay, loss, rate...) or cut its link",
                           .target = NL_TARGET_UP, .run = run};
