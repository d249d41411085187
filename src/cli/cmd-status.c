/* netlab status (ps): what runs of a lab, with the sockets to reach it. The
 * status is gathered once, as JSON (json-glib), and printed as it is with
 * --json or as tables. */
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "cmd.h"
#include "disk.h"
#include "layout.h"
#include "domxml.h"
#include "link.h"
#include "remote.h"
#include "sandbox.h"
#include "state.h"
#include "util.h"
#include "vde.h"
#include "virt.h"

/* g_format_size() puts a no-break space before the unit, which breaks
 * columns and greps. */
static char *size_text(guint64 bytes) {
  if (bytes >= (1ull << 30)) return g_strdup_printf("%.1f GiB", bytes / (double)(1ull << 30));
  return g_strdup_printf("%.1f MiB", bytes / (double)(1ull << 20));
}

static void member_str(JsonBuilder *b, const char *name, const char *value) {
  json_builder_set_member_name(b, name);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void member_int(JsonBuilder *b, const char *name, gint64 value) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

/* Where the lab's disks, console logs and test artifacts are kept. */
static void add_data(JsonBuilder *b, const char *labdir) {
  g_autofree char *data = nl_layout_data(labdir);
  member_str(b, "data_dir", data);
}

static void add_disks(JsonBuilder *b, const char *labdir) {
  g_autoptr(GPtrArray) disks = nl_disk_list(labdir);
  json_builder_set_member_name(b, "disks");
  json_builder_begin_array(b);
  for (guint i = 0; i < disks->len; i++) {
    NlDiskInfo *d = disks->pdata[i];
    json_builder_begin_object(b);
    member_str(b, "node", d->node);
    member_int(b, "size", d->virtual_bytes);
    member_int(b, "used", d->used_bytes);
    json_builder_set_member_name(b, "dirty");
    json_builder_add_boolean_value(b, d->dirty);
    member_str(b, "file", d->path);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

/* Each interface of the lab: where it is plugged, its link state and its
 * impairment, as `netlab link` left them. */
static void add_interfaces(JsonBuilder *b, const NlLab *lab, const char *statedir) {
  json_builder_set_member_name(b, "interfaces");
  json_builder_begin_array(b);
  for (guint i = 0; lab && i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = node->nics->pdata[j];
      char mac[18];
      nl_mac_format(nic->mac, mac);
      NlImpair imp;
      nl_link_get(statedir, node->name, j, &imp);
      g_autofree char *text = nl_impair_format(&imp);
      g_autofree char *ifname = g_strdup_printf("eth%u", j);
      json_builder_begin_object(b);
      member_str(b, "node", node->name);
      member_str(b, "interface", ifname);
      member_str(b, "lan", nic->lan);
      member_str(b, "mac", mac);
      member_str(b, "link", nl_link_is_up(statedir, node->name, j) ? "up" : "down");
      member_str(b, "impairment", text);
      json_builder_end_object(b);
    }
  }
  json_builder_end_array(b);
}

/* The nodes of the lab, also one whose QEMU is gone: libvirt forgets such a
 * domain, the lab does not. */
static GStrv node_names(const NlState *st, GPtrArray *doms, const char *prefix) {
  g_autofree char *node_list = nl_state_get(st, "nodes");
  if (node_list) return g_strsplit(g_strstrip(node_list), "\n", -1);
  /* A lab brought up by an older netlab: what libvirt knows. */
  GStrv nodes = g_new0(char *, doms->len + 1);
  for (guint j = 0; j < doms->len; j++)
    nodes[j] = g_strdup(((NlDomainInfo *)doms->pdata[j])->name + strlen(prefix));
  return nodes;
}

/* A node on another host: its state there (ON is "HOST STATE"), and the
 * sockets netlab-relay serves for it here. */
static void add_remote_vm(JsonBuilder *b, const char *labdir, const NlState *st, const char *node,
                          const char *on) {
  const char *state = strchr(on, ' ') + 1;
  g_autofree char *host = g_strndup(on, state - on - 1);
  g_auto(NlVmPaths) p = {0};
  nl_layout_vm(&p, st->dir, labdir, node);
  json_builder_begin_object(b);
  member_str(b, "name", node);
  member_str(b, "host", host);
  member_str(b, "state", state);
  member_int(b, "pid", 0);
  member_str(b, "console", p.console);
  json_builder_end_object(b);
}

static void add_vm(JsonBuilder *b, const char *labdir, const NlState *st, NlVirt *virt,
                   GPtrArray *doms, gboolean shared_libvirt, const char *node) {
  g_autofree char *domain = nl_domain_name(virt, st->id, node);
  NlDomainInfo *dom = NULL;
  for (guint j = 0; j < doms->len; j++)
    if (strcmp(((NlDomainInfo *)doms->pdata[j])->name, domain) == 0) dom = doms->pdata[j];
  /* A QEMU just killed is a zombie for a moment, which libvirt still
   * counts as running: the recorded process says the truth. */
  if (dom && !shared_libvirt && !nl_proc_alive(st, "qemu", node)) dom = NULL;
  g_auto(NlVmPaths) p = {0};
  nl_layout_vm(&p, st->dir, labdir, node);
  g_autofree char *why = dom ? NULL : nl_vm_why_stopped(st, domain, p.log);
  g_autofree char *tail = dom ? NULL : nl_log_tail(p.log, 3);
  g_autofree char *kernel_key = g_strconcat("booted.", node, NULL);
  g_autofree char *kernel = nl_state_get(st, kernel_key);
  json_builder_begin_object(b);
  member_str(b, "name", node);
  member_str(b, "domain", domain);
  member_str(b, "state", dom ? dom->state : "stopped");
  member_int(b, "pid", dom ? dom->pid : 0);
  member_str(b, "why", why);
  member_str(b, "console_tail", tail);
  member_str(b, "console", p.console);
  member_str(b, "gdb", p.gdb);
  member_str(b, "control", p.ctl);
  member_str(b, "console_log", p.log);
  /* Bytes dropped to keep the log bounded (logkeep.h). */
  member_int(b, "console_cut", (gint64)nl_console_log_cut(p.log));
  member_str(b, "kernel", kernel);
  json_builder_end_object(b);
}

static void add_lans(JsonBuilder *b, const NlState *st) {
  g_autofree char *lan_list = nl_state_get(st, "lans");
  g_auto(GStrv) lans = g_strsplit(lan_list ? g_strstrip(lan_list) : "", "\n", -1);
  json_builder_set_member_name(b, "lans");
  json_builder_begin_array(b);
  for (char **lan = lans; *lan && **lan; lan++) {
    int pid = nl_vde_pid(st, *lan);
    /* A vxvde LAN: its vxvde:// address, and the pid of its switch if it
     * has NICs here too. A LAN of two interfaces, a wire: its wirefilter's
     * management socket. */
    g_autofree char *key = g_strconcat("vxvde.", *lan, NULL);
    g_autofree char *url = nl_state_get(st, key);
    g_autofree char *wire_mgmt = nl_layout_wire(st->dir, *lan, ".mgmt");
    gboolean wire = nl_proc_alive(st, "wire", *lan) || g_file_test(wire_mgmt, G_FILE_TEST_EXISTS);
    g_autofree char *sock = url    ? g_strdup(g_strchomp(url))
                            : wire ? g_strdup(wire_mgmt)
                                   : nl_layout_lan(st->dir, *lan);
    json_builder_begin_object(b);
    member_str(b, "name", *lan);
    member_str(b, "kind", url ? "vxvde" : wire ? "wire" : "switch");
    member_str(b, "state", url ? "vxvde" : pid ? "running" : "stopped");
    member_int(b, "pid", pid);
    member_str(b, "socket", sock);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

/* The status of a lab that is up: VMs, LANs, interfaces, disks. */
static JsonNode *status_up(const char *labdir, NlState *st, GError **error) {
  /* The embedded driver lets one process at a time hold its root. */
  if (!nl_state_lock(st, FALSE, error)) return NULL;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autofree char *accel = nl_state_get(st, "accel");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return NULL;
  g_autofree char *prefix = nl_domain_name(virt, st->id, "");
  g_autoptr(GPtrArray) doms = nl_virt_list(virt, prefix, error);
  if (!doms) return NULL;

  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  member_str(b, "lab", labdir);
  json_builder_set_member_name(b, "up");
  json_builder_add_boolean_value(b, TRUE);
  member_str(b, "state_dir", st->dir);
  member_str(b, "uri", nl_virt_uri(virt));
  member_str(b, "accel", accel);
  json_builder_set_member_name(b, "vms");
  json_builder_begin_array(b);
  g_auto(GStrv) nodes = node_names(st, doms, prefix);
  g_autoptr(GHashTable) remote = nl_remote_node_states(st);
  for (char **n = nodes; *n && **n; n++) {
    const char *on = g_hash_table_lookup(remote, *n);
    if (on)
      add_remote_vm(b, labdir, st, *n, on);
    else
      add_vm(b, labdir, st, virt, doms, uri != NULL, *n);
  }
  json_builder_end_array(b);
  add_lans(b, st);
  /* The lab's directory may be gone (`down` works then too): no interfaces. */
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(NlLab) lab = nl_lab_load(labdir, warnings, NULL);
  add_interfaces(b, lab, st->dir);
  add_data(b, labdir);
  add_disks(b, labdir);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *status_down(const char *labdir) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  member_str(b, "lab", labdir);
  json_builder_set_member_name(b, "up");
  json_builder_add_boolean_value(b, FALSE);
  static const char *const empty[] = {"vms", "lans", "interfaces"};
  for (gsize i = 0; i < G_N_ELEMENTS(empty); i++) {
    json_builder_set_member_name(b, empty[i]);
    json_builder_begin_array(b);
    json_builder_end_array(b);
  }
  add_data(b, labdir);
  add_disks(b, labdir);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static const char *str(JsonObject *o, const char *name) {
  return json_object_get_string_member_with_default(o, name, NULL);
}

static void print_disks(JsonArray *disks) {
  if (json_array_get_length(disks))
    printf("\n%-12s %-10s %-10s %s\n", "DISK", "SIZE", "USED", "FILE");
  for (guint i = 0; i < json_array_get_length(disks); i++) {
    JsonObject *d = json_array_get_object_element(disks, i);
    g_autofree char *size = size_text(json_object_get_int_member(d, "size"));
    g_autofree char *used = size_text(json_object_get_int_member(d, "used"));
    printf("%-12s %-10s %-10s %s\n", str(d, "node"), size, used, str(d, "file"));
  }
}

static void print_vm_cut(JsonObject *vm) {
  gint64 cut = json_object_get_int_member_with_default(vm, "console_cut", 0);
  if (cut)
    printf("%31s console log cut: %" G_GINT64_FORMAT " bytes dropped (%s)\n", "", cut,
           str(vm, "console_log"));
}

static void print_vm(JsonObject *vm) {
  gint64 pid = json_object_get_int_member(vm, "pid");
  g_autofree char *ps = pid ? g_strdup_printf("%" G_GINT64_FORMAT, pid) : g_strdup("-");
  const char *state = str(vm, "state");
  const char *host = str(vm, "host");
  if (host) {
    printf("%-12s %-9s %-8s on host %s\n%31s %s\n", str(vm, "name"), state, "-", host, "",
           str(vm, "console"));
    return;
  }
  if (strcmp(state, "stopped") != 0) {
    const char *kernel = str(vm, "kernel");
    printf("%-12s %-9s %-8s %s\n%31s %s\n%31s kernel %s\n", str(vm, "name"), state, ps,
           str(vm, "console"), "", str(vm, "gdb"), "", kernel ? kernel : "?");
    print_vm_cut(vm);
    return;
  }
  printf("%-12s %-9s %-8s %s\n", str(vm, "name"), state, ps, str(vm, "why"));
  print_vm_cut(vm);
  g_auto(GStrv) lines = g_strsplit(str(vm, "console_tail"), "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l) printf("%31s | %s\n", "", *l);
}

static void print_text(JsonObject *s) {
  if (!json_object_get_boolean_member(s, "up")) {
    printf("lab '%s' is not up\ndata %s\n", str(s, "lab"), str(s, "data_dir"));
    print_disks(json_object_get_array_member(s, "disks"));
    return;
  }
  const char *accel = str(s, "accel");
  printf("lab %s\nstate %s (%s)\ndata %s\naccelerator %s\n\n", str(s, "lab"), str(s, "state_dir"),
         str(s, "uri"), str(s, "data_dir"), accel ? accel : "?");
  printf("%-12s %-9s %-8s %s\n", "VM", "STATE", "PID", "CONSOLE / GDB");
  JsonArray *vms = json_object_get_array_member(s, "vms");
  for (guint i = 0; i < json_array_get_length(vms); i++)
    print_vm(json_array_get_object_element(vms, i));
  printf("\n%-12s %-9s %-8s %-7s %s\n", "LAN", "STATE", "PID", "KIND", "SOCKET");
  JsonArray *lans = json_object_get_array_member(s, "lans");
  for (guint i = 0; i < json_array_get_length(lans); i++) {
    JsonObject *l = json_array_get_object_element(lans, i);
    gint64 pid = json_object_get_int_member(l, "pid");
    g_autofree char *ps = pid ? g_strdup_printf("%" G_GINT64_FORMAT, pid) : g_strdup("-");
    printf("%-12s %-9s %-8s %-7s %s\n", str(l, "name"), str(l, "state"), ps, str(l, "kind"),
           str(l, "socket"));
  }
  JsonArray *ifs = json_object_get_array_member(s, "interfaces");
  if (json_array_get_length(ifs))
    printf("\n%-12s %-6s %-12s %-18s %-5s %s\n", "NODE", "IF", "LAN", "MAC", "LINK", "IMPAIRMENT");
  for (guint i = 0; i < json_array_get_length(ifs); i++) {
    JsonObject *f = json_array_get_object_element(ifs, i);
    const char *imp = str(f, "impairment");
    printf("%-12s %-6s %-12s %-18s %-5s %s\n", str(f, "node"), str(f, "interface"), str(f, "lan"),
           str(f, "mac"), str(f, "link"), *imp ? imp : "-");
  }
  print_disks(json_object_get_array_member(s, "disks"));
}

/* The QEMU command line libvirt renders from NODE's domain: the bench's
 * bare-QEMU floor boots exactly what netlab boots. */
static int print_qemu_argv(NlState *st, const char *node, GError **error) {
  if (!nl_state_lock(st, FALSE, error)) return -1;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return -1;
  g_autofree char *domain = nl_domain_name(virt, st->id, node);
  g_autofree char *line = nl_virt_native(virt, domain, error);
  if (!line) return -1;
  puts(g_strchomp(line));
  return 0;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  gboolean json = FALSE;
  g_autofree char *argv_of = NULL;
  const GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON, for scripts", NULL},
      {"qemu-argv", 0, 0, G_OPTION_ARG_STRING, &argv_of,
       "Print the QEMU command line libvirt renders from VM's domain", "VM"},
      {NULL}};
  if (!nl_cmd_parse(g, "show a lab's VMs", entries, &argc, &argv, &t, error)) return -1;
  g_autoptr(NlState) st = nl_state_for(t.labdir, error);
  if (!st) return -1;
  if (argv_of) return print_qemu_argv(st, argv_of, error);
  g_autoptr(JsonNode) status =
      nl_state_exists(st) ? status_up(t.labdir, st, error) : status_down(t.labdir);
  if (!status) return -1;
  if (!json) {
    print_text(json_node_get_object(status));
    return 0;
  }
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, status);
  g_autofree char *text = json_generator_to_data(gen, NULL);
  printf("%s\n", text);
  return 0;
}

const NlCmd nl_cmd_status = {"status", "ps", "show a lab's VMs, switches and sockets",
                             .target = NL_TARGET_LAB, .run = run};
