/* netlab capture: the frames of a LAN, or of one interface, as pcap on
 * stdout (for tcpdump -r - or wireshark -k -i -) or into a file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "cmd.h"
#include "events.h"
#include "util.h"

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
  if (!nl_capture_check_filter(filter, error)) return -1;
  if (!file && isatty(STDOUT_FILENO)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "capture: stdout is a terminal: give -w FILE, or pipe it, as in "
                "`netlab capture %s | tcpdump -nr -`",
                argv[1]);
    return -1;
  }
  NlCapture c = {.statedir = t.st->dir,
                 .filter = filter,
                 .count = count,
                 .duration_s = duration,
                 .live = file == NULL,
                 .ready = ready};
  Started started = {.target = argv[1], .statedir = t.st->dir, .labdir = t.labdir, .file = file};
  g_snprintf(started.pid, sizeof started.pid, "%d", (int)getpid());
  c.data = &started;
  if (!nl_capture_target(t.lab, t.st, argv[1], &c, error)) return -1;
  c.out = file ? fopen(file, "wb") : fdopen(dup(STDOUT_FILENO), "wb");
  if (!c.out) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write '%s': %s", file ? file : "stdout",
                g_strerror(errno));
    return -1;
  }
  guint64 frames = 0;
  started.lan = c.lan;
  gboolean ok = nl_capture_run(&c, &frames, error);
  g_autofree char *n = g_strdup_printf("%" G_GUINT64_FORMAT, frames);
  nl_event_emit(t.st->dir, t.labdir, "capture", "target", argv[1], "lan", c.lan, "state", "stopped",
                "pid", started.pid, "frames", n, "why", ok ? NULL : (*error)->message, NULL);
  if (!ok) return -1;
  fprintf(stderr, "netlab: %" G_GUINT64_FORMAT " frame%s captured on %s%s%s\n", frames,
          frames == 1 ? "" : "s", argv[1], file ? " into " : "", file ? file : "");
  return 0;
}

const NlCmd nl_cmd_capture = {"capture", NULL, "capture a LAN's or an interface's frames as pcap",
                              .target = NL_TARGET_UP, .run = run};
