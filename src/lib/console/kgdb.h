/* gdb on the kernel of a node on another host. libvirt has no stream to
 * QEMU's GDB stub there, so gdb talks to the kernel's own stub, KGDB, over
 * the node's second serial port (ttyS1), which netlab-relay joins to the
 * state directory's serial1.sock: the agent points kgdboc at ttyS1 and
 * breaks in with sysrq g, then gdb runs `target remote` on that socket. */
#pragma once

#include "attach.h"

/* Checks, from the kernel's configuration (the .config of its build tree,
 * or Debian's /boot/config-VERSION), that K has KGDB over a serial port;
 * else an error saying which kernel to boot. */
gboolean nl_kgdb_check_kernel(const NlKernelSyms *k, const char *node, GError **error);

/* Stops VM's kernel in KGDB on ttyS1 (or finds it stopped there already),
 * runs GDB (an argv whose target is VM's serial1 socket) in the foreground,
 * and once gdb ends, frees ttyS1 from kgdboc again, which also tells that
 * the kernel runs. Returns gdb's exit status; SAY hears what happens. */
int nl_kgdb_session(const NlVm *vm, char **gdb, const NlProgress *say, GError **error);

/* Before gdbserver takes ttyS1 of VM (`gdb --serial`): frees the port from
 * kgdboc if a `netlab gdb` left it set, or fails saying why it cannot. */
gboolean nl_kgdb_release(const NlVm *vm, const NlProgress *say, GError **error);
