/* netlab status (ps): what runs of a lab, with the sockets to reach it. */
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "cmd.h"
#include "disk.h"
#include "domxml.h"
#include "link.h"
#include "remote.h"
#include "sandbox.h"
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

/* g_format_size() puts a no-break space before the unit, which breaks
 * columns and greps. */
static char *size_text(guint64 bytes) {
  if (bytes >= (1ull << 30)) return g_strdup_printf("%.1f GiB", bytes / (double)(1ull << 30));
  return g_strdup_printf("%.1f MiB", bytes / (double)(1ull << 20));
}

static void append_disks(GString *s, const char *labdir, gboolean json) {
  g_autoptr(GPtrArray) disks = nl_disk_list(labdir);
  if (json) {
    g_string_append(s, ",\n \"disks\": [");
  } else if (disks->len) {
    g_string_append_printf(s, "\n%-12s %-10s %-10s %s\n", "DISK", "SIZE", "USED", "FILE");
  }
  for (guint i = 0; i < disks->len; i++) {
    NlDiskInfo *d = disks->pdata[i];
    if (json) {
      g_string_append(s, i ? ",\n  {\"node\": " : "\n  {\"node\": ");
      json_str(s, d->node);
      g_string_append_printf(s,
                             ", \"size\": %" G_GUINT64_FORMAT ", \"used\": %" G_GUINT64_FORMAT
                             ", \"dirty\": %s, \"file\": ",
                             d->virtual_bytes, d->used_bytes, d->dirty ? "true" : "false");
      json_str(s, d->path);
      g_string_append(s, "}");
    } else {
      g_autofree char *size = size_text(d->virtual_bytes);
      g_autofree char *used = size_text(d->used_bytes);
      g_string_append_printf(s, "%-12s %-10s %-10s %s\n", d->node, size, used, d->path);
    }
  }
  if (json) g_string_append(s, "]");
}

/* Each interface of the lab: where it is plugged, its link state and its
 * impairment, as `netlab link` left them. */
static void interfaces(GString *s, const NlLab *lab, const char *statedir, gboolean json) {
  if (json)
    g_string_append(s, "],\n \"interfaces\": [");
  else
    g_string_append_printf(s, "\n%-12s %-6s %-12s %-18s %-5s %s\n", "NODE", "IF", "LAN", "MAC",
                           "LINK", "IMPAIRMENT");
  gboolean first = TRUE;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      char mac[18];
      nl_mac_format(nic->mac, mac);
      NlImpair imp;
      nl_link_get(statedir, node->name, j, &imp);
      g_autofree char *text = nl_impair_format(&imp);
      const char *link = nl_link_is_up(statedir, node->name, j) ? "up" : "down";
      g_autofree char *ifname = g_strdup_printf("eth%u", j);
      if (json) {
        g_string_append(s, first ? "\n  {\"node\": " : ",\n  {\"node\": ");
        json_str(s, node->name);
        g_string_append(s, ", \"interface\": ");
        json_str(s, ifname);
        g_string_append(s, ", \"lan\": ");
        json_str(s, nic->lan);
        g_string_append_printf(s, ", \"mac\": \"%s\", \"link\": \"%s\", \"impairment\": ", mac,
                               link);
        json_str(s, text);
        g_string_append(s, "}");
      } else {
        g_string_append_printf(s, "%-12s %-6s %-12s %-18s %-5s %s\n", node->name, ifname, nic->lan,
                               mac, link, *text ? text : "-");
      }
      first = FALSE;
    }
  }
}

/* A node on another host: its state there (ON is "HOST STATE"), and the
 * sockets netlab-relay serves for it here. */
static void remote_node(GString *s, const NlState *st, const char *labdir, const char *node,
                        const char *on, gboolean json, gboolean first) {
  const char *state = strchr(on, ' ') + 1;
  g_autofree char *host = g_strndup(on, state - on - 1);
  NlVmPaths p;
  nl_layout_vm(&p, st->dir, labdir, node);
  if (json) {
    g_string_append(s, first ? "\n  {\"name\": " : ",\n  {\"name\": ");
    json_str(s, node);
    g_string_append(s, ", \"host\": ");
    json_str(s, host);
    g_string_append(s, ", \"state\": ");
    json_str(s, state);
    g_string_append(s, ", \"pid\": 0, \"console\": ");
    json_str(s, p.console);
    g_string_append(s, "}");
  } else {
    g_string_append_printf(s, "%-12s %-9s %-8s on host %s\n%31s %s\n", node, state, "-", host, "",
                           p.console);
  }
  nl_layout_vm_clear(&p);
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *d = NULL;
  g_autofree char *argv_of = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &d, "Lab directory", "LABDIR"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON, for scripts", NULL},
      {"qemu-argv", 0, 0, G_OPTION_ARG_STRING, &argv_of,
       "Print the QEMU command line libvirt renders from VM's domain", "VM"},
      {NULL}};
  if (!nl_cmd_parse("status", "show a lab's VMs", entries, &argc, &argv, error)) return -1;
  g_autofree char *labdir = nl_cmd_labdir(d, argc, argv, error);
  if (!labdir) return -1;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return -1;

  if (!nl_state_exists(st)) {
    g_autoptr(GString) s = g_string_new(NULL);
    if (json) {
      g_string_append(s, "{\"lab\": ");
      json_str(s, labdir);
      g_string_append(s, ", \"up\": false, \"vms\": [], \"lans\": [], \"interfaces\": []");
      append_disks(s, labdir, TRUE);
      g_string_append(s, "}\n");
    } else {
      g_string_append_printf(s, "lab '%s' is not up\n", labdir);
      append_disks(s, labdir, FALSE);
    }
    fputs(s->str, stdout);
    return 0;
  }
  /* The embedded driver lets one process at a time hold its root. */
  if (!nl_state_lock(st, FALSE, error)) return -1;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autofree char *accel = nl_state_get(st, "accel");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return -1;
  if (argv_of) {
    g_autofree char *domain = nl_domain_name(virt, st->id, argv_of);
    g_autofree char *line = nl_virt_native(virt, domain, error);
    if (!line) return -1;
    puts(g_strchomp(line));
    return 0;
  }
  g_autofree char *prefix = nl_domain_name(virt, st->id, "");
  g_autoptr(GPtrArray) doms = nl_virt_list(virt, prefix, error);
  if (!doms) return -1;
  g_autofree char *lan_list = nl_state_get(st, "lans");
  g_auto(GStrv) lan_names = g_strsplit(lan_list ? lan_list : "", "\n", -1);

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
    g_string_append_printf(s, "lab %s\nstate %s (%s)\naccelerator %s\n\n", labdir, st->dir,
                           nl_virt_uri(virt), accel ? accel : "?");
    g_string_append_printf(s, "%-12s %-9s %-8s %s\n", "VM", "STATE", "PID", "CONSOLE / GDB");
  }
  /* Every node of the lab, also one whose QEMU is gone: libvirt forgets
   * such a domain, the lab does not. */
  g_autofree char *node_list = nl_state_get(st, "nodes");
  g_auto(GStrv) nodes = g_strsplit(node_list ? node_list : "", "\n", -1);
  if (!node_list) {
    /* A lab brought up by an older netlab: what libvirt knows. */
    g_strfreev(nodes);
    nodes = g_new0(char *, doms->len + 1);
    for (guint j = 0; j < doms->len; j++)
      nodes[j] = g_strdup(((NlDomainInfo *)doms->pdata[j])->name + strlen(prefix));
  }
  g_autoptr(GHashTable) remote = nl_remote_node_states(st);
  for (guint i = 0; nodes[i] && *nodes[i]; i++) {
    const char *node = nodes[i];
    if (g_hash_table_contains(remote, node)) {
      remote_node(s, st, labdir, node, g_hash_table_lookup(remote, node), json, i == 0);
      continue;
    }
    g_autofree char *domain = nl_domain_name(virt, st->id, node);
    NlDomainInfo *dom = NULL;
    for (guint j = 0; j < doms->len; j++)
      if (strcmp(((NlDomainInfo *)doms->pdata[j])->name, domain) == 0) dom = doms->pdata[j];
    /* A QEMU just killed is a zombie for a moment, which libvirt still
     * counts as running: the recorded process says the truth. */
    if (dom && !uri && !nl_proc_alive(st, "qemu", node)) dom = NULL;
    NlVmPaths p;
    nl_layout_vm(&p, st->dir, labdir, node);
    g_autofree char *why = dom ? NULL : nl_vm_why_stopped(st, domain, p.log);
    g_autofree char *tail = dom ? NULL : nl_log_tail(p.log, 3);
    const char *state = dom ? dom->state : "stopped";
    g_autofree char *kernel_key = g_strconcat("booted.", node, NULL);
    g_autofree char *kernel = nl_state_get(st, kernel_key);
    int pid = dom ? dom->pid : 0;
    if (json) {
      g_string_append(s, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
      json_str(s, node);
      g_string_append(s, ", \"domain\": ");
      json_str(s, domain);
      g_string_append(s, ", \"state\": ");
      json_str(s, state);
      g_string_append_printf(s, ", \"pid\": %d, \"why\": ", pid);
      json_str(s, why);
      g_string_append(s, ", \"console_tail\": ");
      json_str(s, tail);
      g_string_append(s, ", \"console\": ");
      json_str(s, p.console);
      g_string_append(s, ", \"gdb\": ");
      json_str(s, p.gdb);
      g_string_append(s, ", \"control\": ");
      json_str(s, p.ctl);
      g_string_append(s, ", \"console_log\": ");
      json_str(s, p.log);
      g_string_append(s, ", \"kernel\": ");
      json_str(s, kernel);
      g_string_append(s, "}");
    } else {
      g_autofree char *ps = pid ? g_strdup_printf("%d", pid) : g_strdup("-");
      if (dom) {
        g_string_append_printf(s, "%-12s %-9s %-8s %s\n%31s %s\n%31s kernel %s\n", node, state, ps,
                               p.console, "", p.gdb, "", kernel ? kernel : "?");
      } else {
        g_string_append_printf(s, "%-12s %-9s %-8s %s\n", node, state, ps, why);
        g_auto(GStrv) lines = g_strsplit(tail, "\n", -1);
        for (char **l = lines; *l; l++)
          if (**l) g_string_append_printf(s, "%31s | %s\n", "", *l);
      }
    }
    nl_layout_vm_clear(&p);
  }
  if (json)
    g_string_append(s, "],\n \"lans\": [");
  else
    g_string_append_printf(s, "\n%-12s %-9s %-8s %s\n", "LAN", "STATE", "PID", "SWITCH");
  for (guint i = 0; lan_names[i] && *lan_names[i]; i++) {
    const char *lan = lan_names[i];
    int pid = nl_vde_pid(st, lan);
    g_autofree char *key = g_strconcat("vxvde.", lan, NULL);
    g_autofree char *url = nl_state_get(st, key);
    g_autofree char *sock = url ? g_strdup(g_strchomp(url)) : nl_layout_lan(st->dir, lan);
    if (json) {
      g_string_append(s, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
      json_str(s, lan);
      g_string_append_printf(s, ", \"state\": \"%s\", \"pid\": %d, \"socket\": ",
                             url   ? "vxvde"
                             : pid ? "running"
                                   : "stopped",
                             pid);
      json_str(s, sock);
      g_string_append(s, "}");
    } else {
      g_autofree char *ps = pid ? g_strdup_printf("%d", pid) : g_strdup("-");
      g_string_append_printf(s, "%-12s %-9s %-8s %s\n", lan,
                             url   ? "vxvde"
                             : pid ? "running"
                                   : "stopped",
                             ps, sock);
    }
  }
  /* The lab's directory may be gone (`down` works then too): no interfaces. */
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(NlLab) lab = nl_lab_load(labdir, warnings, NULL);
  if (lab) interfaces(s, lab, st->dir, json);
  if (json) g_string_append(s, "]");
  append_disks(s, labdir, json);
  if (json) g_string_append(s, "}\n");
  fputs(s->str, stdout);
  return 0;
}

const NlCmd nl_cmd_status = {"status", "ps", "show a lab's VMs, switches and sockets", run};
