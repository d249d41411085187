#include "ksyms.h"

#include <string.h>

#include "kernel.h"
#include "lab.h"
#include "sandbox.h"
#include "util.h"

void nl_kernel_syms_free(NlKernelSyms *k) {
  if (!k) return;
  g_free(k->kernel);
  g_free(k->version);
  g_free(k->vmlinux);
  g_free(k->scripts);
  g_free(k);
}

typedef struct {
  gboolean elf;
  gboolean symtab; /* has a non-empty .symtab */
  char *build_id;  /* hex, or NULL */
} ElfInfo;

static void elf_info_clear(ElfInfo *e) { g_free(e->build_id); }
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ElfInfo, elf_info_clear)

/* Reads only the headers and notes: a vmlinux with debug info is hundreds
 * of MB. */
static void elf_info(const char *path, ElfInfo *e) {
  e->elf = nl_elf_file_info(path, &e->symtab, &e->build_id);
}

/* The version in the kernel's banner ("Linux version 6.1.0-56-amd64 (...)"),
 * or, for a bzImage, in its boot header. */
static char *kernel_version(const char *path) {
  g_autoptr(GMappedFile) m = g_mapped_file_new(path, FALSE, NULL);
  if (!m) return NULL;
  const char *d = g_mapped_file_get_contents(m);
  gsize len = g_mapped_file_get_length(m);
  if (len > 0x210 && memcmp(d + 0x202, "HdrS", 4) == 0)
    return nl_kernel_bzimage_version((const guint8 *)d, len);
  static const char tag[] = "Linux version ";
  for (const char *p = d; (p = memmem(p, len - (p - d), tag, sizeof tag - 1));
       p += sizeof tag - 1) {
    const char *v = p + sizeof tag - 1, *end = d + len;
    if (v >= end || !g_ascii_isdigit(*v)) continue;
    const char *e = v;
    while (e < end && e - v < 64 && *e > ' ' && *e < 127) e++;
    return g_strndup(v, e - v);
  }
  return NULL;
}

/* The kernel image the lab names for NODE (node's, else the lab's), or NULL
 * for the host's. `up --kernel` is not recorded: that one is not found. */
static char *lab_kernel(const char *labdir, const char *node) {
  g_autoptr(NlLab) lab = nl_lab_load(labdir, NULL, NULL);
  if (!lab) return NULL;
  const NlNode *n = nl_lab_find_node(lab, node);
  return g_strdup(n && n->kernel ? n->kernel : lab->kernel);
}

NlKernelSyms *nl_kernel_syms(const NlVm *vm, GError **error) {
  /* What up recorded, never what a process's arguments say: any local user
   * can start a process that names this VM's sockets. */
  g_autofree char *key = g_strconcat("kernel.", vm->node, NULL);
  g_autofree char *host = nl_vm_host(vm);
  if (!host && !nl_proc_alive(vm->st, "qemu", vm->node)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "VM '%s' of lab '%s' is not running (its QEMU is gone)", vm->node, vm->labdir);
    return NULL;
  }
  g_autoptr(NlKernelSyms) k = g_new0(NlKernelSyms, 1);
  k->kernel = nl_state_get(vm->st, key);
  if (!k->kernel) return g_steal_pointer(&k);
  k->version = kernel_version(k->kernel);
  g_auto(ElfInfo) boot;
  elf_info(k->kernel, &boot);

  g_autoptr(GPtrArray) cand = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(cand, g_strdup(k->kernel));
  /* A built tree: its vmlinux is next to the image or a few levels up
   * (arch/x86/boot/bzImage). */
  g_autofree char *named = lab_kernel(vm->labdir, vm->node);
  if (named) {
    g_ptr_array_add(cand, g_strdup(named));
    g_autofree char *dir = g_path_get_dirname(named);
    for (int up = 0; up < 4; up++) {
      g_ptr_array_add(cand, g_build_filename(dir, "vmlinux", NULL));
      char *parent = g_path_get_dirname(dir);
      g_free(dir);
      dir = parent;
    }
  }
  if (boot.build_id && strlen(boot.build_id) > 2) {
    g_autofree char *file = g_strconcat(boot.build_id + 2, ".debug", NULL);
    g_autofree char *sub = g_strndup(boot.build_id, 2);
    g_ptr_array_add(cand, g_build_filename("/usr/lib/debug/.build-id", sub, file, NULL));
  }
  if (k->version) {
    g_autofree char *file = g_strconcat("vmlinux-", k->version, NULL);
    g_ptr_array_add(cand, g_build_filename("/usr/lib/debug/boot", file, NULL));
    g_ptr_array_add(cand,
                    g_build_filename("/usr/lib/debug/lib/modules", k->version, "vmlinux", NULL));
  }

  for (guint i = 0; i < cand->len && !k->vmlinux; i++) {
    const char *c = cand->pdata[i];
    g_auto(ElfInfo) e;
    elf_info(c, &e);
    /* Symbols of another build would name the wrong functions. */
    if (e.symtab && (!boot.build_id || !e.build_id || strcmp(boot.build_id, e.build_id) == 0))
      k->vmlinux = g_strdup(c);
  }
  if (k->vmlinux) {
    g_autofree char *dir = g_path_get_dirname(k->vmlinux);
    /* The tree's vmlinux-gdb.py (a link to scripts/gdb/ made by the build)
     * brings lx-dmesg, lx-ps, lx-symbols... */
    g_autofree char *top = g_build_filename(dir, "vmlinux-gdb.py", NULL);
    g_autofree char *src = g_build_filename(dir, "scripts", "gdb", "vmlinux-gdb.py", NULL);
    if (g_file_test(top, G_FILE_TEST_EXISTS))
      k->scripts = g_steal_pointer(&top);
    else if (g_file_test(src, G_FILE_TEST_EXISTS))
      k->scripts = g_steal_pointer(&src);
  }
  return g_steal_pointer(&k);
}
