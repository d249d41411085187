/* Finding the kernel a node boots, and the fastest form of it to boot. */
#pragma once

#include <glib.h>

typedef struct {
  char *path;      /* the kernel as found or named: /boot/vmlinuz-6.1.0-56-amd64 */
  char *version;   /* from the image's header: 6.1.0-56-amd64 */
  char *boot;      /* what QEMU boots: the uncompressed ELF (PVH entry) when the
                   * image has one, extracted once into the cache, else PATH */
  char *moddir;    /* /lib/modules/<version>, or NULL when it does not exist */
  gboolean distro; /* the host's own /boot kernel, taken for lack of a built one */
} NlKernel;

/* PATH names a bzImage or an ELF vmlinux; NULL means the newest kernel built
 * with the default fragments (nl_kbuild_default_vmlinux), else the newest
 * /boot/vmlinuz-*. */
NlKernel *nl_kernel_find(const char *path, GError **error);
void nl_kernel_free(NlKernel *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlKernel, nl_kernel_free)

/* The build tree of the kernel `netlab kernel build` calls NAME:
 * <cache>/kernels/NAME. */
char *nl_kernel_built_dir(const char *name, GError **error);

/* What LAB_KERNEL=, r1[kernel]= and --kernel name, as an absolute path:
 * VALUE relative to BASE; or, when VALUE has no '/' and is no file there,
 * the vmlinux of the built kernel of that name if there is one. Whether the
 * result exists is the caller's check. */
char *nl_kernel_resolve(const char *value, const char *base);

/* True when the ELF image DATA has a PVH entry point (Xen ELF note 18), which
 * is what lets QEMU boot it directly. */
gboolean nl_elf_has_pvh(const guint8 *data, gsize len);

/* Shrinks each loadable segment of the ELF image DATA to end at its last
 * section with non-zero bytes; the all-zero sections after it become NOBITS.
 * A loader zero-fills a segment beyond its file size, so the kernel boots
 * the same, but QEMU, which keeps the image mapped, no longer reads the ~20
 * MB of zeros (.bss, .init.scratch) a vmlinux extracted from a bzImage
 * carries: that much less resident memory per VM. Returns the bytes saved;
 * leaves alone an image whose loadable segments share file bytes. */
gsize nl_elf_trim_zeros(guint8 *data, gsize len);

/* The version string a bzImage carries in its setup header ("HdrS"), or
 * NULL when D (LEN bytes) is not a bzImage. */
char *nl_kernel_bzimage_version(const guint8 *d, gsize len);

/* Which of OPTIONS ("CONFIG_KGDB"...) the kernel configuration CONFIG (the
 * text of a .config) does not have built in (=y): NULL when it has them
 * all, else their names, ", "-separated. */
char *nl_kernel_config_lacks(const char *config, const char *const *options);
