/* netlab capture: the frames of a LAN, or of one interface, as pcap on
 * stdout (for tcpdump -r - or wireshark -k -i -) or into a file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "cmd.h"
#include "events.h"
#include "sandbox.h"
#include "span.h"
#include "util.h"

/* An end of LAN, if LAN is a wire, preferring one whose node runs. */
static const NlNic *wire_end(const NlLab *lab, const NlState *st, const char *lan,
                             const NlNode **node) {
  const NlNic *found = NULL;
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    for (guint j = 0; j < n->nics->len; j++) {
      const NlNic *nic = n->nics->pdata[j];
      if (nic->end < 0 || strcmp(nic->lan, lan) != 0) continue;
      if (!found || nl_proc_alive(st, "qemu", n->name)) {
        found = nic;
        *node = n;
      }
    }
  }
  return found;
}

typedef struct {
  const char *target, *statedir, *labdir, *lan, *file;
  char pid[16];
} Started;

/* Frames are being captured: now, not before, is the capture started. */
static void ready(void *data) {
  const Started *s = data;
  fprintf(stderr, "netlab: capturing on %s\n", s->target);
  nl_event_emit(s->statedir, s->labdir, "capture", "target", s->target, "lan", s->lan, "state",
                "started", "pid", s->pid, "file", s->file, NULL);
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *file = NULL, *filter = NULL;
  gint64 count = 0;
  int duration = 0;
  const GOptionEntry entries[] = {
      {"write", 'w', 0, G_OPTION_ARG_FILENAME, &file, "Write pcap to FILE, not stdout", "FILE"},
      {"filter", 'f', 0, G_OPTION_ARG_STRING, &filter,
       "Keep only frames matching a BPF "
       "expression (pcap-filter(7))",
       "EXPR"},
      {"count", 'c', 0, G_OPTION_ARG_INT64, &count, "Stop after N frames", "N"},
      {"duration", 0, 0, G_OPTION_ARG_INT, &duration, "Stop after S seconds", "S"},
      {NULL}};
  if (!nl_cmd_parse(g, "LAN|NODE:ethN: capture a LAN's or an interface's frames", entries, &argc,
                    &argv, &t, error))
    return -1;
  if (argc != 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "capture: usage: netlab capture [-d LABDIR] [-w FILE] [-f BPF] [-c N] "
                "[--duration S] LAN|NODE:ethN");
    return -1;
  }
  if (count < 0 || duration < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "capture: --count and --duration cannot be negative");
    return -1;
  }
  const NlCaptureBackend *cap =
      nl_load_module("netlab-capture.so", NETLAB_CAPTURE_INSTALLED, NL_CAPTURE_BACKEND, error);
  if (!cap) return -1;
  if (filter && !cap->check_filter(filter, error)) return -1;
  if (!file && isatty(STDOUT_FILENO)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "capture: stdout is a terminal: give -w FILE, or pipe it, as in "
                "`netlab capture %s | tcpdump -nr -`",
                argv[1]);
    return -1;
  }
  const NlLab *lab = t.lab;
  NlState *st = t.st;

  NlCapture c = {.statedir = st->dir,
                 .filter = filter,
                 .count = count,
                 .duration_s = duration,
                 .live = file == NULL,
                 .ready = ready};
  Started started = {.target = argv[1], .statedir = st->dir, .labdir = t.labdir, .file = file};
  g_snprintf(started.pid, sizeof started.pid, "%d", (int)getpid());
  c.data = &started;
  const NlNode *node = NULL;
  const NlNic *nic = NULL;
  if (strchr(argv[1], ':')) {
    if (!(nic = nl_lab_find_nic(lab, argv[1], &node, error))) return -1;
    if (!nl_nic_here(node, "capture", error)) {
      g_prefix_error(error, "capture %s: ", argv[1]);
      return -1;
    }
    c.lan = nic->lan;
    c.mac = nic->mac;
  } else {
    for (guint i = 0; i < lab->lans->len; i++)
      if (strcmp(lab->lans->pdata[i], argv[1]) == 0) c.lan = lab->lans->pdata[i];
    if (!c.lan) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "capture: the lab has no LAN '%s'", argv[1]);
      return -1;
    }
    if (!nl_lan_here(lab, c.lan)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "capture %s: every NIC on it is on another host, where netlab runs only what "
                  "libvirt runs: no switch to capture on",
                  argv[1]);
      return -1;
    }
    /* On a wire, either end sees every frame: one whose node runs. */
    nic = wire_end(lab, st, c.lan, &node);
  }
  if (nic && nic->end >= 0) {
    if (!nl_proc_alive(st, "qemu", node->name)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "capture: LAN '%s' is a wire between two interfaces, captured from the "
                  "QEMU of one: %s is not running",
                  c.lan, node->name);
      return -1;
    }
    c.wire_node = node->name;
    c.wire_index = nic->index;
    c.labdir = lab->dir;
  }
  c.out = file ? fopen(file, "wb") : fdopen(dup(STDOUT_FILENO), "wb");
  if (!c.out) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write '%s': %s", file ? file : "stdout",
                g_strerror(errno));
    return -1;
  }
  guint64 frames = 0;
  started.lan = c.lan;
  gboolean ok = cap->run(&c, &frames, error);
  g_autofree char *n = g_strdup_printf("%" G_GUINT64_FORMAT, frames);
  nl_event_emit(st->dir, t.labdir, "capture", "target", argv[1], "lan", c.lan, "state", "stopped",
                "pid", started.pid, "frames", n, "why", ok ? NULL : (*error)->message, NULL);
  if (!ok) return -1;
  fprintf(stderr, "netlab: %" G_GUINT64_FORMAT " frame%s captured on %s%s%s\n", frames,
          frames == 1 ? "" : "s", argv[1], file ? " into " : "", file ? file : "");
  return 0;
}

const NlCmd nl_cmd_capture = {"capture", NULL, "capture a LAN's or an interface's frames as pcap",
                              .target = NL_TARGET_UP, .run = run};
