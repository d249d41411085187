#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libvdeplug.h>
#include <pcap/pcap.h>

#include "layout.h"
#include "util.h"

#define SNAPLEN 65535

static pcap_t *dead_handle(void) { return pcap_open_dead(DLT_EN10MB, SNAPLEN); }

static gboolean compile(pcap_t *p, const char *filter, struct bpf_program *prog, GError **error) {
  if (pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "bad capture filter '%s': %s", filter,
              pcap_geterr(p));
  return FALSE;
}

static gboolean check_filter(const char *filter, GError **error) {
  pcap_t *p = dead_handle();
  struct bpf_program prog;
  gboolean ok = compile(p, filter, &prog, error);
  if (ok) pcap_freecode(&prog);
  pcap_close(p);
  return ok;
}

typedef struct {
  const NlCapture *c;
  VDECONN *conn; /* on a switch */
  pcap_t *in;    /* on a wire: QEMU's filter-dump, read as a savefile */
  FILE *fifo;
  int fifo_fd; /* pcap_fileno() is -1 for a savefile */
  char *fifo_path, *dump_id;
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

/* The next frame from the switch, or from the wire's filter-dump. */
static gboolean next_frame(Cap *cap, struct pcap_pkthdr *h, const guint8 **frame, guint8 *buf) {
  if (cap->in) {
    struct pcap_pkthdr *ph;
    const u_char *data;
    if (pcap_next_ex(cap->in, &ph, &data) != 1) return FALSE;
    *h = *ph;
    *frame = data;
    return TRUE;
  }
  ssize_t n;
  do n = vde_recv(cap->conn, buf, VDE_ETHBUFSIZE, 0);
  while (n < 0 && errno == EINTR);
  if (n == 0) errno = EPIPE;
  if (n <= 0) return FALSE;
  *h = (struct pcap_pkthdr){.caplen = n, .len = n};
  gettimeofday(&h->ts, NULL);
  *frame = buf;
  return TRUE;
}

static gboolean on_frame(int fd, GIOCondition cond, gpointer data) {
  Cap *cap = data;
  guint8 buf[VDE_ETHBUFSIZE];
  struct pcap_pkthdr h;
  const guint8 *frame;
  if (!next_frame(cap, &h, &frame, buf)) {
    if (!cap->in && errno == EAGAIN) return G_SOURCE_CONTINUE;
    g_set_error(&cap->error, NL_ERROR, NL_ERROR_FAILED,
                cap->in ? "the wire of '%s' went away (is the lab still up?)"
                        : "the switch of '%s' went away (is the lab still up?)",
                cap->c->lan);
    g_main_loop_quit(cap->loop);
    return G_SOURCE_REMOVE;
  }
  if (!mine(cap->c, frame, h.caplen)) return G_SOURCE_CONTINUE;
  if (cap->have_prog && !pcap_offline_filter(&cap->prog, &h, frame)) return G_SOURCE_CONTINUE;
  pcap_dump((u_char *)cap->dump, &h, frame);
  cap->frames++;
  if (cap->c->live && pcap_dump_flush(cap->dump) != 0) {
    /* The reader (tcpdump, Wireshark) closed the pipe: its choice. */
    g_main_loop_quit(cap->loop);
    return G_SOURCE_REMOVE;
  }
  if (cap->c->count && cap->frames >= cap->c->count) g_main_loop_quit(cap->loop);
  return G_SOURCE_CONTINUE;
}

/* An HMP COMMAND in the QEMU of the wire's node, which says nothing when it
 * works (util.h: a capture runs long). */
static gboolean wire_hmp(const NlCapture *c, const char *command, GError **error) {
  g_autofree char *out = NULL;
  return nl_monitor_child(c->labdir, c->wire_node, command, &out, error);
}

/* A pipe's default 64 KiB is 43 full-size frames: a burst would stall
 * QEMU while this process is not scheduled. */
#define FIFO_BYTES (1024 * 1024)

/* Has QEMU dump the frames crossing the wire's NIC into a FIFO of ours. */
static gboolean wire_open(Cap *cap, GError **error) {
  const NlCapture *c = cap->c;
  cap->fifo_path = nl_layout_capture_fifo(c->statedir, c->lan, (int)getpid());
  unlink(cap->fifo_path);
  if (mkfifo(cap->fifo_path, 0600) != 0)
    return nl_set_errno(error, errno, "cannot make '%s'", cap->fifo_path);
  /* QEMU writes it as the QEMU user, whose group alone may enter STATE. */
  if (chmod(cap->fifo_path, 0622) != 0)
    return nl_set_errno(error, errno, "cannot chmod '%s'", cap->fifo_path);
  /* Open before QEMU does, or its open would wait for a reader. */
  int fd = open(cap->fifo_path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return nl_set_errno(error, errno, "cannot open '%s'", cap->fifo_path);
  fcntl(fd, F_SETPIPE_SZ, FIFO_BYTES);
  cap->fifo_fd = fd;
  cap->fifo = fdopen(fd, "rb");
  if (!cap->fifo) {
    close(fd);
    return nl_set_errno(error, errno, "fdopen");
  }
  cap->dump_id = g_strdup_printf("netlab-capture-%d", (int)getpid());
  g_autofree char *add = g_strdup_printf("object_add filter-dump,id=%s,netdev=nl%u,file=%s",
                                         cap->dump_id, c->wire_index, cap->fifo_path);
  if (!wire_hmp(c, add, error)) {
    g_clear_pointer(&cap->dump_id, g_free);
    return FALSE;
  }
  /* From here on, reads wait for QEMU; unbuffered, so that what poll()
   * says is there has not been read ahead into stdio's buffer. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  setvbuf(cap->fifo, NULL, _IONBF, 0);
  char err[PCAP_ERRBUF_SIZE];
  cap->in = pcap_fopen_offline(cap->fifo, err);
  if (!cap->in) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "the dump of %s:eth%u: %s", c->wire_node,
                c->wire_index, err);
    return FALSE;
  }
  cap->fifo = NULL; /* pcap_close() closes it */
  return TRUE;
}

static void wire_close(Cap *cap) {
  if (cap->dump_id) {
    g_autofree char *del = g_strdup_printf("object_del %s", cap->dump_id);
    /* If this fails (the lab is going down), QEMU stops dumping by itself
     * once the FIFO has no reader. */
    wire_hmp(cap->c, del, NULL);
  }
  if (cap->in) pcap_close(cap->in);
  if (cap->fifo) fclose(cap->fifo);
  if (cap->fifo_path) unlink(cap->fifo_path);
  g_free(cap->fifo_path);
  g_free(cap->dump_id);
}

static gboolean on_stop(gpointer data) {
  g_main_loop_quit(((Cap *)data)->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean run(const NlCapture *c, guint64 *frames, GError **error) {
  Cap cap = {.c = c};
  gboolean ok = FALSE;
  g_autofree char *sock = nl_layout_lan(c->statedir, c->lan);
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

  if (c->wire_node) {
    if (!wire_open(&cap, error)) goto out;
  } else {
    /* The switch is a hub (vde.h): a port sees every frame. */
    cap.conn = vde_open(sock, "netlab-capture", NULL);
    if (!cap.conn) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot plug into the switch of '%s': %s",
                  c->lan, g_strerror(errno));
      goto out;
    }
  }

  cap.loop = g_main_loop_new(ctx, FALSE);
  int fd = cap.in ? cap.fifo_fd : vde_datafd(cap.conn);
  GSource *s = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
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
  if (cap.conn) vde_close(cap.conn);
  wire_close(&cap);
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

const NlCaptureBackend nl_capture_backend = {check_filter, run};
