/* netlab status (ps): what runs of a lab, with the sockets to reach it. The
 * status is gathered once, as JSON (json-glib), and printed as it is with
 * --json or as tables. */
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "state.h"
#include "status.h"
#include "util.h"

/* g_format_size() puts a no-break space before the unit, which breaks
 * columns and greps. */
static char *size_text(guint64 bytes) {
  if (bytes >= (1ull << 30)) return g_strdup_printf("%.1f GiB", bytes / (double)(1ull << 30));
  return g_strdup_printf("%.1f MiB", bytes / (double)(1ull << 20));
}

static const char *str(JsonObject *o, const char *name) {
  return json_object_get_string_member_with_default(o, name, NULL);
}

static void print_vmcores(JsonArray *cores) {
  if (json_array_get_length(cores)) printf("\n%-12s %-10s %s\n", "VMCORE", "SIZE", "FILE");
  for (guint i = 0; i < json_array_get_length(cores); i++) {
    JsonObject *c = json_array_get_object_element(cores, i);
    g_autofree char *size = size_text(json_object_get_int_member(c, "size"));
    printf("%-12s %-10s %s\n", str(c, "node"), size, str(c, "file"));
  }
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
  if (str(vm, "vmcore")) printf("%31s vmcore %s\n", "", str(vm, "vmcore"));
  print_vm_cut(vm);
  g_auto(GStrv) lines = g_strsplit(str(vm, "console_tail"), "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l) printf("%31s | %s\n", "", *l);
}

static void print_text(JsonObject *s) {
  if (!json_object_get_boolean_member(s, "up")) {
    printf("lab '%s' is not up\ndata %s\n", str(s, "lab"), str(s, "data_dir"));
    print_disks(json_object_get_array_member(s, "disks"));
    print_vmcores(json_object_get_array_member(s, "vmcores"));
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
    JsonArray *ext =
        json_object_has_member(l, "external") ? json_object_get_array_member(l, "external") : NULL;
    for (guint k = 0; ext && k < json_array_get_length(ext); k++)
      printf("%-12s joined to the host's %s (lab.ext)\n", "",
             json_array_get_string_element(ext, k));
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
  print_vmcores(json_object_get_array_member(s, "vmcores"));
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
  if (argv_of) {
    g_autofree char *line = nl_status_qemu_argv(st, argv_of, error);
    if (!line) return -1;
    puts(line);
    return 0;
  }
  g_autoptr(JsonNode) status = nl_status(t.labdir, st, &nl_cmd_say, error);
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
