/* Bringing a lab up and down: switches, kernels, VMs, waiting for readiness,
 * and tearing down whatever was started when anything fails. */
#pragma once

#include "lab.h"
#include "state.h"
#include "util.h"

typedef enum { NL_ACCEL_AUTO, NL_ACCEL_KVM, NL_ACCEL_TCG } NlAccel;

typedef enum { NL_VM_WAITING, NL_VM_BOOTING, NL_VM_READY, NL_VM_FAILED } NlVmPhase;

/* One VM as up shows it. */
typedef struct {
  const char *name;
  NlVmPhase phase;
  double secs;    /* BOOTING: since it was started; READY: how long it took */
  int startup_rc; /* READY: the status of its startup commands */
} NlVmStatus;

/* How up tells its caller what happens (see util.h); VMS may be NULL. */
typedef struct {
  NlProgress say;
  /* Every VM, in lab order, after one changed phase (CHANGED its index),
   * and every TICK_MS while up waits for them (CHANGED -1). */
  void (*vms)(const NlVmStatus *vms, guint n, int changed, gpointer data);
} NlUpProgress;

#define NL_UP_TICK_MS 500

typedef struct {
  const char *uri; /* libvirt URI; NULL: the embedded driver */
  NlAccel accel;
  const char *kernel; /* --kernel: overrides LAB_KERNEL and r1[kernel] */
  guint timeout_s;    /* for every VM to become ready; 0: nl_budget_timeout() */
  const NlUpProgress *progress;
  gboolean join; /* part of the lab is up: start LAB's nodes beside it (partial.h) */
  int pull;      /* --pull-images: an NlPullPolicy; -1: the lab's (LAB_PULL_IMAGES) */
} NlUpOptions;

/* Decides between KVM and TCG. *WHY says why KVM is not used, if it is not. */
gboolean nl_accel_pick(NlAccel want, gboolean *kvm, char **why, GError **error);

/* ST must be locked by the caller. On failure, everything started is
 * stopped again and the state directory removed; what could not be is a
 * warning through O's progress. */
gboolean nl_run_up(const NlLab *lab, NlState *st, const NlUpOptions *o, GError **error);

/* Runs <node>.shutdown, then shared.shutdown, in every running node of the
 * lab, as Kathará does before it stops a node: with their output on the
 * node's console, and each node's scripts killed after TIMEOUT_S. Returns
 * one message per node whose scripts did not finish or could not run. */
GPtrArray *nl_run_shutdown_scripts(NlState *st, guint timeout_s);

/* Stops every VM and switch of the lab and removes its state directory.
 * Works whatever state a crashed or killed `up` left. ST must be locked.
 * A domain a shared libvirt would not destroy is a warning through P. */
gboolean nl_run_down(NlState *st, const NlProgress *p, GError **error);
