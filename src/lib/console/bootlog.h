/* What a VM's logs say when it failed to boot or stopped: the end of its
 * console log, and the reason libvirt noted for its QEMU. */
#pragma once

#include <glib.h>

#include "state.h"

/* The last LINES lines of the log at PATH, with control characters blanked,
 * joined by newlines; "" when there is none. */
char *nl_log_tail(const char *path, guint lines);

/* How many of a console log's last lines hold a panic's whole report: its
 * first line, the backtrace (60 lines and more on a debug kernel) and the
 * registers. With panic=-1 the VM resets right after, and what the UART
 * still held is lost, so the panic's line at the top is what tells. */
#define NL_LOG_PANIC_LINES 200

/* The line "Kernel panic - ..." of the last boot in TAIL (a log's end, from
 * nl_log_tail), or NULL when that boot did not panic: a panic before the
 * last kernel's banner ("Linux version") was an earlier boot's. */
const char *nl_log_panic(const char *tail);

/* Why the VM whose libvirt domain is DOMAIN and console log LOG stopped, in
 * a few words: a kernel panic, the guest's poweroff, QEMU killed... */
char *nl_vm_why_stopped(const NlState *st, const char *domain, const char *log);
