/* netlab dump: a node's memory as a kernel crash dump (vmcore) that `crash`
 * opens with the node's vmlinux. */
#include <stdio.h>

#include "ksyms.h"
#include "cmd.h"
#include "state.h"
#include "util.h"
#include "virt.h"
#include "vmcore.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *out = NULL;
  const GOptionEntry entries[] = {
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
       "Write the vmcore to FILE (default: vmcores/VM-TIME.vmcore in the lab's data directory)",
       "FILE"},
      {NULL}};
  if (!nl_cmd_parse(g, "VM: write a VM's memory as a kernel crash dump", entries, &argc, &argv, &t,
                    error))
    return -1;
  if (argc != 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "dump: usage: netlab dump [-d LABDIR] [-o FILE] VM");
    return -1;
  }
  NlVm *vm = t.vm;
  if (!nl_state_lock(vm->st, FALSE, error)) return -1;
  g_autoptr(NlKernelSyms) k = nl_kernel_syms(vm, error);
  if (!k) return -1;
  g_autofree char *uri = nl_state_get(vm->st, "uri");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, vm->st->dir, error);
  if (!virt) return -1;
  double secs = 0;
  guint64 bytes = 0;
  g_autofree char *path =
      nl_vmcore_write(vm->labdir, vm->st, virt, vm->node, out, &secs, &bytes, error);
  if (!path) return -1;
  fprintf(stderr, "netlab: %s: %.1f MiB in %.1f s\n", vm->node, bytes / 1048576.0, secs);
  printf("%s\n", path);
  g_autofree char *qpath = g_shell_quote(path);
  if (k->vmlinux) {
    g_autofree char *qvmlinux = g_shell_quote(k->vmlinux);
    fprintf(stderr, "open it with: crash %s %s\n", qvmlinux, qpath);
  } else {
    fprintf(stderr,
            "open it with: crash VMLINUX %s (no vmlinux with symbols found for kernel %s: a "
            "kernel built with `netlab kernel build --config net --config debug` has one)\n",
            qpath, k->version ? k->version : "?");
  }
  return 0;
}

const NlCmd nl_cmd_dump = {"dump", NULL, "write a VM's memory as a kernel crash dump (vmcore)",
                           .target = NL_TARGET_VM, .run = run};
