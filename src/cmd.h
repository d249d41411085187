/* The subcommands: one file each, found through the table in main.c. */
#pragma once

#include <glib.h>

typedef struct {
  const char *uri; /* --connect / NETLAB_CONNECT; NULL: embedded */
} NlGlobal;

typedef struct {
  const char *name;
  const char *alias;
  const char *summary;
  /* ARGV[0] is the command's name. Returns the exit status, or -1 with
   * ERROR set (main prints it and picks 1 or 2 from its code). */
  int (*run)(int argc, char **argv, const NlGlobal *g, GError **error);
} NlCmd;

extern const NlCmd nl_cmd_up;
extern const NlCmd nl_cmd_down;
extern const NlCmd nl_cmd_status;
extern const NlCmd nl_cmd_exec;
extern const NlCmd nl_cmd_test;
extern const NlCmd nl_cmd_console;
extern const NlCmd nl_cmd_gdb;
extern const NlCmd nl_cmd_monitor;
extern const NlCmd nl_cmd_tmux;
extern const NlCmd nl_cmd_kernel;
extern const NlCmd nl_cmd_wipe;
extern const NlCmd nl_cmd_cp;
extern const NlCmd nl_cmd_cat;
extern const NlCmd nl_cmd_diff;
extern const NlCmd nl_cmd_save;
extern const NlCmd nl_cmd_capture;
extern const NlCmd nl_cmd_link;
extern const NlCmd nl_cmd_graph;
extern const NlCmd nl_cmd_ls;
extern const NlCmd nl_cmd_check;
extern const NlCmd nl_cmd_restart;

/* The lab directory as every command finds it: -d DIR, else the first
 * positional argument, else the current directory; made absolute. */
/* The lab directory as given: -d, the one argument, or "."; NULL with a
 * usage error when both or more are given. */
const char *nl_cmd_labdir_arg(const char *d_opt, int argc, char **argv, GError **error);

char *nl_cmd_labdir(const char *d_opt, int argc, char **argv, GError **error);

/* The lab of a command whose positional argument is a VM: -d/--dir DIR,
 * else $NETLAB_LAB (set by `netlab test` for a lab's tests), else the
 * current directory; made absolute. */
char *nl_cmd_vm_labdir(const char *dir_opt, GError **error);

/* How every command shows what modules tell (util.h's NlProgress): on
 * stderr, a notice as "netlab: ...", a warning as "netlab: warning: ...". */
#include "util.h"
extern const NlProgress nl_cmd_say;

/* Reads the lab in LABDIR, printing its warnings to stderr. */
#include "lab.h"
NlLab *nl_cmd_load_lab(const char *labdir, GError **error);

/* Parses ARGV with ENTRIES for command NAME, with ARGS describing the
 * positional arguments in --help. */
gboolean nl_cmd_parse(const char *name, const char *args, const GOptionEntry *entries, int *argc,
                      char ***argv, GError **error);

/* Removes the disks of NODES (NULL or empty: every disk of the lab),
 * saying which; the lab must not be up. */
int nl_cmd_wipe_disks(const char *labdir, char **nodes, GError **error);
/* The running lab of a command whose target is in the lab (a LAN, an
 * interface): found as nl_cmd_vm_labdir() does, read without repeating its
 * warnings, and its state in *ST; an error when it is not up. */
#include "state.h"
NlLab *nl_cmd_running_lab(const char *dir_opt, NlState **st, GError **error);

/* How up and restart show their VMs (run.h's NlUpProgress.vms, DATA an
 * NlCmdVmDisplay): on a terminal a line per VM, redrawn in place; else a
 * log, one line per VM that is ready or failed. */
#include "run.h"
typedef struct {
  gboolean tty;
  guint drawn; /* lines of progress on the terminal */
} NlCmdVmDisplay;
void nl_cmd_show_vms(const NlVmStatus *vms, guint n, int changed, gpointer data);
