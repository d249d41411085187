#include "capture.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libvdeplug.h>
#include <pcap/pcap.h>

#include "domxml.h"
#include "util.h"
#include "vde.h"

/* Captures say who they are to the switch, so the last one to leave can tell
 * that no other capture still needs the hub. */
#define CAPTURE_DESCR "netlab-capture"
#define SNAPLEN 65535

static pcap_t *dead_handle(void) { return pcap_open_dead(DLT_EN10MB, SNAPLEN); }

static gboolean compile(pcap_t *p, const char *filter, struct bpf_program *prog, GError **error) {
  if (pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "bad capture filter '%s': %s", filter,
              pcap_geterr(p));
  return FALSE;
}

gboolean nl_capture_check_filter(const char *filter, GError **error) {
  pcap_t *p = dead_handle();
  struct bpf_program prog;
  gboolean ok = compile(p, filter, &prog, error);
  if (ok) pcap_freecode(&prog);
  pcap_close(p);
  return ok;
}

typedef struct {
  const NlCapture *c;
  VDECONN *conn;
  pcap_t *pcap;
  pcap_dumper_t *dump;
  struct bpf_program prog;
  gboolean have_prog;
  guint64 frames;
  GMainLoop *loop;
  GError *error;
} Cap;

static gboolean mine(const NlCapture *c, const guint8 *f, gsize len) {
  if (!c->mac) return TRUE;
  if (len < 14) return FALSE;
  /* The group bit: broadcast and multicast reach every interface. */
  return (f[0] & 1) || memcmp(f, c->mac, 6) == 0 || memcmp(f + 6, c->mac, 6) == 0;
}

static gboolean on_frame(int fd, GIOCondition cond, gpointer data) {
  Cap *cap = data;
  guint8 buf[VDE_ETHBUFSIZE];
  ssize_t n = vde_recv(cap->conn, buf, sizeof buf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return G_SOURCE_CONTINUE;
    g_set_error(&cap->error, NL_ERROR, NL_ERROR_FAILED,
                "the switch of '%s' went away (is the lab still up?)", cap->c->lan);
    g_main_loop_quit(cap->loop);
    return G_SOURCE_REMOVE;
  }
  struct pcap_pkthdr h = {.caplen = n, .len = n};
  gettimeofday(&h.ts, NULL);
  if (!mine(cap->c, buf, n)) return G_SOURCE_CONTINUE;
  if (cap->have_prog && !pcap_offline_filter(&cap->prog, &h, buf)) return G_SOURCE_CONTINUE;
  pcap_dump((u_char *)cap->dump, &h, buf);
  cap->frames++;
  if (cap->c->live && pcap_dump_flush(cap->dump) != 0) {
    /* The reader (tcpdump, Wireshark) closed the pipe: its choice. */
    g_main_loop_quit(cap->loop);
    return G_SOURCE_REMOVE;
  }
  if (cap->c->count && cap->frames >= cap->c->count) g_main_loop_quit(cap->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean on_stop(gpointer data) {
  g_main_loop_quit(((Cap *)data)->loop);
  return G_SOURCE_CONTINUE;
}

/* The LAN stays a hub while another capture is plugged in. */
static void leave_hub(const char *mgmt) {
  g_autofree char *ports = nl_vde_mgmt(mgmt, "port/print", NULL);
  if (ports && !strstr(ports, CAPTURE_DESCR)) g_free(nl_vde_mgmt(mgmt, "port/sethub 0", NULL));
}

gboolean nl_capture_run(const NlCapture *c, guint64 *frames, GError **error) {
  Cap cap = {.c = c};
  gboolean ok = FALSE;
  g_autofree char *sock = nl_layout_lan(c->statedir, c->lan);
  g_autofree char *mgmt = nl_layout_lan_mgmt(c->statedir, c->lan);
  g_autoptr(GMainContext) ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  GSource *sources[5] = {0};

  cap.pcap = dead_handle();
  if (c->filter && !(cap.have_prog = compile(cap.pcap, c->filter, &cap.prog, error))) goto out;
  cap.dump = pcap_dump_fopen(cap.pcap, c->out);
  if (!cap.dump) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot write pcap: %s", pcap_geterr(cap.pcap));
    goto out;
  }
  /* The header alone tells a reader on a pipe that the stream has begun. */
  pcap_dump_flush(cap.dump);

  cap.conn = vde_open(sock, CAPTURE_DESCR, NULL);
  if (!cap.conn) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot plug into the switch of '%s': %s", c->lan,
                g_strerror(errno));
    goto out;
  }
  /* Plugged in first, then a hub: a capture that ends meanwhile sees this
   * one and leaves the hub on. */
  char *r = nl_vde_mgmt(mgmt, "port/sethub 1", error);
  if (!r) goto out;
  g_free(r);

  cap.loop = g_main_loop_new(ctx, FALSE);
  GSource *s = g_unix_fd_source_new(vde_datafd(cap.conn), G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback(s, G_SOURCE_FUNC(on_frame), &cap, NULL);
  sources[0] = s;
  int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++) {
    sources[1 + i] = g_unix_signal_source_new(sigs[i]);
    g_source_set_callback(sources[1 + i], on_stop, &cap, NULL);
  }
  if (c->duration_s) {
    sources[4] = g_timeout_source_new_seconds(c->duration_s);
    g_source_set_callback(sources[4], on_stop, &cap, NULL);
  }
  for (int i = 0; i < 5; i++)
    if (sources[i]) g_source_attach(sources[i], ctx);
  if (c->ready) c->ready(c->data);
  g_main_loop_run(cap.loop);
  if (cap.error) {
    g_propagate_error(error, g_steal_pointer(&cap.error));
    goto out;
  }
  ok = TRUE;

out:
  for (int i = 0; i < 5; i++)
    if (sources[i]) {
      g_source_destroy(sources[i]);
      g_source_unref(sources[i]);
    }
  if (cap.conn) {
    vde_close(cap.conn);
    leave_hub(mgmt);
  }
  if (cap.loop) g_main_loop_unref(cap.loop);
  g_main_context_pop_thread_default(ctx);
  if (cap.dump)
    pcap_dump_close(cap.dump); /* flushes and closes c->out */
  else
    fclose(c->out);
  if (cap.have_prog) pcap_freecode(&cap.prog);
  pcap_close(cap.pcap);
  if (frames) *frames = cap.frames;
  return ok;
}
