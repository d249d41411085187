#include "status.h"

#include <string.h>

#include "bootlog.h"
#include "console.h"
#include "disk.h"
#include "ext.h"
#include "domxml.h"
#include "freeze.h"
#include "layout.h"
#include "link.h"
#include "remote.h"
#include "sandbox.h"
#include "util.h"
#include "vde.h"
#include "virt.h"
#include "vmcore.h"

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

/* The vmcores `netlab dump` left in the lab (vmcore.h), oldest first. */
static void add_vmcores(JsonBuilder *b, const char *labdir) {
  g_autoptr(GPtrArray) cores = nl_vmcore_list(labdir);
  json_builder_set_member_name(b, "vmcores");
  json_builder_begin_array(b);
  for (guint i = 0; i < cores->len; i++) {
    NlVmcore *c = cores->pdata[i];
    json_builder_begin_object(b);
    member_str(b, "node", c->node);
    member_int(b, "size", c->bytes);
    member_str(b, "file", c->path);
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
  /* Paused by `netlab freeze` (or by gdb's freeze of the rest of the
   * lab): "frozen"; paused otherwise (a gdb stub holding it): "paused". */
  gboolean frozen = dom && strcmp(dom->state, "paused") == 0 && nl_frozen(st, node);
  json_builder_begin_object(b);
  member_str(b, "name", node);
  member_str(b, "domain", domain);
  member_str(b, "state", frozen ? "frozen" : dom ? dom->state : "stopped");
  json_builder_set_member_name(b, "frozen");
  json_builder_add_boolean_value(b, frozen);
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
  g_autofree char *vmcore = nl_vmcore_of(st, node);
  member_str(b, "vmcore", vmcore);
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
    /* lab.ext: the host interfaces it is joined to. */
    g_autofree char *ext_key = g_strconcat(NL_EXT_KEY, *lan, NULL);
    g_autofree char *ext = nl_state_get(st, ext_key);
    g_auto(GStrv) ifs = g_strsplit(ext ? g_strstrip(ext) : "", "\n", -1);
    json_builder_set_member_name(b, "external");
    json_builder_begin_array(b);
    for (char **i = ifs; *i && **i; i++) json_builder_add_string_value(b, *i);
    json_builder_end_array(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

/* The status of a lab that is up: VMs, LANs, interfaces, disks. */
static JsonNode *status_up(const char *labdir, NlState *st, const NlProgress *say, GError **error) {
  /* The embedded driver lets one process at a time hold its root. */
  if (!nl_state_lock(st, FALSE, error)) return NULL;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autofree char *accel = nl_state_get(st, "accel");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return NULL;
  g_autofree char *prefix = nl_domain_name(virt, st->id, "");
  g_autoptr(GPtrArray) doms = nl_virt_list(virt, prefix, error);
  if (!doms) return NULL;
  /* Kernels that panicked: their vmcores first, then they are stopped. */
  if (nl_vmcore_on_panic(st) && nl_vmcore_collect(labdir, st, virt, doms, prefix, say)) {
    g_ptr_array_unref(doms);
    doms = nl_virt_list(virt, prefix, error);
    if (!doms) return NULL;
  }

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
  add_vmcores(b, labdir);
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
  add_vmcores(b, labdir);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

JsonNode *nl_status(const char *labdir, NlState *st, const NlProgress *say, GError **error) {
  return nl_state_exists(st) ? status_up(labdir, st, say, error) : status_down(labdir);
}

char *nl_status_qemu_argv(NlState *st, const char *node, GError **error) {
  if (!nl_state_lock(st, FALSE, error)) return NULL;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return NULL;
  g_autofree char *domain = nl_domain_name(virt, st->id, node);
  char *line = nl_virt_native(virt, domain, error);
  return line ? g_strchomp(line) : NULL;
}
