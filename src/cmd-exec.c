/* netlab exec: run a command as root in a VM, through its guest agent, with
 * stdin, stdout, stderr, signals and the exit status carried across. Unlike
 * the other commands, -d is docker's --detach: the lab is --dir or
 * $NETLAB_LAB or the current directory. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "exec.h"
#include "state.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_autofree char *dir = NULL, *workdir = NULL;
  g_auto(GStrv) env = NULL;
  gboolean tty = FALSE, detach = FALSE, ping = FALSE;
  int timeout = 0;
  const GOptionEntry entries[] = {
      {"dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Lab directory", "LABDIR"},
      {"tty", 't', 0, G_OPTION_ARG_NONE, &tty, "Give the command a pseudo-terminal", NULL},
      {"detach", 'd', 0, G_OPTION_ARG_NONE, &detach, "Start the command and return at once", NULL},
      {"env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env, "Set a variable", "NAME=VALUE"},
      {"workdir", 'w', 0, G_OPTION_ARG_FILENAME, &workdir, "Run in this directory", "DIR"},
      {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Kill the command after S seconds (status 124)",
       "S"},
      {"ping", 0, 0, G_OPTION_ARG_NONE, &ping,
       "Run nothing: a round trip to the agent, for benchmarks", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("VM [--] COMMAND [ARG...]");
  g_option_context_set_summary(ctx,
                               "Run a command in a VM. Exit status: the "
                               "command's, or 125 when netlab could not run it.");
  g_option_context_add_main_entries(ctx, entries, NULL);
  /* Options after the VM name belong to the command. */
  g_option_context_set_strict_posix(ctx, TRUE);
  g_autoptr(GError) local = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "exec: %s", local->message);
    return -1;
  }
  int i = 1;
  if (i < argc && g_str_equal(argv[i], "--")) i++;
  const char *vm = i < argc ? argv[i++] : NULL;
  if (i < argc && g_str_equal(argv[i], "--")) i++;
  if (!vm || (i >= argc && !ping)) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC,
                "exec: usage: netlab exec [OPTION...] VM -- COMMAND [ARG...]");
    return -1;
  }
  for (char **e = env; e && *e; e++)
    if (!strchr(*e, '=')) {
      g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "exec: -e wants NAME=VALUE, not '%s'", *e);
      return -1;
    }

  /* netlab's own failures are 125 here, whatever the module said. */
  g_autoptr(GError) found = NULL;
  g_autofree char *labdir = nl_cmd_vm_labdir(dir, &found);
  g_autoptr(NlState) st = labdir ? nl_state_for(labdir, &found) : NULL;
  if (!st || !nl_state_exists(st)) {
    if (found)
      g_set_error_literal(error, NL_ERROR, NL_ERROR_EXEC, found->message);
    else
      g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "lab '%s' is not up", labdir);
    return -1;
  }
  NlExec x = {
      .statedir = st->dir,
      .vm = vm,
      .argv = argv + i,
      .env = env,
      .cwd = workdir,
      .tty = tty,
      .detach = detach,
      .timeout_s = timeout > 0 ? timeout : 0,
      .in_fd = detach ? -1 : 0,
      .out_fd = 1,
      .err_fd = 2,
      .forward_signals = TRUE,
      .ping = ping,
  };
  int status = nl_exec_run(&x, error);
  if (status == 124 && timeout > 0)
    fprintf(stderr, "netlab: '%s' in %s timed out after %d s and was killed\n", argv[i], vm,
            timeout);
  return status;
}

const NlCmd nl_cmd_exec = {"exec", NULL, "run a command in a VM", run};
