#include "layout.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>

void nl_layout_vm(NlVmPaths *p, const char *statedir, const char *labdir, const char *node) {
  p->dir = g_build_filename(statedir, "vm", node, NULL);
  p->conf = g_build_filename(statedir, "conf", node, NULL);
  p->locks = g_build_filename(statedir, "locks", node, NULL);
  g_autofree char *fifo = g_strconcat(node, ".fifo", NULL);
  p->fifo = g_build_filename(statedir, "console", fifo, NULL);
  p->console = g_build_filename(p->dir, "console.sock", NULL);
  p->console_lock = g_build_filename(p->locks, "console.lock", NULL);
  p->ctl = g_build_filename(p->dir, "ctl.sock", NULL);
  p->gdb = g_build_filename(p->dir, "gdb.sock", NULL);
  p->serial1 = g_build_filename(p->dir, "serial1.sock", NULL);
  p->qmp = g_build_filename(p->dir, "events.sock", NULL);
  p->log = labdir ? nl_layout_console_log(labdir, node) : NULL;
}

void nl_layout_vm_clear(NlVmPaths *p) {
  g_free(p->dir);
  g_free(p->conf);
  g_free(p->locks);
  g_free(p->fifo);
  g_free(p->console);
  g_free(p->console_lock);
  g_free(p->ctl);
  g_free(p->gdb);
  g_free(p->serial1);
  g_free(p->qmp);
  g_free(p->log);
  *p = (NlVmPaths){0};
}

char *nl_layout_agent_sock(const NlVmPaths *p, int port) {
  return g_strdup_printf("%s/agent-%d.sock", p->dir, port);
}

char *nl_layout_agent_lock(const NlVmPaths *p, int port) {
  return g_strdup_printf("%s/agent-%d.lock", p->locks, port);
}

char *nl_layout_key(const char *statedir, const char *key) {
  return g_build_filename(statedir, key, NULL);
}

char *nl_layout_events(const char *statedir, const char *suffix) {
  g_autofree char *name = strcmp(suffix, ".lock") == 0 ? g_strdup("events.lock")
                                                       : g_strconcat("events.log", suffix, NULL);
  return g_build_filename(statedir, name, NULL);
}

char *nl_layout_vms(const char *statedir) { return g_build_filename(statedir, "vm", NULL); }

char *nl_layout_locks(const char *statedir) { return g_build_filename(statedir, "locks", NULL); }

char *nl_layout_fifos(const char *statedir) { return g_build_filename(statedir, "console", NULL); }

char *nl_layout_lans(const char *statedir) { return g_build_filename(statedir, "lan", NULL); }

char *nl_layout_lan(const char *statedir, const char *lan) {
  return g_build_filename(statedir, "lan", lan, NULL);
}

char *nl_layout_ext(const char *statedir) { return g_build_filename(statedir, "ext", NULL); }

char *nl_layout_wires(const char *statedir) { return g_build_filename(statedir, "wire", NULL); }

char *nl_layout_wire(const char *statedir, const char *lan, const char *suffix) {
  g_autofree char *name = g_strconcat(lan, suffix, NULL);
  return g_build_filename(statedir, "wire", name, NULL);
}

char *nl_layout_wire_end(const char *statedir, const char *lan, int end) {
  return nl_layout_wire(statedir, lan, end ? ".1" : ".0");
}

char *nl_layout_lan_mgmt(const char *statedir, const char *lan) {
  g_autofree char *name = g_strconcat(lan, ".mgmt", NULL);
  return g_build_filename(statedir, "lan", name, NULL);
}

char *nl_layout_nics(const char *statedir) { return g_build_filename(statedir, "nic", NULL); }

/* STATEDIR/DIR/NODE.INDEX+SUFFIX: a file per NIC. */
static char *per_nic(const char *statedir, const char *dir, const char *node, guint index,
                     const char *suffix) {
  g_autofree char *name = g_strdup_printf("%s.%u%s", node, index, suffix);
  return g_build_filename(statedir, dir, name, NULL);
}

char *nl_layout_nic(const char *statedir, const char *node, guint index, const char *suffix) {
  return per_nic(statedir, "nic", node, index, suffix);
}

char *nl_layout_uplink(const char *statedir, const char *node) {
  g_autofree char *name = g_strconcat(node, ".up", NULL);
  return g_build_filename(statedir, "nic", name, NULL);
}

char *nl_layout_links(const char *statedir) { return g_build_filename(statedir, "link", NULL); }

char *nl_layout_link(const char *statedir, const char *node, guint index, const char *suffix) {
  return per_nic(statedir, "link", node, index, suffix);
}

char *nl_layout_mnt(const char *statedir) { return g_build_filename(statedir, "mnt", NULL); }

char *nl_layout_capture(const char *statedir, const char *lan) {
  g_autofree char *name = g_strdup_printf("capture-%s.pcap", lan);
  return g_build_filename(statedir, name, NULL);
}

char *nl_layout_capture_fifo(const char *statedir, const char *lan, int pid) {
  g_autofree char *name = g_strdup_printf("capture-%s.%d.fifo", lan, pid);
  return g_build_filename(statedir, name, NULL);
}

char *nl_layout_libvirt_conf(const char *statedir) {
  return g_build_filename(statedir, "etc", "qemu.conf", NULL);
}

char *nl_layout_libvirt_caps(const char *statedir) {
  return g_build_filename(statedir, "cache", "qemu", "capabilities", NULL);
}

char *nl_layout_qemu_run(const char *statedir) {
  return g_build_filename(statedir, "run", "qemu", NULL);
}

char *nl_layout_qemu_pidfile(const char *statedir, const char *domain) {
  g_autofree char *file = g_strconcat(domain, ".pid", NULL);
  return g_build_filename(statedir, "run", "qemu", file, NULL);
}

char *nl_layout_qemu_log(const char *statedir, const char *domain) {
  g_autofree char *file = g_strconcat(domain, ".log", NULL);
  return g_build_filename(statedir, "log", "qemu", file, NULL);
}

char *nl_layout_logs(const char *statedir) { return g_build_filename(statedir, "log", NULL); }

char *nl_layout_libvirt_log(const char *statedir) {
  return g_build_filename(statedir, "log", "libvirt.log", NULL);
}

char *nl_layout_lab_id(const char *labdir) {
  g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, labdir, -1);
  g_autofree char *bn = g_path_get_basename(labdir);
  /* Only a short, tame part of the name: it is for people reading `ls`, and
   * socket paths must stay under 108 bytes. */
  GString *id = g_string_new(NULL);
  for (const char *c = bn; *c && id->len < 16; c++)
    g_string_append_c(id, g_ascii_isalnum(*c) || *c == '_' || *c == '-' ? *c : '_');
  g_string_append_printf(id, "-%.8s", hash);
  return g_string_free(id, FALSE);
}

char *nl_layout_data_base(void) {
  if (geteuid() == 0) return g_strdup("/var/lib/netlab");
  /* Not $HOME: `su`, sudo and cron hand on whatever HOME they were given,
   * and the same lab must be found whatever the environment. */
  struct passwd *pw = getpwuid(geteuid());
  const char *home = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/nonexistent";
  return g_build_filename(home, ".local", "share", "netlab", NULL);
}

char *nl_layout_runtime_record(void) {
  g_autofree char *base = nl_layout_data_base();
  return g_build_filename(base, "runtime", NULL);
}

char *nl_layout_data(const char *labdir) {
  g_autofree char *base = nl_layout_data_base();
  g_autofree char *id = nl_layout_lab_id(labdir);
  return g_build_filename(base, id, NULL);
}

/* DATA/NAME... */
static char *in_data(const char *labdir, const char *a, const char *b) {
  g_autofree char *data = nl_layout_data(labdir);
  return g_build_filename(data, a, b, NULL);
}

char *nl_layout_state_record(const char *labdir) { return in_data(labdir, "state", NULL); }

char *nl_layout_console_logs(const char *labdir) { return in_data(labdir, "logs", NULL); }

char *nl_layout_console_log(const char *labdir, const char *node) {
  g_autofree char *name = g_strconcat(node, ".console.log", NULL);
  return in_data(labdir, "logs", name);
}

char *nl_layout_console_part(const char *log, int part) {
  return g_strdup_printf("%s.%d", log, part);
}

char *nl_layout_console_cut(const char *log) { return g_strconcat(log, ".cut", NULL); }

char *nl_layout_disks(const char *labdir) { return in_data(labdir, "disks", NULL); }

char *nl_layout_disk(const char *labdir, const char *node, const char *suffix) {
  g_autofree char *name = g_strconcat(node, suffix, NULL);
  return in_data(labdir, "disks", name);
}

char *nl_layout_artifacts(const char *labdir, const char *stamp) {
  return in_data(labdir, "artifacts", stamp);
}

char *nl_layout_old_data(const char *labdir) {
  return g_build_filename(labdir, NL_LAYOUT_OLD_DATA, NULL);
}

char *nl_layout_vmcores(const char *labdir) { return in_data(labdir, "vmcores", NULL); }
