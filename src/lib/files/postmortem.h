/* What `netlab test` keeps of nodes after a failure, beyond the probes it
 * runs: each node's own /var/log and the list of files it changed, through
 * the agent while its VM runs, else from its disk (libguestfs, after the VM
 * stopped; all disks in one launch). */
#pragma once

#include <glib.h>

/* Into DIR/<node>/, with a line per file in INDEX saying where it came
 * from, and a line for each node nothing could be read from. */
gboolean nl_postmortem(const char *labdir, char **nodes, const char *dir, GString *index,
                       GError **error);
