/* One vde_switch per collision domain: started before the VMs, stopped after. */
#pragma once

#include <glib.h>

#include "sandbox.h"
#include "state.h"

/* Starts a switch for LAN, as the QEMU user, with its control directory at
 * STATE/lan/LAN and management socket STATE/lan/LAN.mgmt, and records its
 * pid. Returns once QEMU can plug into it. */
gboolean nl_vde_start(const NlState *st, const NlQemuUser *qu, const char *lan,
                      GError **error);

/* The pid of LAN's running switch, or 0. */
int nl_vde_pid(const NlState *st, const char *lan);
