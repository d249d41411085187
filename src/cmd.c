#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "disk.h"
#include "state.h"
#include "util.h"

gboolean nl_cmd_parse(const char *name, const char *args, const GOptionEntry *entries, int *argc,
                      char ***argv, GError **error) {
  g_autofree char *param = g_strdup_printf("%s - %s", name, args);
  g_autoptr(GOptionContext) ctx = g_option_context_new(param);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) local = NULL;
  if (!g_option_context_parse(ctx, argc, argv, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s: %s", name, local->message);
    return FALSE;
  }
  return TRUE;
}

const char *nl_cmd_labdir_arg(const char *d_opt, int argc, char **argv, GError **error) {
  if (d_opt && argc > 1) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "give the lab directory either with -d or as an argument, not both");
    return NULL;
  }
  if (argc > 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "unexpected argument '%s'", argv[2]);
    return NULL;
  }
  return d_opt ? d_opt : argc > 1 ? argv[1] : ".";
}

char *nl_cmd_labdir(const char *d_opt, int argc, char **argv, GError **error) {
  const char *dir = nl_cmd_labdir_arg(d_opt, argc, argv, error);
  if (!dir) return NULL;
  g_autoptr(GError) local = NULL;
  char *abs = nl_realpath(dir, &local);
  if (!abs) g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s", local->message);
  return abs;
}

char *nl_cmd_vm_labdir(const char *dir_opt, GError **error) {
  const char *dir = dir_opt ? dir_opt : g_getenv("NETLAB_LAB");
  g_autoptr(GError) local = NULL;
  char *abs = nl_realpath(dir && *dir ? dir : ".", &local);
  if (!abs) g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s", local->message);
  return abs;
}

static void say(NlSayLevel level, const char *message, gpointer data) {
  static const char *const prefix[] = {
      [NL_SAY_PROGRESS] = "", [NL_SAY_NOTICE] = "netlab: ", [NL_SAY_WARNING] = "netlab: warning: "};
  fprintf(stderr, "%s%s\n", prefix[level], message);
}

const NlProgress nl_cmd_say = {say, NULL};

NlLab *nl_cmd_load_lab(const char *labdir, GError **error) {
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  NlLab *lab = nl_lab_load(labdir, warnings, error);
  for (guint i = 0; i < warnings->len; i++)
    fprintf(stderr, "netlab: warning: %s\n", (char *)warnings->pdata[i]);
  return lab;
}

int nl_cmd_wipe_disks(const char *labdir, char **nodes, GError **error) {
  g_autoptr(GPtrArray) disks = nl_disk_list(labdir);
  if (nodes && *nodes) {
    for (char **n = nodes; *n; n++) {
      g_autofree char *path = nl_disk_path(labdir, *n);
      if (!nl_disk_remove(labdir, *n, error)) {
        if (error && *error) return -1;
        g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' has no disk (no %s)", *n, path);
        return -1;
      }
      fprintf(stderr, "removed the disk of '%s' (%s)\n", *n, path);
    }
    return 0;
  }
  for (guint i = 0; i < disks->len; i++) {
    NlDiskInfo *d = disks->pdata[i];
    if (!nl_disk_remove(labdir, d->node, error) && error && *error) return -1;
    fprintf(stderr, "removed the disk of '%s' (%s)\n", d->node, d->path);
  }
  if (disks->len == 0) fprintf(stderr, "netlab: lab '%s' has no disks\n", labdir);
  return 0;
}

NlLab *nl_cmd_running_lab(const char *dir_opt, NlState **st, GError **error) {
  g_autofree char *labdir = nl_cmd_vm_labdir(dir_opt, error);
  if (!labdir) return NULL;
  /* `up` said the lab's warnings already. */
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(NlLab) lab = nl_lab_load(labdir, warnings, error);
  if (!lab) return NULL;
  g_autoptr(NlState) s = nl_state_for(labdir, error);
  if (!s) return NULL;
  if (!nl_state_exists(s)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", labdir);
    return NULL;
  }
  *st = g_steal_pointer(&s);
  return g_steal_pointer(&lab);
}

/* On a terminal, a line per VM, redrawn in place; else a log, one line per
 * VM that is ready or failed. */
void nl_cmd_show_vms(const NlVmStatus *vms, guint n, int changed, gpointer data) {
  NlCmdVmDisplay *d = data;
  if (!d->tty) {
    if (changed < 0) return;
    const NlVmStatus *vm = &vms[changed];
    if (vm->phase == NL_VM_READY)
      fprintf(stderr, "%s: ready in %.1f s%s\n", vm->name, vm->secs,
              vm->startup_rc ? " (a startup command failed)" : "");
    else if (vm->phase == NL_VM_FAILED)
      fprintf(stderr, "%s: failed\n", vm->name);
    return;
  }
  if (d->drawn) fprintf(stderr, "\033[%uA", d->drawn);
  for (guint i = 0; i < n; i++) {
    fprintf(stderr, "\033[2K%-16s ", vms[i].name);
    switch (vms[i].phase) {
      case NL_VM_WAITING: fprintf(stderr, "waiting for its dependencies\n"); break;
      case NL_VM_BOOTING: fprintf(stderr, "booting (%.0f s)\n", vms[i].secs); break;
      case NL_VM_READY:
        fprintf(stderr, "ready in %.1f s%s\n", vms[i].secs,
                vms[i].startup_rc ? " (a startup command failed)" : "");
        break;
      case NL_VM_FAILED: fprintf(stderr, "failed\n"); break;
    }
  }
  d->drawn = n;
}
