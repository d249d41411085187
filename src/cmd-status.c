/* netlab status (ps): what runs of a lab, with the sockets to reach it. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "domxml.h"
#include "state.h"
#include "util.h"
#include "vde.h"
#include "virt.h"

static void json_str(GString *s, const char *v) {
  if (!v) {
    g_string_append(s, "null");
    return;
  }
  g_string_append_c(s, '"');
  for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
    if (*c == '"' || *c == '\\')
      g_string_append_printf(s, "\\%c", *c);
    else if (*c < 0x20)
      g_string_append_printf(s, "\\u%04x", *c);
    else
      g_string_append_c(s, *c);
  }
  g_string_append_c(s, '"');
}

static GPtrArray *lans_of(const char *statedir) {
  g_autofree char *dir = g_build_filename(statedir, "lan", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  GPtrArray *lans = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (d && (n = g_dir_read_name(d)))
    if (g_str_has_suffix(n, ".pid"))
      g_ptr_array_add(lans, g_strndup(n, strlen(n) - 4));
  g_ptr_array_sort(lans, nl_strv_cmp);
  return lans;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON, for scripts", NULL},
      {NULL}};
  if (!nl_cmd_parse("status", "show a lab's VMs", entries, &argc, &argv, error))
    return -1;
  g_autofree char *labdir = nl_cmd_labdir(d, argc, argv, error);
  if (!labdir) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;

  if (!nl_state_exists(st)) {
    if (json) {
      g_autoptr(GString) s = g_string_new("{\"lab\": ");
      json_str(s, labdir);
      g_string_append(s, ", \"up\": false, \"vms\": [], \"lans\": []}\n");
      fputs(s->str, stdout);
    } else {
      printf("lab '%s' is not up\n", labdir);
    }
    return 0;
  }
  /* The embedded driver lets one process at a time hold its root. */
  if (!nl_state_lock(st, FALSE, error)) return -1;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autofree char *accel = nl_state_get(st, "accel");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return -1;
  g_autofree char *prefix = nl_domain_name(virt, st->id, "");
  g_autoptr(GPtrArray) doms = nl_virt_list(virt, prefix, error);
  if (!doms) return -1;
  g_autoptr(GPtrArray) lans = lans_of(st->dir);

  g_autoptr(GString) s = g_string_new(NULL);
  if (json) {
    g_string_append(s, "{\"lab\": ");
    json_str(s, labdir);
    g_string_append(s, ", \"up\": true, \"state_dir\": ");
    json_str(s, st->dir);
    g_string_append(s, ", \"uri\": ");
    json_str(s, nl_virt_uri(virt));
    g_string_append(s, ", \"accel\": ");
    json_str(s, accel);
    g_string_append(s, ",\n \"vms\": [");
  } else {
    g_string_append_printf(s, "lab %s\nstate %s (%s)\naccelerator %s\n\n", labdir,
                           st->dir, nl_virt_uri(virt), accel ? accel : "?");
    g_string_append_printf(s, "%-12s %-9s %-8s %s\n", "VM", "STATE", "PID",
                           "CONSOLE / GDB");
  }
  for (guint i = 0; i < doms->len; i++) {
    NlDomainInfo *dom = doms->pdata[i];
    const char *node = dom->name + strlen(prefix);
    NlVmPaths p;
    nl_vm_paths_init(&p, st->dir, labdir, node);
    if (json) {
      g_string_append(s, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
      json_str(s, node);
      g_string_append(s, ", \"domain\": ");
      json_str(s, dom->name);
      g_string_append(s, ", \"state\": ");
      json_str(s, dom->state);
      g_string_append_printf(s, ", \"pid\": %d, \"console\": ", dom->pid);
      json_str(s, p.console);
      g_string_append(s, ", \"gdb\": ");
      json_str(s, p.gdb);
      g_string_append(s, ", \"control\": ");
      json_str(s, p.ctl);
      g_string_append(s, ", \"console_log\": ");
      json_str(s, p.log);
      g_string_append(s, "}");
    } else {
      g_autofree char *pid = dom->pid ? g_strdup_printf("%d", dom->pid) : g_strdup("-");
      g_string_append_printf(s, "%-12s %-9s %-8s %s\n%31s %s\n", node, dom->state, pid,
                             p.console, "", p.gdb);
    }
    nl_vm_paths_clear(&p);
  }
  if (json)
    g_string_append(s, "],\n \"lans\": [");
  else
    g_string_append_printf(s, "\n%-12s %-9s %-8s %s\n", "LAN", "STATE", "PID",
                           "SWITCH");
  for (guint i = 0; i < lans->len; i++) {
    const char *lan = lans->pdata[i];
    int pid = nl_vde_pid(st, lan);
    g_autofree char *sock = nl_lan_sock(st->dir, lan);
    if (json) {
      g_string_append(s, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
      json_str(s, lan);
      g_string_append_printf(s, ", \"state\": \"%s\", \"pid\": %d, \"socket\": ",
                             pid ? "running" : "stopped", pid);
      json_str(s, sock);
      g_string_append(s, "}");
    } else {
      g_autofree char *ps = pid ? g_strdup_printf("%d", pid) : g_strdup("-");
      g_string_append_printf(s, "%-12s %-9s %-8s %s\n", lan, pid ? "running" : "stopped",
                             ps, sock);
    }
  }
  if (json) g_string_append(s, "]}\n");
  fputs(s->str, stdout);
  return 0;
}

const NlCmd nl_cmd_status = {"status", "ps", "show a lab's VMs, switches and sockets", run};
