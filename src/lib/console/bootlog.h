/* What a VM's logs say when it failed to boot or stopped: the end of its
 * console log, and the reason libvirt noted for its QEMU. */
#pragma once

#include <glib.h>

#include "state.h"

/* The last LINES lines of the log at PATH, with control characters blanked,
 * joined by newlines; "" when there is none. */
char *nl_log_tail(const char *path, guint lines);

/* Why the VM whose libvirt domain is DOMAIN and console log LOG stopped, in
 * a few words: a kernel panic, the guest's poweroff, QEMU killed... */
char *nl_vm_why_stopped(const NlState *st, const char *domain, const char *log);
