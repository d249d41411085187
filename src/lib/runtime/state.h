/* The per-lab runtime state directory: where sockets, pidfiles and libvirt's
 * embedded root live while a lab runs. One per lab, named from the lab's
 * absolute path, so labs with the same node names run side by side. */
#pragma once

#include <glib.h>

typedef struct {
  char *dir;   /* BASE/<id>, mode 0700 */
  char *id;    /* <basename>-<8 hex of sha256(lab path)> */
  int lock_fd; /* flock()ed DIR/lock, or -1 */
} NlState;

/* BASE is /run/netlab for root, else $XDG_RUNTIME_DIR/netlab, else
 * /tmp/netlab-<uid>; created 0700 and refused if another user owns it, but
 * for /tmp/netlab-<uid>, which another user may have taken first: then a
 * private directory made with mkdtemp() and recorded in the user's data
 * directory (layout.h) for the next netlab. */
char *nl_state_base(GError **error);

/* The state directory of LABDIR: the one its `up` recorded (layout.h's
 * DATA/state) while the lab is up, whatever the environment; else the one
 * it would use, without creating anything but BASE. */
NlState *nl_state_for(const char *labdir, GError **error);

/* Makes LABDIR's data directory (layout.h) and its subdirectories, mode
 * 0700, refusing any not owned by this user. */
gboolean nl_state_data_make(const char *labdir, GError **error);

/* The state directory of ST's lab found through a running process that names
 * it (a QEMU, a switch), if it is one of ours: for `down` when neither a
 * record nor the environment leads to it. NULL when none runs. */
char *nl_state_find_running(const NlState *st);

/* Records in LABDIR's data directory that its state directory is ST's
 * (removed by nl_state_remove). */
gboolean nl_state_record(const NlState *st, const char *labdir, GError **error);

/* Creates the state directory if needed and takes its lock; fails at once if
 * another netlab holds it ("another netlab is working on ..."). */
gboolean nl_state_lock(NlState *st, gboolean create, GError **error);

gboolean nl_state_exists(const NlState *st);

/* Small named values kept in the directory: lab path, libvirt URI... */
gboolean nl_state_set(const NlState *st, const char *key, const char *value, GError **error);
char *nl_state_get(const NlState *st, const char *key);

/* Removes the directory and everything in it (with the lock still held). */
gboolean nl_state_remove(NlState *st, GError **error);

void nl_state_free(NlState *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlState, nl_state_free)

/* Reads a pid from PIDFILE and returns it if that process is alive and its
 * command name is COMM (guards against a recycled pid), else 0. */
int nl_pidfile_alive(const char *pidfile, const char *comm);

/* TRUE when PID is gone or a zombie (this sandbox's init reaps late). */
gboolean nl_pid_gone(int pid);

/* A lab that is up, as its state directory tells. */
typedef struct {
  char *dir;        /* the state directory */
  char *lab;        /* the lab's directory */
  gint64 since;     /* when `up` began, in seconds since the epoch */
  GPtrArray *nodes; /* char*, sorted */
} NlLabUp;

void nl_lab_up_free(NlLabUp *l);

/* Every lab this user has up (whose state directory names its lab), sorted
 * by lab directory. */
GPtrArray *nl_state_list(GError **error);
