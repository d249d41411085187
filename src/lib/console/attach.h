/* Reaching a running VM from the host without libvirt: its serial console,
 * its second serial port and QEMU's GDB stub are Unix sockets in the lab's
 * state directory, and its console is logged in the lab directory. */
#pragma once

#include <glib.h>

#include "domxml.h"
#include "state.h"
#include "util.h"

typedef struct {
  char *labdir;
  char *node;
  NlState *st;
  NlVmPaths paths;
} NlVm;

/* VM NODE of the lab in LABDIR, which must be up and have that VM. */
NlVm *nl_vm_find(const char *labdir, const char *node, GError **error);
void nl_vm_free(NlVm *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlVm, nl_vm_free)

/* The host VM runs on (LAB_HOSTS), or NULL where `up` runs. */
char *nl_vm_host(const NlVm *vm);

/* The names of the VMs of a lab that is up, sorted. */
GPtrArray *nl_vm_names(const NlState *st);

/* Relays the console of VM until the user detaches. On a terminal: raw mode,
 * Ctrl-] detaches. Otherwise stdin goes to the console, the console to
 * stdout, and after stdin's end the output is read until it has been quiet
 * for half a second (five seconds at most). One client at a time: another
 * `netlab console` of the same VM is refused, or with FORCE stopped. SAY
 * hears how the session began and ended. */
gboolean nl_console_attach(const NlVm *vm, gboolean force, const NlProgress *say, GError **error);

/* Writes the whole console log LOG (its head, a mark where bytes were cut,
 * then its tail: logkeep.h) to OUT; FALSE when OUT is closed. */
gboolean nl_console_log_write(const char *log, int out);
/* How many bytes of the console log LOG were dropped to keep it bounded. */
guint64 nl_console_log_cut(const char *log);
/* Copies the console log of NODE (in the lab's data directory, layout.h;
 * it outlives the lab) to stdout; FOLLOW: then what the VM writes, until
 * interrupted, across a new `up` of the lab. */
gboolean nl_console_log(const char *labdir, const char *node, gboolean follow, GError **error);

/* The last LINES lines of the log at PATH, with control characters blanked,
 * joined by newlines; "" when there is none. */
char *nl_log_tail(const char *path, guint lines);

/* Why the VM whose libvirt domain is DOMAIN and console log LOG stopped, in
 * a few words: a kernel panic, the guest's poweroff, QEMU killed... */
char *nl_vm_why_stopped(const NlState *st, const char *domain, const char *log);

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

/* Runs `tmux ARGV...`; FALSE when it fails, with what tmux said in ERROR. */
gboolean nl_tmux(const char *const *argv, GError **error);

/* A tmux session with one window per VM of the lab in LABDIR, each on that
 * VM's console; made once per lab, then attached to (switched to, inside
 * tmux). Without a terminal it only tells SAY how to attach. */
gboolean nl_tmux_open(const char *labdir, const NlState *st, const NlProgress *say, GError **error);
