/* What runs of a lab, gathered once as JSON (the model `netlab status`
 * prints as it is with --json, or as tables): its VMs with their state,
 * pid, sockets and kernel (or why one stopped, and its console's last
 * lines), its LANs, interfaces and disks. */
#pragma once

#include <json-glib/json-glib.h>

#include "state.h"
#include "util.h"

/* The status of the lab in LABDIR, whose state is ST: up or not. Taking
 * the lab's lock and opening libvirt are all it may fail at. SAY hears of
 * the vmcores of kernels that panicked, collected first (vmcore.h). */
JsonNode *nl_status(const char *labdir, NlState *st, const NlProgress *say, GError **error);

/* The QEMU command line libvirt renders from NODE's domain: the bench's
 * bare-QEMU floor boots exactly what netlab boots. */
char *nl_status_qemu_argv(NlState *st, const char *node, GError **error);
