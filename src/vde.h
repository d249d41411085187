/* One vde_switch per collision domain: started before the VMs, stopped after. */
#pragma once

#include <glib.h>

/* Starts a switch for LAN with its control directory at STATEDIR/lan/LAN,
 * management socket STATEDIR/lan/LAN.mgmt and pidfile STATEDIR/lan/LAN.pid.
 * Returns once QEMU can plug into it. */
gboolean nl_vde_start(const char *statedir, const char *lan, GError **error);

/* The pid of LAN's running switch, or 0. */
int nl_vde_pid(const char *statedir, const char *lan);
