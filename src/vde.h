/* One vde_switch per collision domain: started before the VMs, stopped after.
 * Every other VDE helper (the wirefilter of each NIC) is started the same way,
 * through nl_vde_spawn(), so that they all run under the same rules. */
#pragma once

#include <glib.h>

/* Starts a switch for LAN with its control directory at STATEDIR/lan/LAN,
 * management socket STATEDIR/lan/LAN.mgmt and pidfile STATEDIR/lan/LAN.pid.
 * Returns once QEMU can plug into it. */
gboolean nl_vde_start(const char *statedir, const char *lan, GError **error);

/* The pid of LAN's running switch, or 0. */
int nl_vde_pid(const char *statedir, const char *lan);

/* STATEDIR/lan/LAN.mgmt */
char *nl_vde_mgmt_path(const char *statedir, const char *lan);

/* Runs ARGV, a VDE program that daemonizes and writes PIDFILE, and returns
 * once PIDFILE names a live process and the path READY exists. WHAT names it
 * in errors ("the switch of 'A'"). */
gboolean nl_vde_spawn(const char *what, const char *const *argv, const char *pidfile,
                      const char *ready, GError **error);

/* Sends COMMAND to the management socket SOCK of a vde_switch or wirefilter
 * and returns its output (the lines between DATA and "."), or NULL with an
 * error that quotes the program's own reason. */
char *nl_vde_mgmt(const char *sock, const char *command, GError **error);
