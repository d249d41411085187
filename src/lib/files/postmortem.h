/* What `netlab test` keeps of nodes after a failure: probes of each VM
 * (addresses, routes, dmesg), each node's own /var/log and the list of
 * files it changed, through the agent while its VM runs, else from its disk
 * (libguestfs, after the VM stopped; all disks in one launch). All of it
 * read in a child with the QEMU user's rights (privdrop.h), bounded, and
 * written here into files netlab creates. */
#pragma once

#include <glib.h>

/* Into DIR/<node>/, with a line per file in INDEX saying where it came
 * from, and a line for each node nothing could be read from. */
gboolean nl_postmortem(const char *labdir, char **nodes, const char *dir, GString *index,
                       GError **error);

/* The probes of NODE's VM, through its agent, each into VMDIR/<probe>.txt
 * (its output, or why it could not run). */
void nl_postmortem_probes(const char *statedir, const char *node, const char *vmdir);
