/* Freezing a lab: every VM (or the named ones) stopped at the same instant
 * and resumed together later, so that the network inside sees no time pass
 * (QEMU's virtual clock, and the guest's clocks with it, stand still while
 * a VM is stopped). `netlab gdb` freezes the rest of a lab whenever the
 * kernel it debugs stops. */
#pragma once

#include <glib.h>

#include "state.h"
#include "util.h"

typedef struct {
  GPtrArray *nodes; /* char*: the nodes acted upon */
  double calls_ms;  /* from the release of the calls to the last one's return */
  double skew_ms;   /* first to last QEMU STOP (RESUME) event; -1: fewer than 2 */
  guint events;     /* how many VMs QEMU reported stopped (resumed) */
} NlFreezeResult;

void nl_freeze_result_clear(NlFreezeResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NlFreezeResult, nl_freeze_result_clear)

/* Freezes (THAW: thaws) NODES of the lab in LABDIR (ST its state), or all
 * its nodes on this host when NODES is NULL or empty; nodes on other hosts
 * are left running, with a warning through SAY. Takes the lab's lock, and
 * waits for it a few seconds if another netlab holds it. */
gboolean nl_freeze(NlState *st, char **nodes, gboolean thaw, const NlProgress *say,
                   NlFreezeResult *r, GError **error);

/* Whether netlab froze NODE and has not thawed it since. */
gboolean nl_frozen(const NlState *st, const char *node);

/* The nodes of the lab up in ST; with EXCEPT, those of this host but
 * EXCEPT. */
GStrv nl_freeze_others(const NlState *st, const char *except);
