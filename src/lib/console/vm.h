/* A VM of a running lab, as the commands that reach it name it (netlab
 * console r1, netlab gdb r1...): its lab, its state and the paths of its
 * sockets in the state directory. */
#pragma once

#include <glib.h>

#include "layout.h"
#include "state.h"
#include "util.h"

typedef struct {
  char *labdir;
  char *node;
  NlState *st;
  NlVmPaths paths;
} NlVm;

/* Whether NODE can name a VM (as lab.conf allows): else an error. Also
 * keeps a name from walking out of the state directory. */
gboolean nl_vm_check_name(const char *node, GError **error);

/* VM NODE of the lab in LABDIR, which must be up and have that VM. */
NlVm *nl_vm_find(const char *labdir, const char *node, GError **error);
void nl_vm_free(NlVm *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlVm, nl_vm_free)

/* The host VM runs on (LAB_HOSTS), or NULL where `up` runs. */
char *nl_vm_host(const NlVm *vm);

/* The names of the VMs of a lab that is up, sorted. */
GPtrArray *nl_vm_names(const NlState *st);
