/* netlab: global options, the command table, errors to exit codes. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "virt.h"

#include "config.h"

static const NlCmd *const commands[] = {
    &nl_cmd_up,      &nl_cmd_down,   &nl_cmd_status, &nl_cmd_exec,    &nl_cmd_console, &nl_cmd_gdb,
    &nl_cmd_monitor, &nl_cmd_tmux,   &nl_cmd_test,   &nl_cmd_kernel,  &nl_cmd_capture, &nl_cmd_link,
    &nl_cmd_graph,   &nl_cmd_ls,     &nl_cmd_check,  &nl_cmd_restart, &nl_cmd_cp,      &nl_cmd_cat,
    &nl_cmd_diff,    &nl_cmd_save,   &nl_cmd_wipe,   &nl_cmd_image,   &nl_cmd_freeze,  &nl_cmd_thaw,
    &nl_cmd_dump,    &nl_cmd_events, &nl_cmd_web};

static void usage(FILE *f) {
  fprintf(f, "usage: netlab [--connect URI] COMMAND [ARGS...]\n\ncommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f, "  %-10s %s\n", "help", "this list, or with COMMAND its usage and options");
  fprintf(f,
          "\n`netlab help COMMAND` (or `netlab COMMAND --help`) shows a command's usage and\n"
          "options; the manual pages netlab(1) and netlab-lab.conf(5) have the details.\n");
}

static void print_error(const GError *error) {
  g_auto(GStrv) lines = g_strsplit(error->message, "\n", -1);
  for (char **l = lines; *l; l++) fprintf(stderr, "netlab: %s\n", *l);
}

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  /* A closed socket is an error to handle where it happens, not a death. */
  signal(SIGPIPE, SIG_IGN);
  NlGlobal g = {.uri = g_getenv("NETLAB_CONNECT")};
  if (g.uri && !*g.uri) g.uri = NULL;

  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--connect") == 0 || strcmp(argv[i], "-c") == 0) {
      if (++i == argc) {
        fprintf(stderr, "netlab: --connect needs a libvirt URI\n");
        return 2;
      }
      g.uri = argv[i];
    } else if (g_str_has_prefix(argv[i], "--connect=")) {
      g.uri = argv[i] + strlen("--connect=");
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("netlab %s\n", NETLAB_VERSION);
      return 0;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "netlab: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (i == argc) {
    usage(stderr);
    return 2;
  }
  /* help COMMAND is COMMAND --help. */
  char *help_argv[] = {NULL, "--help", NULL};
  if (strcmp(argv[i], "help") == 0) {
    if (i + 1 == argc || argv[i + 1][0] == '-') {
      usage(stdout);
      return 0;
    }
    help_argv[0] = argv[i + 1];
    argv = help_argv;
    argc = 2;
    i = 0;
  }
  const NlCmd *cmd = NULL;
  for (gsize c = 0; c < G_N_ELEMENTS(commands); c++)
    if (strcmp(argv[i], commands[c]->name) == 0 ||
        (commands[c]->alias && strcmp(argv[i], commands[c]->alias) == 0))
      cmd = commands[c];
  if (!cmd) {
    fprintf(stderr, "netlab: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
  }

  g_autoptr(GError) error = NULL;
  g.cmd = cmd;
  int rc = cmd->run(argc - i, argv + i, &g, &error);
  if (rc < 0) {
    print_error(error);
    rc = error->domain == NL_ERROR && error->code >= NL_ERROR_INPUT ? (int)error->code : 1;
  }
  /* The embedded libvirt driver starts threads nobody can join (one per
   * running QEMU, to reconnect to it); exit's destructors would unload the
   * libraries under them, and they crash. */
  if (nl_virt_loaded()) {
    fflush(NULL);
    _exit(rc);
  }
  return rc;
}
