/* netlab gdb: gdb on a VM's kernel through QEMU's GDB stub (through KGDB
 * on ttyS1 for a node on another host), with the kernel's symbols when they
 * can be found; or, with --serial, on a program run by gdbserver in the VM
 * on its second serial port (ttyS1). Always through netlab's relay
 * (gdbrelay.h), which freezes the rest of the lab while the kernel is
 * stopped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ksyms.h"
#include "cmd.h"
#include "freeze.h"
#include "gdbrelay.h"
#include "kgdb.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *serial = NULL;
  gboolean no_freeze = FALSE;
  const GOptionEntry entries[] = {
      {"serial", 0, 0, G_OPTION_ARG_FILENAME, &serial,
       "Debug PROG, run in the VM by `gdbserver /dev/ttyS1 PROG`", "PROG"},
      {"no-freeze", 0, 0, G_OPTION_ARG_NONE, &no_freeze,
       "Let the rest of the lab run while the kernel is stopped", NULL},
      {NULL}};
  if (!nl_cmd_parse(g, "VM [-- GDB-ARGS...]: debug a VM's kernel (or a program in it)", entries,
                    &argc, &argv, &t, error))
    return -1;
  if (argc != 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "gdb: usage: netlab gdb [-d LABDIR] [--serial PROG] [--no-freeze] VM "
                "[-- GDB-ARGS...]");
    return -1;
  }
  if (serial && !g_file_test(serial, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "gdb: no program '%s'", serial);
    return -1;
  }
  NlVm *vm = t.vm;
  g_autofree char *host = nl_vm_host(vm);

  g_autoptr(GStrvBuilder) before = g_strv_builder_new();
  g_autoptr(NlKernelSyms) k = NULL;
  NlGdbSession s = {.vm = vm, .after = t.rest};
  if (serial) {
    if (!g_file_test(vm->paths.serial1, G_FILE_TEST_EXISTS)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "VM '%s' has no second serial port ('%s'): is it running, and was it "
                  "started by this netlab?",
                  vm->node, vm->paths.serial1);
      return -1;
    }
    /* The VM runs on the host's root: its libraries are the host's, and
     * reading them here beats fetching them over a serial line. */
    g_strv_builder_add_many(before, "-iex", "set sysroot /", NULL);
    s.symbols = serial;
    s.stub = vm->paths.serial1;
    /* On another host, a `netlab gdb` may have left KGDB on that port. */
    if (host && !nl_kgdb_release(vm, &nl_cmd_say, error)) return -1;
  } else {
    k = nl_kernel_syms(vm, error);
    if (!k || (host && !nl_kgdb_check_kernel(k, vm->node, error))) return -1;
    if (!k->vmlinux) {
      const char *what = k->version ? k->version : k->kernel ? k->kernel : "?";
      fprintf(stderr,
              "netlab: no symbols for kernel %s: install linux-image-%s-dbg or use a "
              "built kernel\n",
              what, k->version ? k->version : "<version>");
    }
    s.symbols = k->vmlinux;
    if (k->scripts && !nl_owned_by_me(k->scripts))
      fprintf(stderr,
              "netlab: not loading %s: you do not own it and its directory (gdb would run "
              "its Python as you)\n",
              k->scripts);
    else
      s.scripts = k->scripts;
    /* KGDB's packets cross the relay, libvirt and a loaded TCG guest:
     * slower than gdb's 2 s by default. */
    if (host) g_strv_builder_add_many(before, "-iex", "set remotetimeout 30", NULL);
    s.stub = host ? vm->paths.serial1 : vm->paths.gdb;
    /* QEMU's stub halts the VM when gdb connects; KGDB is stopped first. */
    s.halted = TRUE;
  }
  g_auto(GStrv) before_v = g_strv_builder_end(before);
  s.before = before_v;
  /* A stopped kernel in a network: the rest of the lab stops with it. */
  g_auto(GStrv) others = serial || no_freeze ? NULL : nl_freeze_others(vm->st, vm->node);
  s.freeze = others;
  if (host && !serial) return nl_kgdb_session(&s, &nl_cmd_say, error);
  return nl_gdb_session(&s, &nl_cmd_say, error);
}

const NlCmd nl_cmd_gdb = {"gdb",
                          NULL,
                          "debug a VM's kernel, or a program in it, with gdb",
                          .target = NL_TARGET_VM,
                          .dashes = TRUE,
                          .run = run};
