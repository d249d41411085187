/* Who the processes that face a guest run as, and what they may reach.
 *
 * QEMU and vde_switch handle what guests send: they never run as host root.
 * When root runs netlab they run as the system user netlab-qemu; otherwise
 * as the user who runs netlab. A root-run `up` also moves into a mount
 * namespace of its own, which the QEMUs it starts inherit, and binds there,
 * under the state directory, exactly what QEMU must open: the lab directory
 * and the boot files, which may lie under /root (0700). Nothing is mounted in
 * the host's namespace, so nothing is left behind by a crash. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "state.h"
#include "util.h"

#define NL_QEMU_USER "netlab-qemu"

typedef struct {
  uid_t uid;
  gid_t gid;
  char *name;       /* NULL when it is the invoking user */
  gboolean dropped; /* TRUE: netlab runs as root and hands over to NAME */
} NlQemuUser;

/* Looks the user up; as root, fails if scripts/setup has not created it. */
gboolean nl_qemu_user(NlQemuUser *u, GError **error);
void nl_qemu_user_clear(NlQemuUser *u);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NlQemuUser, nl_qemu_user_clear)

/* A GSpawnChildSetupFunc: drops the child to U (a NlQemuUser *) before exec.
 * Only async-signal-safe calls: it runs between fork and exec. */
void nl_qemu_user_become(gpointer u);

/* Makes PATH owned by U (when dropped), mode MODE: the directories where
 * QEMU and the switches create their sockets. */
gboolean nl_qemu_user_own(const NlQemuUser *u, const char *path, int mode, GError **error);

/* Root only: a private mount namespace for this process and what it starts.
 * Call before any thread exists. */
gboolean nl_sandbox_enter(GError **error);

/* Root only: binds SRC (file or directory) on DIR/NAME, nosuid and nodev,
 * read-only unless RW, and returns that path. */
char *nl_sandbox_bind(const char *src, const char *dir, const char *name, gboolean rw,
                      GError **error);

/* Gives U read-write access to LABDIR/shared itself (an ACL entry; not what
 * is in it, not its parents), and records that very directory (its file
 * handle, device and inode) in ST. Nothing when U is the invoking user. */
gboolean nl_shared_grant(const NlState *st, const NlQemuUser *u, const char *labdir,
                         GError **error);
/* Takes that access back from the directory recorded, wherever it is now
 * (renamed, moved within its filesystem); never from another one. */
void nl_shared_revoke(const NlState *st, const NlProgress *say);

/* Connects to PATH, a socket QEMU made, and checks with SO_PEERCRED that
 * the QEMU user serves it; errno EPERM when not. */
int nl_qemu_connect(const char *path, GError **error);

/* ---- processes netlab started -------------------------------------------
 * Recorded by pid and start time in the state directory (in a file only
 * netlab writes), so that `down` kills exactly them and never a process that
 * took a recycled pid, nor anything else that names the state directory. */

/* Records PID as KIND/NAME ("qemu r1", "switch A") if it runs EXE. */
gboolean nl_proc_record(const NlState *st, const char *kind, const char *name, int pid,
                        const char *exe, GError **error);
/* The pid recorded for KIND/NAME if that very process still runs, else 0. */
int nl_proc_alive(const NlState *st, const char *kind, const char *name);
/* SIGKILLs every recorded process that is still the one recorded and waits
 * (bounded) until each has exited. Returns how many were killed. */
guint nl_proc_kill_all(const NlState *st);
/* The same for KIND/NAME only (a restarted node's QEMU and wirefilters). */
guint nl_proc_kill(const NlState *st, const char *kind, const char *name);
/* The process's start time in clock ticks since boot, or 0 if it is gone. */
guint64 nl_proc_start_time(int pid);
