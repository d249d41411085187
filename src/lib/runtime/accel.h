/* KVM or TCG: what QEMU can use on this host, decided once for `up` and for
 * libguestfs' appliance alike. */
#pragma once

#include <glib.h>

typedef enum { NL_ACCEL_AUTO, NL_ACCEL_KVM, NL_ACCEL_TCG } NlAccel;

/* Decides between KVM and TCG. *WHY says why KVM is not used, if it is not. */
gboolean nl_accel_pick(NlAccel want, gboolean *kvm, char **why, GError **error);
