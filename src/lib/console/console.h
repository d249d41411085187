/* A VM's serial console from the host, without libvirt: QEMU's Unix socket
 * in the state directory, one client at a time, and the console log the
 * lab directory keeps. */
#pragma once

#include <glib.h>

#include "util.h"
#include "vm.h"

/* Relays the console of VM until the user detaches. On a terminal: raw mode,
 * Ctrl-] detaches. Otherwise stdin goes to the console, the console to
 * stdout, and after stdin's end the output is read until it has been quiet
 * for half a second (five seconds at most). One client at a time: another
 * `netlab console` of the same VM is refused, or with FORCE stopped. SAY
 * hears how the session began and ended. */
gboolean nl_console_attach(const NlVm *vm, gboolean force, const NlProgress *say, GError **error);

/* Copies the console log of NODE (LABDIR/.netlab/logs/NODE.console.log,
 * which outlives the lab) to stdout; FOLLOW: then what the VM writes, until
 * interrupted, across a new `up` of the lab. */
gboolean nl_console_log(const char *labdir, const char *node, gboolean follow, GError **error);
