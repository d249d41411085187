/* The subcommands: one file each, found through the table in main.c. */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "vm.h"
#include "lab.h"
#include "state.h"
#include "util.h"

/* Where a command's lab and VM come from: declared in its table entry,
 * resolved by nl_cmd_parse() before the command does anything else. -d
 * (--dir) LABDIR means the same in every command that has a lab. */
typedef enum {
  NL_TARGET_NONE,
  /* -d LABDIR, else the one positional argument, else the current
   * directory. A directory that is gone is still found while its lab is
   * up (`down` of a test's removed copy). */
  NL_TARGET_LAB,
  /* -d LABDIR, else $NETLAB_LAB (set by `netlab test` for a lab's tests),
   * else the current directory: the positional arguments are the
   * command's own (NODE:PATH...). */
  NL_TARGET_DIR,
  /* As DIR, and the lab must be up: its model and state are read. */
  NL_TARGET_UP,
  /* As DIR, and the first positional argument is a VM of the lab, which
   * must be up. */
  NL_TARGET_VM,
} NlTargetKind;

typedef struct {
  char *labdir; /* absolute: every kind but NONE */
  NlLab *lab;   /* UP */
  NlState *st;  /* UP */
  NlVm *vm;     /* VM */
  char **rest;  /* with .dashes: the words after "--" (maybe none) */
  char **words; /* with .dashes: the copy of the words before it */
} NlTarget;

void nl_target_clear(NlTarget *t);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NlTarget, nl_target_clear)

typedef struct NlCmd NlCmd;

typedef struct {
  const char *uri;  /* --connect / NETLAB_CONNECT; NULL: embedded */
  const NlCmd *cmd; /* the command that runs */
} NlGlobal;

struct NlCmd {
  const char *name;
  const char *alias;
  const char *summary;
  NlTargetKind target;
  /* The error code of a usage error or a target not found: 0 for
   * NL_ERROR_INPUT (exit 2); exec's own failures are NL_ERROR_EXEC. */
  int usage_code;
  /* Options end at the first positional argument (the VM): what follows
   * is a command line of its own. */
  gboolean options_first;
  /* What follows "--" is another program's (gdb's, the monitor's), options
   * included: it is left out of the parse, in the target's REST. */
  gboolean dashes;
  /* LAB: node names may follow the positional LABDIR (up's). */
  gboolean nodes_follow;
  /* ARGV[0] is the command's name. Returns the exit status, or -1 with
   * ERROR set (main prints it and picks 1 or 2 from its code). */
  int (*run)(int argc, char **argv, const NlGlobal *g, GError **error);
};

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
extern const NlCmd nl_cmd_freeze;
extern const NlCmd nl_cmd_thaw;
extern const NlCmd nl_cmd_dump;
extern const NlCmd nl_cmd_events;
extern const NlCmd nl_cmd_web;
extern const NlCmd nl_cmd_image;

/* How every command shows what modules tell (util.h's NlProgress): on
 * stderr, a notice as "netlab: ...", a warning as "netlab: warning: ...". */
extern const NlProgress nl_cmd_say;

/* Reads the lab in LABDIR, printing its warnings to stderr. */
NlLab *nl_cmd_load_lab(const char *labdir, GError **error);
/* What LAB's startup and shutdown scripts call that the host's root lacks,
 * a line each, "PREFIXFILE:LINE: NODE: ..." with its Debian package. */
void nl_cmd_print_needs(const NlLab *lab, FILE *to, const char *prefix);

/* Parses ARGV with ENTRIES, and -d/--dir LABDIR when G's command has a
 * lab, with ARGS describing the positional arguments in --help; then finds
 * the command's target into *T. A LAB target's positional LABDIR is taken
 * out of ARGV. */
gboolean nl_cmd_parse(const NlGlobal *g, const char *args, const GOptionEntry *entries, int *argc,
                      char ***argv, NlTarget *t, GError **error);

/* Prints G's command's synopsis (from the manual page), its summary and
 * OPTIONS (GOption's lines, or NULL) on stdout, as --help does; returns 0. */
int nl_cmd_help(const NlGlobal *g, const char *options);

/* Removes the disks of NODES (NULL or empty: every disk of the lab),
 * saying which; the lab must not be up. */
int nl_cmd_wipe_disks(const char *labdir, char **nodes, GError **error);

/* How up and restart show their VMs (run.h's NlUpProgress.vms, DATA an
 * NlCmdVmDisplay): on a terminal a line per VM, redrawn in place; else a
 * log, one line per VM that is ready or failed. */
#include "run.h"
typedef struct {
  gboolean tty;
  guint drawn; /* lines of progress on the terminal */
  /* Where each VM's booting, ready or failure goes as an event (events.h). */
  const char *statedir, *labdir;
} NlCmdVmDisplay;
void nl_cmd_show_vms(const NlVmStatus *vms, guint n, int changed, gpointer data);
