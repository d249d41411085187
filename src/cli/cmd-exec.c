/* netlab exec: run a command as root in a VM, through its guest agent, with
 * stdin, stdout, stderr, signals and the exit status carried across. As in
 * every command, -d is the lab directory; docker's detach is --detach. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "exec.h"
#include "state.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *workdir = NULL;
  g_auto(GStrv) env = NULL;
  gboolean tty = FALSE, detach = FALSE, ping = FALSE;
  int timeout = 0;
  const GOptionEntry entries[] = {
      {"tty", 't', 0, G_OPTION_ARG_NONE, &tty, "Give the command a pseudo-terminal", NULL},
      {"detach", 0, 0, G_OPTION_ARG_NONE, &detach, "Start the command and return at once", NULL},
      {"env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env, "Set a variable", "NAME=VALUE"},
      {"workdir", 'w', 0, G_OPTION_ARG_FILENAME, &workdir, "Run in this directory", "DIR"},
      {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Kill the command after S seconds (status 124)",
       "S"},
      {"ping", 0, 0, G_OPTION_ARG_NONE, &ping,
       "Run nothing: a round trip to the agent, for benchmarks", NULL},
      {NULL}};
  if (!nl_cmd_parse(g,
                    "VM [--] COMMAND [ARG...]: run a command in a VM. Exit status: the "
                    "command's, or 125 when netlab could not run it.",
                    entries, &argc, &argv, &t, error))
    return -1;
  int i = 1;
  if (i < argc && g_str_equal(argv[i], "--")) i++;
  const char *vm = argv[i++];
  if (i < argc && g_str_equal(argv[i], "--")) i++;
  if (i >= argc && !ping) {
    g_set_error(error, NL_ERROR, NL_ERROR_EXEC,
                "exec: usage: netlab exec [OPTION...] VM -- COMMAND [ARG...]");
    return -1;
  }
  for (char **e = env; e && *e; e++)
    if (!strchr(*e, '=')) {
      g_set_error(error, NL_ERROR, NL_ERROR_EXEC, "exec: -e wants NAME=VALUE, not '%s'", *e);
      return -1;
    }

  NlExec x = {
      .statedir = t.vm->st->dir,
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

const NlCmd nl_cmd_exec = {"exec",
                           NULL,
                           "run a command in a VM",
                           .target = NL_TARGET_VM,
                           .usage_code = NL_ERROR_EXEC,
                           .options_first = TRUE,
                           .run = run};
