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
  guint64 out_max;          /* 0: no bound; else the most bytes of stdout and
                             * stderr together taken from the guest (past it,
                             * the session ends with an error) */
  int sock;                 /* > 0: a session port from nl_exec_claim(),
                             * kept open; else one is claimed for the call */
} NlExec;

/* What nl_exec_output() keeps of a command's output at most. */
#define NL_EXEC_OUTPUT_MAX (16 << 20)

/* Claims one of VM's session ports (connected socket, lock in *LOCK), for
 * sessions run later through NlExec.sock, one after the other: a child
 * that dropped its rights can no longer open the port itself. */
int nl_exec_claim(const char *statedir, const char *vm, int *lock, GError **error);

/* Returns the command's exit status (128 + N when killed by signal N; 124
 * when --timeout killed it), or -1 with an NL_ERROR_EXEC error when netlab
 * could not run it: no such VM, VM not running, agent not answering. */
int nl_exec_run(const NlExec *x, GError **error);

/* Runs ARGV in VM with no input and returns its standard output; NULL with an
 * error when it could not run or exited non-zero. */
char *nl_exec_output(const char *statedir, const char *vm, char **argv, GError **error);
