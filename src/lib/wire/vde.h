/* One vde_switch, a hub, per collision domain of three interfaces or more:
 * started before the VMs, stopped after.
 * Every other VDE program netlab runs (the wirefilter of each NIC) starts the
 * same way, through nl_vde_spawn(): as the QEMU user, and recorded for
 * `down`. */
#pragma once

#include <glib.h>

#include "sandbox.h"
#include "state.h"

/* Starts a switch for LAN, as the QEMU user, with its control directory at
 * STATE/lan/LAN and management socket STATE/lan/LAN.mgmt, and records its
 * pid, with PORTS ports, holding the tap TAP if not NULL (ext.h). Returns
 * once QEMU can plug into it. */
gboolean nl_vde_start(const NlState *st, const NlQemuUser *qu, const char *lan, const char *tap,
                      guint ports, GError **error);

/* The pid of LAN's running switch, or of its wire (link.h), or 0. */
int nl_vde_pid(const NlState *st, const char *lan);

/* Joins LAN's switch to the VDE network URL (its vxvde:// network, when it
 * spans hosts) with a vde_plug, run and recorded as nl_vde_spawn() does.
 * Returns once the switch has the plug on a port. */
gboolean nl_vde_cable_start(const NlState *st, const NlQemuUser *qu, const char *lan,
                            const char *url, GError **error);

/* The pid of LAN's running vde_plug, or 0. */
int nl_vde_cable_pid(const NlState *st, const char *lan);

/* Runs ARGV (ARGV[0] an absolute path), a VDE program that runs a console
 * on stdin, in the foreground, as the QEMU user, and records it as KIND/NAME.
 * Returns once the path READY exists. WHAT names it in errors ("the switch
 * of 'A'"). */
gboolean nl_vde_spawn(const NlState *st, const NlQemuUser *qu, const char *kind, const char *name,
                      const char *what, const char *const *argv, const char *ready, GError **error);

/* Sends COMMAND to the management socket SOCK of a vde_switch or wirefilter
 * and returns its output (the lines between DATA and "."), or NULL with an
 * error that quotes the program's own reason. */
char *nl_vde_mgmt(const char *sock, const char *command, GError **error);
