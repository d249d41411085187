/* A lab's consoles in tmux: a session with a window per VM. */
#pragma once

#include <glib.h>

#include "state.h"
#include "util.h"

/* Runs `tmux ARGV...`; FALSE when it fails, with what tmux said in ERROR. */
gboolean nl_tmux(const char *const *argv, GError **error);

/* A tmux session with one window per VM of the lab in LABDIR, each on that
 * VM's console; made once per lab, then attached to (switched to, inside
 * tmux). Without a terminal it only tells SAY how to attach. */
gboolean nl_tmux_open(const char *labdir, const NlState *st, const NlProgress *say, GError **error);
