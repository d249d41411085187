/* The guest's first stage: a cpio (newc) archive with a static busybox, the
 * kernel modules needed to reach the 9p root, and templates/init. */
#pragma once

#include <glib.h>

/* An archive under construction, in memory. Entries keep insertion order. */
typedef struct NlCpio NlCpio;

NlCpio *nl_cpio_new(void);
void nl_cpio_free(NlCpio *cpio);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlCpio, nl_cpio_free)
/* Directories are not created implicitly: add parents first. */
void nl_cpio_add_dir(NlCpio *cpio, const char *path, guint mode);
void nl_cpio_add_file(NlCpio *cpio, const char *path, guint mode, const void *data, gsize len);
void nl_cpio_add_symlink(NlCpio *cpio, const char *path, const char *target);
/* A character device node, such as /dev/console (5, 1), which the kernel
 * opens for init's stdio before anything is mounted. */
void nl_cpio_add_chardev(NlCpio *cpio, const char *path, guint mode, guint major, guint minor);
/* The whole archive, with its TRAILER!!! entry, padded as the kernel expects. */
GBytes *nl_cpio_finish(NlCpio *cpio);

/* Modules named in ROOTS (e.g. "9pnet_virtio", "overlay"), with everything
 * they depend on, resolved from MODULES_DEP (the text of modules.dep), in an
 * order in which they can be loaded (dependencies first). Paths are relative
 * to /lib/modules/<version>, as modules.dep has them. A root that the kernel
 * has built in (listed in BUILTIN, the text of modules.builtin, may be NULL)
 * is skipped; a root found in neither is an error. */
GPtrArray *nl_modules_resolve(const char *modules_dep, const char *builtin,
                              const char *const *roots, GError **error);

/* Returns the path of an initramfs for the kernel whose modules live in
 * MODDIR (/lib/modules/<version>), building it into the cache when missing
 * or stale. MODDIR NULL is a kernel with everything built in: an archive
 * without modules. TEMPLATES is the templates/ directory. */
char *nl_initramfs_get(const char *moddir, const char *templates, GError **error);
