/* The symbols gdb needs to debug a VM's kernel, found and checked by build
 * ID. */
#pragma once

#include <glib.h>

#include "vm.h"

/* What gdb needs to debug VM's kernel. */
typedef struct {
  char *kernel;  /* what QEMU boots (its -kernel) */
  char *version; /* from the image's banner, or NULL */
  char *vmlinux; /* an ELF with the kernel's symbols, or NULL */
  char *scripts; /* the kernel tree's vmlinux-gdb.py, or NULL */
} NlKernelSyms;
void nl_kernel_syms_free(NlKernelSyms *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlKernelSyms, nl_kernel_syms_free)

/* Finds the symbols of the kernel VM runs: the booted image itself when it
 * has a symbol table, the vmlinux of the kernel tree the lab names, or a
 * distro debug file; a candidate counts only if its build ID matches. Fails
 * when the VM's QEMU is not running (here; on another host, its relay
 * tells). */
NlKernelSyms *nl_kernel_syms(const NlVm *vm, GError **error);
