/* Building kernels for the VMs: a kernel tree (by default the source Debian
 * ships, unpacked once into the cache) configured from tinyconfig or
 * defconfig plus config fragments, checked, and built out of tree into
 * <cache>/kernels/<name>/, where LAB_KERNEL=<name> and --kernel find it. */
#pragma once

#include <glib.h>

typedef void (*NlKbuildProgress)(const char *message, gpointer data);

typedef struct {
  const char *source; /* a kernel tree; NULL: Debian's linux-source */
  const char *base;   /* "tinyconfig" or "defconfig"; NULL: tinyconfig */
  /* Fragments merged over base.config, in order: paths, or names of
   * kernel-config/ files ("net", "debug.config"). NULL or empty: "net". */
  const char *const *fragments;
  const char *name; /* NULL: <version>-<fragment names>, e.g. 6.1.192-net */
  int jobs;         /* make -j; 0: one per processor */
  NlKbuildProgress progress;
  gpointer progress_data;
} NlKbuildOptions;

typedef struct {
  char *name;
  char *dir;          /* the build tree: <cache>/kernels/<name> */
  char *vmlinux;      /* what QEMU boots (PVH) and gdb reads */
  char *release;      /* `make kernelrelease`, e.g. 6.1.192 */
  char *base;         /* as recorded when it was built */
  char *fragments;    /* their paths, space-separated */
  gint64 build_s;     /* how long the build took; -1: unknown */
  gint64 build_cpu_s; /* the CPU time (user + system) it took; -1: unknown */
  gboolean fresh;     /* built (or configured) by this call, not found up to date */
} NlKbuildKernel;

void nl_kbuild_kernel_free(NlKbuildKernel *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlKbuildKernel, nl_kbuild_kernel_free)

/* Configures and builds a kernel, or finds it built already from the same
 * source, base and fragments. Fails, naming them, when options the fragments
 * ask for did not end up in the final .config (a missing dependency, a
 * misspelt name). */
NlKbuildKernel *nl_kbuild_build(const NlKbuildOptions *o, GError **error);

/* The kernels built into the cache, by name. */
GPtrArray *nl_kbuild_list(GError **error);

/* FRAGMENT's lines that the final configuration CONFIG (the text of a
 * .config) does not honour, each as "CONFIG_X=y (FILE:LINE): got ...".
 * A later request for the same option overrides an earlier one, as with
 * merge_config.sh; "# CONFIG_X is not set" is honoured by absence too.
 * FRAGMENTS are (file name, text) pairs. */
GPtrArray *nl_kbuild_check(const char *config, const char *const *names, const char *const *texts);

/* The build key of a default `netlab kernel build` (Debian's source as
 * installed and unpacked now, tinyconfig + base + net), or NULL when that
 * source was never unpacked. */
char *nl_kbuild_default_key(void);

/* The vmlinux of the newest kernel built with the defaults (Debian's source
 * as installed now, tinyconfig + base + net), or NULL: what `up` boots when
 * the lab names no kernel. Looks, never builds nor unpacks. */
char *nl_kbuild_default_vmlinux(void);
