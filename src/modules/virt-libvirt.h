/* Shared by the files of netlab-virt.so (virt-backend.h is its interface). */
#pragma once

#include <glib.h>

/* Sets ERROR to "WHAT: libvirt's last error" and returns FALSE. */
gboolean nl_lv_error(GError **error, const char *what);
/* The same, returning NULL. */
void *nl_lv_fail(GError **error, const char *what);

gboolean nl_lv_pool_create(void *conn, const char *name, const char *path, GError **error);
char *nl_lv_upload(void *conn, const char *pool, const char *vol, GBytes *const *parts,
                   guint n_parts, GError **error);
gboolean nl_lv_pool_delete(void *conn, const char *name, GError **error);
char *nl_lv_channel_line(void *conn, const char *domain, const char *channel, gsize max,
                         GError **error);
gboolean nl_lv_relay(void *conn, const char *domain, const char *port, int fd, GError **error);
gboolean nl_lv_has_emulator(void *conn, const char *emulator, GError **error);
gboolean nl_lv_dir_has(void *conn, const char *dir, const char *name, GError **error);
