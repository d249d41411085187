/* The interface of netlab-virt.so, the module that wraps libvirt's C API.
 * Linking libvirt pulls in 58 shared libraries, which cost every netlab
 * process ~13 ms to load; as a module, only the commands that talk to
 * libvirt (up, status, monitor) load them, and exec, console or gdb start
 * in about a millisecond. */
#pragma once

#include <glib.h>

#include "virt.h"

typedef struct {
  /* Connects to URI. The first call sends libvirt's own log to LOG. */
  void *(*connect)(const char *uri, const char *log, GError **error);
  void (*disconnect)(void *conn);
  gboolean (*create)(void *conn, const char *xml, GError **error);
  /* NlDomainInfo of the domains named PREFIX..., their pid left 0. */
  GPtrArray *(*list)(void *conn, const char *prefix, GError **error);
  gboolean (*destroy)(void *conn, const char *name, GError **error);
  char *(*hmp)(void *conn, const char *name, const char *command, GError **error);
  /* For nodes on other hosts (virt-libvirt-remote.c). */
  gboolean (*pool_create)(void *conn, const char *name, const char *path, GError **error);
  char *(*upload)(void *conn, const char *pool, const char *vol, GBytes *const *parts,
                  guint n_parts, GError **error);
  gboolean (*pool_delete)(void *conn, const char *name, GError **error);
  char *(*channel_line)(void *conn, const char *domain, const char *channel, gsize max,
                        GError **error);
  gboolean (*relay)(void *conn, const char *domain, const char *port, int fd, GError **error);
  gboolean (*has_emulator)(void *conn, const char *emulator, GError **error);
  gboolean (*dir_has)(void *conn, const char *dir, const char *name, GError **error);
  /* The command line libvirt would run QEMU with for domain NAME. */
  char *(*native)(void *conn, const char *name, GError **error);
} NlVirtBackend;

/* The one symbol the module exports. */
#define NL_VIRT_BACKEND "nl_virt_backend"
