/* netlab capture's host side: what to capture (a LAN, or one interface,
 * of a lab that runs), and the capture itself through netlab-capture.so,
 * which only this loads (see capture-backend.h). */
#pragma once

#include "capture-backend.h"
#include "lab.h"
#include "state.h"

/* Loads netlab-capture.so, and checks FILTER, a BPF expression
 * (pcap-filter(7)) or NULL, as the capture would compile it. */
gboolean nl_capture_check_filter(const char *filter, GError **error);

/* Fills in what C captures from WHAT, a LAN or NODE:ethN of LAB, whose
 * state is ST: the LAN, the MAC of one interface, and on a wire the node
 * whose QEMU dumps the frames (which must run). */
gboolean nl_capture_target(const NlLab *lab, const NlState *st, const char *what, NlCapture *c,
                           GError **error);

/* Captures as C says (see NlCaptureBackend's run). */
gboolean nl_capture_run(const NlCapture *c, guint64 *frames, GError **error);
