#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "kbuild.h"
#include "kernel.h"
#include "needs.h"
#include "disk.h"
#include "events.h"
#include "state.h"
#include "util.h"

/* nl_synopses: every command's synopsis, generated from the manual page
 * (doc/synopsis.py), so that --help and netlab(1) cannot disagree. */
#include "synopsis.h"

void nl_target_clear(NlTarget *t) {
  g_free(t->labdir);
  g_free(t->words);
  g_clear_pointer(&t->lab, nl_lab_free);
  g_clear_pointer(&t->st, nl_state_free);
  g_clear_pointer(&t->vm, nl_vm_free);
}

static gboolean usage_error(const NlGlobal *g, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static gboolean usage_error(const NlGlobal *g, GError **error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, NL_ERROR, g->cmd->usage_code ? g->cmd->usage_code : NL_ERROR_INPUT, "%s: %s",
              g->cmd->name, msg);
  return FALSE;
}

/* The lab directory as given, made absolute. One that is gone is found
 * from its path as given while its lab is up. */
static char *lab_path(const char *given, gboolean may_be_gone, GError **error) {
  g_autoptr(GError) missing = NULL;
  char *abs = nl_realpath(given, &missing);
  if (abs) return abs;
  g_autofree char *canon = g_canonicalize_filename(given, NULL);
  g_autoptr(NlState) gone = may_be_gone ? nl_state_for(canon, NULL) : NULL;
  if (gone && nl_state_exists(gone)) return g_steal_pointer(&canon);
  g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, missing->message);
  return NULL;
}

/* The running lab in LABDIR: its model, read without repeating the
 * warnings `up` gave, and its state. */
static gboolean running_lab(NlTarget *t, GError **error) {
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  t->lab = nl_lab_load(t->labdir, warnings, error);
  if (!t->lab) return FALSE;
  t->st = nl_state_for(t->labdir, error);
  if (!t->st) return FALSE;
  if (nl_state_exists(t->st)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", t->labdir);
  return FALSE;
}

static gboolean find_target(const NlGlobal *g, const char *dir, int *argc, char **argv, NlTarget *t,
                            GError **error) {
  const NlCmd *c = g->cmd;
  if (c->target == NL_TARGET_NONE) return TRUE;
  if (c->target == NL_TARGET_LAB && c->nodes_follow) {
    /* LABDIR NODE..., or -d LABDIR NODE...: the nodes stay in ARGV. */
    if (!dir && *argc > 1) {
      dir = argv[1];
      memmove(argv + 1, argv + 2, (*argc - 1) * sizeof *argv);
      --*argc;
    }
    t->labdir = lab_path(dir ? dir : ".", TRUE, error);
    return t->labdir != NULL;
  }
  if (c->target == NL_TARGET_LAB) {
    if (dir && *argc > 1)
      return usage_error(g, error,
                         "give the lab directory either with -d or as an argument, "
                         "not both");
    if (*argc > 2) return usage_error(g, error, "unexpected argument '%s'", argv[2]);
    if (*argc == 2) dir = argv[--*argc];
    t->labdir = lab_path(dir ? dir : ".", TRUE, error);
    return t->labdir != NULL;
  }
  if (!dir) dir = g_getenv("NETLAB_LAB");
  t->labdir = lab_path(dir && *dir ? dir : ".", FALSE, error);
  if (!t->labdir) return FALSE;
  if (c->target == NL_TARGET_UP) return running_lab(t, error);
  if (c->target != NL_TARGET_VM) return TRUE;
  int v = *argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
  if (*argc <= v) return usage_error(g, error, "which VM?");
  t->vm = nl_vm_find(t->labdir, argv[v], error);
  return t->vm != NULL;
}

/* With .dashes, the parse sees the words before the first "--" only. */
static void split_dashes(int *argc, char ***argv, NlTarget *t) {
  int ours = *argc;
  for (int i = 1; i < *argc; i++)
    if (strcmp((*argv)[i], "--") == 0) {
      ours = i;
      break;
    }
  t->rest = *argv + MIN(ours + 1, *argc);
  t->words = g_new0(char *, ours + 1);
  memcpy(t->words, *argv, ours * sizeof *t->words);
  *argc = ours;
  *argv = t->words;
}

int nl_cmd_help(const NlGlobal *g, const char *options) {
  const char *lead = "usage: ";
  for (gsize i = 0; i < G_N_ELEMENTS(nl_synopses); i++) {
    if (!g_str_equal(nl_synopses[i].command, g->cmd->name)) continue;
    printf("%s%s\n", lead, nl_synopses[i].synopsis);
    lead = "       ";
  }
  if (*lead == 'u') printf("usage: netlab %s (not in the manual page)\n", g->cmd->name);
  printf("\n%s.\n", g->cmd->summary);
  if (options && *options) printf("\noptions:\n%s\n", options);
  printf("\nThe manual page netlab(1) has the details.\n");
  return 0;
}

/* GOption's help less its own usage line: the options, one a line. */
static char *option_lines(GOptionContext *ctx) {
  g_autofree char *all = g_option_context_get_help(ctx, TRUE, NULL);
  const char *heading = strstr(all, "Options:\n");
  char *lines = g_strdup(heading ? heading + strlen("Options:\n") : "");
  g_strchomp(lines);
  return lines;
}

gboolean nl_cmd_parse(const NlGlobal *g, const char *args, const GOptionEntry *entries, int *argc,
                      char ***argv, NlTarget *t, GError **error) {
  if (g->cmd->dashes) split_dashes(argc, argv, t);
  g_autofree char *dir = NULL;
  gboolean help = FALSE;
  const GOptionEntry dir_entry[] = {
      {"dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir, "Lab directory", "LABDIR"}, {NULL}};
  const GOptionEntry help_entry[] = {
      {"help", 'h', 0, G_OPTION_ARG_NONE, &help, "Show this help", NULL}, {NULL}};
  g_autofree char *param = g_strdup_printf("%s - %s", g->cmd->name, args);
  g_autoptr(GOptionContext) ctx = g_option_context_new(param);
  /* Our --help: the manual page's synopsis, then the options. */
  g_option_context_set_help_enabled(ctx, FALSE);
  if (g->cmd->target != NL_TARGET_NONE) g_option_context_add_main_entries(ctx, dir_entry, NULL);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_add_main_entries(ctx, help_entry, NULL);
  g_option_context_set_strict_posix(ctx, g->cmd->options_first);
  g_autoptr(GError) local = NULL;
  if (!g_option_context_parse(ctx, argc, argv, &local))
    return usage_error(g, error, "%s", local->message);
  if (help) {
    g_autofree char *options = option_lines(ctx);
    nl_cmd_help(g, options);
    /* Nothing is held yet: the command has not started. */
    fflush(stdout);
    exit(0);
  }
  g_autoptr(GError) lost = NULL;
  if (find_target(g, dir, argc, *argv, t, &lost)) return TRUE;
  /* exec's failures are its own. */
  if (g->cmd->usage_code && lost->code != g->cmd->usage_code)
    g_set_error_literal(error, NL_ERROR, g->cmd->usage_code, lost->message);
  else
    g_propagate_error(error, g_steal_pointer(&lost));
  return FALSE;
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

/* The configuration of the kernel NODE boots, as `up` chooses it: its
 * build tree's .config, or the distro's /boot/config-VERSION; NULL when
 * there is none to read. KERNEL gets the kernel's name. */
static char *kernel_config(const NlLab *lab, const NlNode *n, char **kernel) {
  g_autofree char *built = n->kernel || lab->kernel ? NULL : nl_kbuild_default_vmlinux();
  const char *path = n->kernel ? n->kernel : lab->kernel ? lab->kernel : built;
  g_autoptr(NlKernel) k = nl_kernel_find(path, NULL);
  if (!k) return NULL;
  g_autofree char *dir = g_path_get_dirname(k->path);
  g_autofree char *config = k->distro ? g_strconcat("/boot/config-", k->version, NULL)
                                      : g_build_filename(dir, ".config", NULL);
  char *text = NULL;
  gsize len;
  if (!nl_read_file_max(config, 16 * 1024 * 1024, &text, &len, NULL)) return NULL;
  *kernel = g_strdup(k->version ? k->version : k->path);
  return text;
}

void nl_cmd_print_needs(const NlLab *lab, FILE *to, const char *prefix) {
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    g_autoptr(GPtrArray) missing = nl_needs_missing(lab, n, "/");
    for (guint k = 0; k < missing->len; k++) {
      const NlNeed *m = missing->pdata[k];
      g_autofree char *pkg =
          !m->package ? g_strdup("no Debian package known")
          : g_str_has_prefix(m->package, "kathara/")
              ? g_strdup_printf("not in Debian 12; Kathará's image %s has it", m->package)
              : g_strdup_printf("Debian package %s", m->package);
      fprintf(to, "%s%s:%u: %s: '%s' is not on the host's root, which %s boots (%s)\n", prefix,
              m->file, m->line, n->name, m->what, n->name, pkg);
    }
    g_autofree char *kernel = NULL;
    g_autofree char *config = kernel_config(lab, n, &kernel);
    g_autoptr(GPtrArray) lacks = config ? nl_needs_kernel_lacks(lab, n, config) : NULL;
    for (guint k = 0; lacks && k < lacks->len; k++) {
      const NlNeed *m = lacks->pdata[k];
      fprintf(to, "%s%s:%u: %s: %s needs %s, which kernel %s lacks\n", prefix, m->file, m->line,
              n->name, m->why, m->what, kernel);
    }
  }
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

/* On a terminal, a line per VM, redrawn in place; else a log, one line per
 * VM that is ready or failed. */
static void vm_event(const NlCmdVmDisplay *d, const NlVmStatus *vm) {
  static const char *const states[] = {
      [NL_VM_BOOTING] = "booting", [NL_VM_READY] = "ready", [NL_VM_FAILED] = "stopped"};
  if (!d->statedir || vm->phase == NL_VM_WAITING) return;
  g_autofree char *secs = vm->phase == NL_VM_READY ? g_strdup_printf("%.1f", vm->secs) : NULL;
  nl_event_emit(d->statedir, d->labdir, "node", "node", vm->name, "state", states[vm->phase], "why",
                vm->phase == NL_VM_FAILED ? "failed to boot" : NULL, "secs", secs, NULL);
}

void nl_cmd_show_vms(const NlVmStatus *vms, guint n, int changed, gpointer data) {
  NlCmdVmDisplay *d = data;
  if (changed >= 0) vm_event(d, &vms[changed]);
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
