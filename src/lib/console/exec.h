/* The host side of the guest agent: run one command in a VM, relaying its
 * input, output, signals and exit status. */
#pragma once

#include <glib.h>

typedef struct {
  const char *statedir;     /* the lab's state directory */
  const char *vm;           /* node name */
  char **argv;              /* the command */
  char **env;               /* "NAME=value" entries, or NULL */
  const char *cwd;          /* NULL: / */
  gboolean tty;             /* a pseudo-terminal in the guest */
  gboolean detach;          /* start and return at once */
  guint timeout_s;          /* 0: none; else kill the command after that long */
  int in_fd;                /* forwarded as stdin; -1: none */
  int out_fd, err_fd;       /* where the command's stdout and stderr go */
  gboolean forward_signals; /* SIGINT, SIGTERM, SIGHUP go to the command */
  gboolean ping;            /* run nothing: time the agent's round trip */
} NlExec;

/* Returns the command's exit status (128 + N when killed by signal N; 124
 * when --timeout killed it), or -1 with an NL_ERROR_EXEC error when netlab
 * could not run it: no such VM, VM not running, agent not answering. */
int nl_exec_run(const NlExec *x, GError **error);

/* Runs ARGV in VM with no input and returns its standard output; NULL with an
 * error when it could not run or exited non-zero. */
char *nl_exec_output(const char *statedir, const char *vm, char **argv, GError **error);
