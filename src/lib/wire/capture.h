/* Capturing a LAN's frames on the host: a plug into the LAN's switch, a hub
 * (vde.h), written as pcap through libpcap. A wire (link.h) has no switch: there QEMU's
 * filter-dump writes what crosses one of its two NICs, both ways, into a
 * FIFO that libpcap reads. */
#pragma once

#include <stdio.h>

#include <glib.h>

typedef struct {
  const char *statedir;
  const char *lan;
  /* On a wire: the node and ethN whose QEMU dumps the frames, and the lab
   * (for `netlab monitor`). */
  const char *wire_node;
  guint wire_index;
  const char *labdir;
  /* NULL: every frame of the LAN. Else what one interface sees: frames from
   * or to this MAC, and broadcast and multicast. */
  const guint8 *mac;
  const char *filter; /* a BPF expression (pcap-filter(7)), or NULL */
  guint64 count;      /* stop after that many frames; 0: no limit */
  guint duration_s;   /* stop after that long; 0: no limit */
  FILE *out;          /* the pcap stream; closed by nl_capture_run */
  gboolean live;      /* flush after each frame, for a reader on a pipe */
  /* Called once frames are being captured; may be NULL. */
  void (*ready)(void *data);
  void *data;
} NlCapture;

/* The interface of netlab-capture.so, which holds libpcap: libpcap pulls in
 * D-Bus, systemd and libgcrypt, which cost every netlab command about 2 ms
 * to load (`netlab exec` is 7 ms of process start), so only `netlab
 * capture` loads them. */
typedef struct {
  /* Checks a BPF expression as run would compile it. */
  gboolean (*check_filter)(const char *filter, GError **error);
  /* Captures until COUNT frames, DURATION_S seconds, SIGINT, SIGTERM or
   * SIGHUP, or until the reader of OUT goes away; the pcap stream is
   * complete in every case. *FRAMES says how many frames were written. */
  gboolean (*run)(const NlCapture *c, guint64 *frames, GError **error);
} NlCaptureBackend;

/* The one symbol the module exports. */
#define NL_CAPTURE_BACKEND "nl_capture_backend"
