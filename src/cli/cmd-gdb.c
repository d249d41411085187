/* netlab gdb: gdb on a VM's kernel through QEMU's GDB stub (through KGDB
 * on ttyS1 for a node on another host), with the kernel's symbols when they
 * can be found; or, with --serial, on a program run by gdbserver in the VM
 * on its second serial port (ttyS1). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "cmd.h"
#include "kgdb.h"
#include "util.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *serial = NULL;
  const GOptionEntry entries[] = {
      {"serial", 0, 0, G_OPTION_ARG_FILENAME, &serial,
       "Debug PROG, run in the VM by `gdbserver /dev/ttyS1 PROG`", "PROG"},
      {NULL}};
  if (!nl_cmd_parse(g, "VM [-- GDB-ARGS...]: debug a VM's kernel (or a program in it)", entries,
                    &argc, &argv, &t, error))
    return -1;
  if (argc != 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "gdb: usage: netlab gdb [-d LABDIR] [--serial PROG] VM [-- GDB-ARGS...]");
    return -1;
  }
  if (serial && !g_file_test(serial, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "gdb: no program '%s'", serial);
    return -1;
  }
  NlVm *vm = t.vm;
  g_autofree char *host = nl_vm_host(vm);

  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_strv_builder_add_many(b, "gdb", "-q", NULL);
  g_autofree char *target = NULL;
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
    g_strv_builder_add_many(b, "-iex", "set sysroot /", serial, NULL);
    target = g_strdup_printf("target remote %s", vm->paths.serial1);
    /* On another host, a `netlab gdb` may have left KGDB on that port. */
    if (host && !nl_kgdb_release(vm, &nl_cmd_say, error)) return -1;
  } else {
    g_autoptr(NlKernelSyms) k = nl_kernel_syms(vm, error);
    if (!k || (host && !nl_kgdb_check_kernel(k, vm->node, error))) return -1;
    if (k->vmlinux) {
      g_strv_builder_add(b, k->vmlinux);
    } else {
      const char *what = k->version ? k->version : k->kernel ? k->kernel : "?";
      fprintf(stderr,
              "netlab: no symbols for kernel %s: install linux-image-%s-dbg or use a "
              "built kernel\n",
              what, k->version ? k->version : "<version>");
    }
    if (k->scripts && !nl_owned_by_me(k->scripts)) {
      fprintf(stderr,
              "netlab: not loading %s: you do not own it and its directory (gdb would run "
              "its Python as you)\n",
              k->scripts);
    } else if (k->scripts) {
      /* gdb loads <vmlinux>-gdb.py itself, with the symbols, once its
       * directory is trusted; a script elsewhere has to be sourced. */
      g_autofree char *dir = g_path_get_dirname(k->scripts);
      g_autofree char *safe = g_strdup_printf("add-auto-load-safe-path %s", dir);
      g_strv_builder_add_many(b, "-iex", safe, NULL);
      g_autofree char *own = k->vmlinux ? g_strconcat(k->vmlinux, "-gdb.py", NULL) : NULL;
      if (!own || strcmp(own, k->scripts) != 0) {
        g_autofree char *src = g_strdup_printf("source %s", k->scripts);
        g_strv_builder_add_many(b, "-ex", src, NULL);
      }
    }
    /* KGDB's packets cross the relay, libvirt and a loaded TCG guest:
     * slower than gdb's 2 s by default. */
    if (host) g_strv_builder_add_many(b, "-iex", "set remotetimeout 30", NULL);
    target = g_strdup_printf("target remote %s", host ? vm->paths.serial1 : vm->paths.gdb);
  }
  g_strv_builder_add_many(b, "-ex", target, NULL);
  for (char **w = t.rest; *w; w++) g_strv_builder_add(b, *w);
  g_auto(GStrv) gdb = g_strv_builder_end(b);
  if (host && !serial) {
    int rc = nl_kgdb_session(vm, gdb, &nl_cmd_say, error);
    return rc < 0 ? -1 : rc;
  }

  fflush(NULL);
  execvp(gdb[0], gdb);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot run gdb: %s", g_strerror(errno));
  return -1;
}

const NlCmd nl_cmd_gdb = {"gdb",
                          NULL,
                          "debug a VM's kernel, or a program in it, with gdb",
                          .target = NL_TARGET_VM,
                          .dashes = TRUE,
                          .run = run};
