/* netlab web: the labs that are up, in a browser. A libsoup server on
 * GLib's main loop serves a small page (web/), the labs' topology from
 * their model, their events over a WebSocket, consoles and shells over
 * WebSockets, and POST calls for links, impairments, captures and
 * restarts.
 *
 * Every operation is the netlab command's own, run as a child: the
 * embedded libvirt driver stays with the process that opened it, and one
 * process at a time may hold a lab's, so the server never opens it; and a
 * child of the user's netlab can do exactly what that user's netlab can,
 * nothing more. What the page names (a lab, a node, an interface, a LAN)
 * is checked against the labs served before anything runs.
 *
 * Safe by default: loopback unless --listen says otherwise; a random token,
 * printed in the URL, on every request (a cookie after the first page);
 * WebSockets whose Origin is not the server's are refused; what changes
 * anything is a POST that carries the token in a header, which no other
 * site's page can send. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cmd.h"
#include "config.h"
#include "events.h"
#include "graph.h"
#include "impair.h"
#include "layout.h"
#include "nodefile.h"
#include "state.h"
#include "util.h"

#define DEFAULT_LISTEN "127.0.0.1:8023"
#define COOKIE "netlab_token"
#define TOKEN_HEADER "X-Netlab-Token"
/* What a POST body may hold, and what a WebSocket message from the page. */
#define BODY_MAX (16 * 1024)
/* Output of a child that answers a POST, kept for the reply. */
#define CHILD_OUT_MAX (64 * 1024)

typedef struct Web Web;

typedef struct {
  Web *web;
  char *dir;   /* the lab directory: the page's name for the lab */
  NlLab *lab;  /* its model, or NULL when it does not load */
  char *graph; /* `netlab graph -T json`'s output: with addresses */
  gboolean graph_running;
  GSubprocess *events; /* netlab events --json --initial-state */
  GDataInputStream *events_in;
  GHashTable *state; /* key -> the last event line about it */
  GPtrArray *order;  /* the keys, in the order they came */
} Lab;

typedef struct {
  char *id;
  char *file;
  Lab *lab;
  char *target;
  GSubprocess *proc;
  gboolean done;
} Capture;

struct Web {
  char *token;
  char *webdir;
  char *origin_host;        /* host:port the server is reached at, or NULL: any */
  gboolean named;           /* labs were named: no other is served */
  GPtrArray *labs;          /* Lab* */
  GPtrArray *event_clients; /* EventClient* */
  GHashTable *captures;     /* id -> Capture* */
  char *capdir;
  guint next_capture;
  char *self; /* the netlab binary, for the children */
};

/* ---- labs and their events ---- */

static void lab_free(Lab *l) {
  if (l->events) g_subprocess_force_exit(l->events);
  g_clear_object(&l->events);
  g_clear_object(&l->events_in);
  g_clear_pointer(&l->lab, nl_lab_free);
  g_clear_pointer(&l->state, g_hash_table_unref);
  g_clear_pointer(&l->order, g_ptr_array_unref);
  g_free(l->graph);
  g_free(l->dir);
  g_free(l);
}

static Lab *find_lab(Web *w, const char *dir) {
  for (guint i = 0; dir && i < w->labs->len; i++) {
    Lab *l = w->labs->pdata[i];
    if (strcmp(l->dir, dir) == 0) return l;
  }
  return NULL;
}

/* What an event is about: the snapshot keeps the last event of each. */
static char *event_key(JsonObject *o) {
  const char *type = json_object_get_string_member_with_default(o, "type", "");
  const char *node = json_object_get_string_member_with_default(o, "node", "");
  const char *ifname = json_object_get_string_member_with_default(o, "interface", "");
  const char *target = json_object_get_string_member_with_default(o, "target", "");
  const char *pid = json_object_get_string_member_with_default(o, "pid", "");
  if (strcmp(type, "console") == 0) return NULL; /* a log, not a state */
  return g_strdup_printf("%s|%s|%s|%s|%s", type, node, ifname, target, pid);
}

/* The stream libsoup writes a page's frames to (pollable: libsoup needs
 * it so). */
static GPollableOutputStream *page_stream(SoupWebsocketConnection *ws) {
  GIOStream *io = soup_websocket_connection_get_io_stream(ws);
  GOutputStream *out = io ? g_io_stream_get_output_stream(io) : NULL;
  return out && G_IS_POLLABLE_OUTPUT_STREAM(out) &&
                 g_pollable_output_stream_can_poll(G_POLLABLE_OUTPUT_STREAM(out))
             ? G_POLLABLE_OUTPUT_STREAM(out)
             : NULL;
}

/* A page's events. libsoup queues whatever it is given, so a page that
 * stops reading would make the server hold every event from then on. An
 * event goes to libsoup only while the page's stream can take more (as a
 * shell's output does, below); the rest waits here, and a page more than
 * EVENTS_BEHIND_MAX bytes behind is closed with a reason: it connects
 * again and gets the whole state first, as any page does. */
#define EVENTS_BEHIND_MAX (1024 * 1024)
/* Given to libsoup in one go at most, when the stream can take more. */
#define EVENTS_FLUSH_MAX (64 * 1024)

typedef struct {
  Web *w;
  SoupWebsocketConnection *ws;
  GQueue lines; /* char*, not yet given to libsoup */
  gsize queued; /* their bytes */
  GSource *wait;
  char *client;
} EventClient;

static void event_client_free(EventClient *c) {
  if (c->wait) g_source_destroy(c->wait);
  g_clear_pointer(&c->wait, g_source_unref);
  g_queue_clear_full(&c->lines, g_free);
  g_signal_handlers_disconnect_by_data(c->ws, c);
  g_object_unref(c->ws);
  g_free(c->client);
  g_free(c);
}

static gboolean event_client_flush(GObject *stream, gpointer data) {
  EventClient *c = data;
  g_clear_pointer(&c->wait, g_source_unref);
  gsize sent = 0;
  while (!g_queue_is_empty(&c->lines) &&
         soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
    GPollableOutputStream *out = page_stream(c->ws);
    if (sent >= EVENTS_FLUSH_MAX || (out && !g_pollable_output_stream_is_writable(out))) {
      if (!out) break;
      c->wait = g_pollable_output_stream_create_source(out, NULL);
      g_source_set_callback(c->wait, (GSourceFunc)(void (*)(void))event_client_flush, c, NULL);
      g_source_attach(c->wait, NULL);
      break;
    }
    g_autofree char *line = g_queue_pop_head(&c->lines);
    gsize len = strlen(line);
    c->queued -= len;
    sent += len;
    soup_websocket_connection_send_text(c->ws, line);
  }
  return G_SOURCE_REMOVE;
}

static void event_client_send(EventClient *c, const char *line) {
  if (soup_websocket_connection_get_state(c->ws) != SOUP_WEBSOCKET_STATE_OPEN) return;
  gsize len = strlen(line);
  if (c->queued + len > EVENTS_BEHIND_MAX) {
    g_printerr("netlab: web: the events page of %s fell more than %d KiB behind: closed\n",
               c->client, EVENTS_BEHIND_MAX / 1024);
    g_queue_clear_full(&c->lines, g_free);
    c->queued = 0;
    soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                    "fell behind the events: connect again for the state");
    return;
  }
  g_queue_push_tail(&c->lines, g_strdup(line));
  c->queued += len;
  if (!c->wait) event_client_flush(NULL, c);
}

static void broadcast(Web *w, const char *line) {
  for (guint i = 0; i < w->event_clients->len; i++)
    event_client_send(w->event_clients->pdata[i], line);
}

static void start_graph(Lab *l);

static void lab_event(Lab *l, const char *line) {
  g_autoptr(JsonObject) o = nl_event_object(line);
  if (!o) return;
  g_autofree char *key = event_key(o);
  if (key) {
    /* A capture that stopped is history; a lab that went down, all of it. */
    const char *type = json_object_get_string_member_with_default(o, "type", "");
    const char *state = json_object_get_string_member_with_default(o, "state", "");
    if (strcmp(type, "lab") == 0 && strcmp(state, "down") == 0) {
      g_hash_table_remove_all(l->state);
      g_ptr_array_set_size(l->order, 0);
    }
    if (!g_hash_table_contains(l->state, key)) g_ptr_array_add(l->order, g_strdup(key));
    g_hash_table_replace(l->state, g_strdup(key), g_strdup(line));
    /* Addresses are set by the startup scripts: read them once ready. */
    if (strcmp(type, "node") == 0 && strcmp(state, "ready") == 0) start_graph(l);
  }
  broadcast(l->web, line);
}

static void events_line(GObject *src, GAsyncResult *res, gpointer data) {
  Lab *l = data;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_autofree char *line =
      g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(src), res, &len, &error);
  if (!line) {
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_printerr("netlab: web: the events of '%s' ended%s%s\n", l->dir, error ? ": " : "",
                 error ? error->message : "");
    return;
  }
  if (len <= NL_EVENT_LINE_MAX) lab_event(l, line);
  g_data_input_stream_read_line_async(l->events_in, G_PRIORITY_DEFAULT, NULL, events_line, l);
}

static void graph_done(GObject *src, GAsyncResult *res, gpointer data) {
  Lab *l = data;
  g_autofree char *out = NULL;
  l->graph_running = FALSE;
  if (!g_subprocess_communicate_utf8_finish(G_SUBPROCESS(src), res, &out, NULL, NULL)) return;
  if (g_subprocess_get_successful(G_SUBPROCESS(src)) && out && *out) {
    g_free(l->graph);
    l->graph = g_steal_pointer(&out);
    /* The page reads the topology again. */
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "lab");
    json_builder_add_string_value(b, l->dir);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "topology");
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *msg = json_to_string(root, FALSE);
    broadcast(l->web, msg);
  }
}

/* The topology with each interface's addresses, through `netlab graph`. */
static void start_graph(Lab *l) {
  if (l->graph_running) return;
  const char *argv[] = {l->web->self, "graph", "-T", "json", l->dir, NULL};
  g_autoptr(GSubprocess) p = g_subprocess_newv(
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  if (!p) return;
  l->graph_running = TRUE;
  g_subprocess_communicate_utf8_async(p, NULL, NULL, graph_done, l);
}

static Lab *add_lab(Web *w, const char *dir) {
  Lab *l = g_new0(Lab, 1);
  l->web = w;
  l->dir = g_strdup(dir);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  l->lab = nl_lab_load(dir, warnings, NULL);
  l->state = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  l->order = g_ptr_array_new_with_free_func(g_free);
  const char *argv[] = {w->self, "events", "--json", "--initial-state", dir, NULL};
  g_autoptr(GError) error = NULL;
  l->events = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  if (l->events) {
    l->events_in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(l->events));
    g_data_input_stream_read_line_async(l->events_in, G_PRIORITY_DEFAULT, NULL, events_line, l);
  } else {
    g_printerr("netlab: web: no events for '%s': %s\n", dir, error->message);
  }
  g_ptr_array_add(w->labs, l);
  start_graph(l);
  return l;
}

/* With no lab named: every lab of the user's that is up, the new ones too. */
static void scan_labs(Web *w) {
  if (w->named) return;
  g_autoptr(GPtrArray) ups = nl_state_list(NULL);
  for (guint i = 0; ups && i < ups->len; i++) {
    NlLabUp *u = ups->pdata[i];
    if (!find_lab(w, u->lab)) add_lab(w, u->lab);
  }
}

/* ---- requests: the token, the origin ---- */

static gboolean same_token(const Web *w, const char *given) {
  if (!given || strlen(given) != strlen(w->token)) return FALSE;
  /* In constant time: the token is the only secret. */
  guint diff = 0;
  for (gsize i = 0; given[i]; i++) diff |= (guchar)given[i] ^ (guchar)w->token[i];
  return diff == 0;
}

static char *cookie_token(SoupServerMessage *msg) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  const char *header = soup_message_headers_get_list(h, "Cookie");
  if (!header) return NULL;
  g_auto(GStrv) parts = g_strsplit(header, ";", -1);
  for (char **p = parts; *p; p++) {
    char *kv = g_strstrip(*p);
    if (g_str_has_prefix(kv, COOKIE "=")) return g_strdup(kv + strlen(COOKIE "="));
  }
  return NULL;
}

/* The Origin of a browser's request, when it sends one, must be this
 * server as the browser reached it. */
static gboolean origin_ok(const Web *w, SoupServerMessage *msg) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  const char *origin = soup_message_headers_get_one(h, "Origin");
  const char *host = soup_message_headers_get_one(h, "Host");
  if (!host) return FALSE;
  /* A name other than the one listened on is a page of another site
   * resolving its own name to this address (DNS rebinding). */
  if (w->origin_host && strcmp(host, w->origin_host) != 0) {
    const char *colon = strrchr(w->origin_host, ':');
    g_autofree char *local = g_strconcat("localhost", colon ? colon : "", NULL);
    if (strcmp(host, local) != 0) return FALSE;
  }
  if (!origin) return TRUE;
  g_autofree char *want = g_strconcat("http://", host, NULL);
  return strcmp(origin, want) == 0;
}

typedef enum { AUTH_GET, AUTH_POST, AUTH_WS } AuthKind;

/* Whether MSG may go on; if not, its reply is set. */
static gboolean authorized(Web *w, SoupServerMessage *msg, GHashTable *query, AuthKind kind) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  if (!origin_ok(w, msg)) {
    soup_server_message_set_status(msg, SOUP_STATUS_FORBIDDEN, NULL);
    soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_STATIC,
                                     "netlab web: wrong Origin or Host\n", 33);
    return FALSE;
  }
  g_autofree char *cookie = cookie_token(msg);
  const char *header = soup_message_headers_get_one(h, TOKEN_HEADER);
  const char *in_query = query ? g_hash_table_lookup(query, "token") : NULL;
  gboolean ok;
  if (kind == AUTH_POST)
    /* Another site's page can make a browser send the cookie, never a
     * header of ours. */
    ok = same_token(w, header);
  else
    ok = same_token(w, header) || same_token(w, cookie) || same_token(w, in_query);
  if (ok) return TRUE;
  soup_server_message_set_status(msg, SOUP_STATUS_FORBIDDEN, NULL);
  static const char text[] = "netlab web: a token is needed: open the URL netlab web printed\n";
  soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_STATIC, text, sizeof text - 1);
  return FALSE;
}

static void reply(SoupServerMessage *msg, guint status, const char *type, const char *body) {
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, body, strlen(body));
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
}

static void reply_json(SoupServerMessage *msg, guint status, JsonBuilder *b) {
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  reply(msg, status, "application/json", text);
}

static void reply_error(SoupServerMessage *msg, guint status, const char *message) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "error");
  json_builder_add_string_value(b, message);
  json_builder_end_object(b);
  reply_json(msg, status, b);
}

/* ---- static files ---- */

typedef struct {
  const char *url, *file, *type;
} Asset;

/* Only these: nothing else of the disk is reachable through the server. */
static const Asset assets[] = {
    {"/static/app.js", "app.js", "text/javascript"},
    {"/static/style.css", "style.css", "text/css"},
    {"/vendor/xterm.js", "node_modules/@xterm/xterm/lib/xterm.js", "text/javascript"},
    {"/vendor/xterm.css", "node_modules/@xterm/xterm/css/xterm.css", "text/css"},
    {"/vendor/addon-fit.js", "node_modules/@xterm/addon-fit/lib/addon-fit.js", "text/javascript"},
};

static void serve_file(Web *w, SoupServerMessage *msg, const char *rel, const char *type,
                       gboolean page) {
  g_autofree char *path = g_build_filename(w->webdir, rel, NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &text, &len, NULL)) {
    g_autofree char *m = g_strdup_printf(
        "netlab web: %s is missing (scripts/setup installs the page's packages)\n", path);
    reply(msg, SOUP_STATUS_NOT_FOUND, "text/plain", m);
    return;
  }
  if (page) {
    /* The page carries its token for the POSTs it makes. */
    g_autoptr(GString) s = g_string_new_len(text, len);
    g_string_replace(s, "@TOKEN@", w->token, 0);
    reply(msg, SOUP_STATUS_OK, type, s->str);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    g_autofree char *cookie =
        g_strdup_printf(COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", w->token);
    soup_message_headers_append(h, "Set-Cookie", cookie);
    soup_message_headers_replace(h, "Content-Security-Policy",
                                 "default-src 'self'; connect-src 'self'; "
                                 "frame-ancestors 'none'; style-src 'self' 'unsafe-inline'");
    soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
    return;
  }
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, g_steal_pointer(&text), len);
}

/* ---- the topology ---- */

static void api_labs(Web *w, SoupServerMessage *msg) {
  scan_labs(w);
  GString *s = g_string_new("[");
  for (guint i = 0; i < w->labs->len; i++) {
    Lab *l = w->labs->pdata[i];
    g_autofree char *model = l->graph ? NULL : l->lab ? nl_graph_json(l->lab, NULL) : NULL;
    const char *g = l->graph ? l->graph : model;
    if (!g) continue;
    if (s->len > 1) g_string_append_c(s, ',');
    g_string_append(s, g);
  }
  g_string_append(s, "]");
  reply(msg, SOUP_STATUS_OK, "application/json", s->str);
  g_string_free(s, TRUE);
}

/* ---- POST calls: a netlab child each ---- */

typedef struct {
  SoupServerMessage *msg;
  Web *w;
  Capture *capture; /* a capture's stop */
} Pending;

static void child_done(GObject *src, GAsyncResult *res, gpointer data) {
  Pending *p = data;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *proc = G_SUBPROCESS(src);
  gboolean ran = g_subprocess_communicate_utf8_finish(proc, res, &out, &err, &error);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "ok");
  gboolean ok = ran && g_subprocess_get_successful(proc);
  json_builder_add_boolean_value(b, ok);
  json_builder_set_member_name(b, "output");
  json_builder_add_string_value(b, out ? g_strstrip(out) : "");
  json_builder_set_member_name(b, "error");
  json_builder_add_string_value(b, err ? g_strstrip(err) : error ? error->message : "");
  json_builder_end_object(b);
  reply_json(p->msg, ok ? SOUP_STATUS_OK : SOUP_STATUS_UNPROCESSABLE_ENTITY, b);
  soup_server_message_unpause(p->msg);
  g_object_unref(p->msg);
  g_free(p);
}

/* Runs `netlab ARGV...` and replies with what it said. */
static void run_child(Web *w, SoupServerMessage *msg, const char *const *argv) {
  g_autoptr(GPtrArray) full = g_ptr_array_new();
  g_ptr_array_add(full, w->self);
  for (const char *const *a = argv; *a; a++) g_ptr_array_add(full, (gpointer)*a);
  g_ptr_array_add(full, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc =
      g_subprocess_newv((const char *const *)full->pdata,
                        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  if (!proc) {
    reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
    return;
  }
  Pending *p = g_new0(Pending, 1);
  p->msg = g_object_ref(msg);
  p->w = w;
  soup_server_message_pause(msg);
  g_subprocess_communicate_utf8_async(proc, NULL, NULL, child_done, p);
}

static const NlNode *find_node(const Lab *l, const char *name) {
  for (guint i = 0; l->lab && name && i < l->lab->nodes->len; i++) {
    const NlNode *n = l->lab->nodes->pdata[i];
    if (strcmp(n->name, name) == 0) return n;
  }
  return NULL;
}

static gboolean is_lan(const Lab *l, const char *name) {
  for (guint i = 0; l->lab && name && i < l->lab->lans->len; i++)
    if (strcmp(l->lab->lans->pdata[i], name) == 0) return TRUE;
  return FALSE;
}

/* NODE:ethN of the lab's model, or NULL. */
static const NlNic *find_iface(const Lab *l, const char *iface) {
  const NlNode *node = NULL;
  if (!l->lab || !iface || !strchr(iface, ':')) return NULL;
  return nl_lab_find_nic(l->lab, iface, &node, NULL);
}

static const char *member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
             ? json_node_get_string(n)
             : NULL;
}

static void capture_free(Capture *c) {
  if (c->proc && !c->done) g_subprocess_send_signal(c->proc, SIGTERM);
  g_clear_object(&c->proc);
  if (c->file) unlink(c->file);
  g_free(c->file);
  g_free(c->id);
  g_free(c->target);
  g_free(c);
}

static void capture_ended(GObject *src, GAsyncResult *res, gpointer data) {
  Pending *p = data;
  p->capture->done = TRUE;
  g_subprocess_wait_finish(G_SUBPROCESS(src), res, NULL);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "ok");
  gboolean ok = g_subprocess_get_if_exited(G_SUBPROCESS(src)) &&
                g_subprocess_get_exit_status(G_SUBPROCESS(src)) == 0;
  json_builder_add_boolean_value(b, ok);
  json_builder_set_member_name(b, "url");
  g_autofree char *url = g_strdup_printf("/api/capture/%s.pcap", p->capture->id);
  json_builder_add_string_value(b, url);
  json_builder_end_object(b);
  reply_json(p->msg, SOUP_STATUS_OK, b);
  soup_server_message_unpause(p->msg);
  g_object_unref(p->msg);
  g_free(p);
}

static void capture_start(Web *w, SoupServerMessage *msg, Lab *l, const char *target) {
  if (!is_lan(l, target) && !find_iface(l, target)) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "no such LAN or interface");
    return;
  }
  Capture *c = g_new0(Capture, 1);
  c->id = g_strdup_printf("%u", ++w->next_capture);
  c->file = g_strdup_printf("%s/%s.pcap", w->capdir, c->id);
  c->lab = l;
  c->target = g_strdup(target);
  const char *argv[] = {w->self, "capture", "-d", l->dir, "-w", c->file, target, NULL};
  g_autoptr(GError) error = NULL;
  c->proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  if (!c->proc) {
    reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
    capture_free(c);
    return;
  }
  g_hash_table_replace(w->captures, c->id, c);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "id");
  json_builder_add_string_value(b, c->id);
  json_builder_end_object(b);
  reply_json(msg, SOUP_STATUS_OK, b);
}

static void capture_stop(Web *w, SoupServerMessage *msg, const char *id) {
  Capture *c = id ? g_hash_table_lookup(w->captures, id) : NULL;
  if (!c) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such capture");
    return;
  }
  Pending *p = g_new0(Pending, 1);
  p->msg = g_object_ref(msg);
  p->w = w;
  p->capture = c;
  soup_server_message_pause(msg);
  /* As Ctrl-C: the file is complete pcap. */
  if (!c->done) g_subprocess_send_signal(c->proc, SIGINT);
  g_subprocess_wait_async(c->proc, NULL, capture_ended, p);
}

static void capture_download(Web *w, SoupServerMessage *msg, const char *path) {
  g_autofree char *id = g_strndup(path + strlen("/api/capture/"),
                                  strlen(path) - strlen("/api/capture/") - strlen(".pcap"));
  Capture *c = g_hash_table_lookup(w->captures, id);
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!c || !c->done || !g_file_get_contents(c->file, &data, &len, NULL)) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such capture, or it still runs");
    return;
  }
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(msg, "application/vnd.tcpdump.pcap", SOUP_MEMORY_TAKE,
                                   g_steal_pointer(&data), len);
  g_autofree char *safe = g_strdup(c->target);
  g_strcanon(safe, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", '_');
  g_autofree char *disp = g_strdup_printf("attachment; filename=\"%s-%s.pcap\"", safe, c->id);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Disposition",
                               disp);
}

static void api_post(Web *w, SoupServerMessage *msg, const char *path) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  if (!body || body->length > BODY_MAX) {
    reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "request too large");
    return;
  }
  g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
  g_autoptr(JsonParser) parser = json_parser_new();
  gsize len = 0;
  const char *data = g_bytes_get_data(bytes, &len);
  JsonNode *root = json_parser_load_from_data(parser, data ? data : "", len, NULL)
                       ? json_parser_get_root(parser)
                       : NULL;
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "the body is not a JSON object");
    return;
  }
  JsonObject *o = json_node_get_object(root);
  if (strcmp(path, "/api/capture/stop") == 0) {
    capture_stop(w, msg, member(o, "id"));
    return;
  }
  Lab *l = find_lab(w, member(o, "lab"));
  if (!l) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such lab here");
    return;
  }
  if (strcmp(path, "/api/link") == 0) {
    const char *iface = member(o, "interface"), *action = member(o, "action");
    if (!find_iface(l, iface) || !action ||
        !g_strv_contains((const char *const[]){"down", "up", "reset", "set", NULL}, action)) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, "no such interface, or no such action");
      return;
    }
    if (strcmp(action, "set") != 0) {
      run_child(w, msg, (const char *const[]){"link", "-d", l->dir, iface, action, NULL});
      return;
    }
    /* Checked here, so that the words passed on are KEY=VALUE words. */
    const char *spec = member(o, "spec");
    NlImpair imp = {0};
    g_autoptr(GError) error = NULL;
    if (!spec || !nl_impair_parse(spec, &imp, &error)) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, error ? error->message : "no impairment given");
      return;
    }
    g_auto(GStrv) words = g_strsplit_set(g_strstrip((char *)spec), " \t", -1);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *head[] = {"link", "-d", l->dir, iface, "set"};
    for (gsize i = 0; i < G_N_ELEMENTS(head); i++) g_ptr_array_add(argv, (gpointer)head[i]);
    for (char **word = words; *word; word++)
      if (**word) g_ptr_array_add(argv, *word);
    g_ptr_array_add(argv, NULL);
    run_child(w, msg, (const char *const *)argv->pdata);
  } else if (strcmp(path, "/api/restart") == 0) {
    const NlNode *n = find_node(l, member(o, "node"));
    if (!n) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, "no such node");
      return;
    }
    run_child(w, msg, (const char *const[]){"restart", "-d", l->dir, n->name, NULL});
  } else if (strcmp(path, "/api/capture/start") == 0) {
    capture_start(w, msg, l, member(o, "target"));
  } else {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such call");
  }
}

/* ---- a node's files: `netlab ls --json` and `netlab cat`, as children ---- */

/* The most a viewed file shows; past it, the page says it is cut. */
#define VIEW_MAX (1024 * 1024)
/* Read from the child at a time: a download holds one such chunk. */
#define FILES_CHUNK 65536
/* What a failing child's stderr gives the page. */
#define FILES_ERR_MAX 2048
#define PATH_MAX_LEN 4096

typedef enum { FILES_LS, FILES_VIEW, FILES_GET } FilesKind;

/* One request for a node's files. The server reads the child's output as
 * data: bounded (a listing, a view) or passed on chunk by chunk, the next
 * read only once the last chunk is written to the client (a download), so
 * a client that reads slowly makes the child wait, not the server hold. */
typedef struct {
  SoupServerMessage *msg;
  FilesKind kind;
  GSubprocess *proc;
  GInputStream *from;
  GCancellable *cancel;
  int err_fd;      /* the child's stderr: a memfd */
  GByteArray *got; /* a listing, a view: what came */
  gboolean truncated, started;
  char *name; /* the file's last component, for a download */
  char buf[FILES_CHUNK];
} Files;

static void files_free(Files *f) {
  g_cancellable_cancel(f->cancel);
  if (f->proc) g_subprocess_force_exit(f->proc);
  g_clear_object(&f->proc);
  g_clear_object(&f->cancel);
  g_clear_object(&f->msg);
  if (f->err_fd >= 0) close(f->err_fd);
  if (f->got) g_byte_array_unref(f->got);
  g_free(f->name);
  g_free(f);
}

/* The child's complaint, at most FILES_ERR_MAX bytes, made valid text. */
static char *files_error(Files *f) {
  char buf[FILES_ERR_MAX + 1];
  ssize_t n = pread(f->err_fd, buf, FILES_ERR_MAX, 0);
  buf[n > 0 ? n : 0] = '\0';
  g_autofree char *valid = g_utf8_make_valid(buf, -1);
  const char *text = g_str_has_prefix(valid, "netlab: ") ? valid + strlen("netlab: ") : valid;
  return g_strstrip(g_strdup(*text ? text : "the command failed"));
}

/* Text, or binary: a NUL byte, or bytes that are not UTF-8 (a view cut in
 * the middle of a character is still text). */
static gboolean is_text(const guint8 *data, gsize len, gboolean cut) {
  if (memchr(data, '\0', len)) return FALSE;
  const char *end = NULL;
  if (g_utf8_validate_len((const char *)data, len, &end)) return TRUE;
  return cut && (const guint8 *)end >= data + len - 3 &&
         g_utf8_get_char_validated(end, data + len - (const guint8 *)end) == (gunichar)-2;
}

static void files_reply(Files *f, gboolean ok) {
  if (!ok) {
    g_autofree char *why = files_error(f);
    reply_error(f->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, why);
  } else if (f->kind == FILES_LS) {
    g_byte_array_append(f->got, (const guint8 *)"", 1);
    reply(f->msg, SOUP_STATUS_OK, "application/json", (const char *)f->got->data);
  } else {
    gsize len = f->got->len;
    gboolean text = is_text(f->got->data, len, f->truncated);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "truncated");
    json_builder_add_boolean_value(b, f->truncated);
    json_builder_set_member_name(b, "shown");
    json_builder_add_int_value(b, len);
    json_builder_set_member_name(b, "binary");
    json_builder_add_boolean_value(b, !text);
    if (text) {
      g_autofree char *valid = g_utf8_make_valid((const char *)f->got->data, len);
      json_builder_set_member_name(b, "text");
      json_builder_add_string_value(b, valid);
    }
    json_builder_end_object(b);
    reply_json(f->msg, SOUP_STATUS_OK, b);
  }
  soup_server_message_unpause(f->msg);
}

static void files_read(Files *f);

static void files_waited(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(GError) error = NULL;
  gboolean ok = g_subprocess_wait_check_finish(G_SUBPROCESS(src), res, &error);
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) return;
  Files *f = data;
  if (f->kind != FILES_GET || !f->started) {
    files_reply(f, ok);
    return;
  }
  SoupMessageBody *body = soup_server_message_get_response_body(f->msg);
  if (ok) {
    soup_message_body_complete(body);
    soup_server_message_unpause(f->msg);
  } else {
    /* Headers said 200 already: a download cut short must not look whole. */
    GSocket *sock = soup_server_message_get_socket(f->msg);
    if (sock) g_socket_close(sock, NULL);
    soup_server_message_unpause(f->msg);
  }
}

static void files_chunk_written(SoupServerMessage *msg, gpointer data) { files_read(data); }

static void files_got(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &error);
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) return;
  Files *f = data;
  if (n <= 0) {
    g_subprocess_wait_check_async(f->proc, f->cancel, files_waited, f);
    return;
  }
  if (f->kind == FILES_GET) {
    if (!f->started) {
      f->started = TRUE;
      soup_server_message_set_status(f->msg, SOUP_STATUS_OK, NULL);
      SoupMessageHeaders *h = soup_server_message_get_response_headers(f->msg);
      soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
      soup_message_headers_replace(h, "Content-Type", "application/octet-stream");
      soup_message_headers_replace(h, "Cache-Control", "no-store");
      soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
      g_autofree char *disp = g_strdup_printf("attachment; filename=\"%s\"", f->name);
      soup_message_headers_replace(h, "Content-Disposition", disp);
      soup_message_body_set_accumulate(soup_server_message_get_response_body(f->msg), FALSE);
      g_signal_connect(f->msg, "wrote-chunk", G_CALLBACK(files_chunk_written), f);
    }
    soup_message_body_append(soup_server_message_get_response_body(f->msg), SOUP_MEMORY_COPY,
                             f->buf, n);
    soup_server_message_unpause(f->msg);
    return; /* the next read once this chunk is written */
  }
  guint max = f->kind == FILES_LS ? NL_LS_JSON_MAX + 4096 : VIEW_MAX;
  guint keep = MIN((guint)n, max - f->got->len);
  g_byte_array_append(f->got, (const guint8 *)f->buf, keep);
  if (keep < (guint)n) {
    /* A view shows the beginning; a listing is bounded by ls itself, so
     * more is not ls's: an error. */
    f->truncated = TRUE;
    g_cancellable_cancel(f->cancel);
    g_subprocess_force_exit(f->proc);
    if (f->kind == FILES_VIEW) {
      files_reply(f, TRUE);
    } else {
      reply_error(f->msg, SOUP_STATUS_BAD_GATEWAY, "the listing is longer than ls makes it");
      soup_server_message_unpause(f->msg);
    }
    return;
  }
  files_read(f);
}

static void files_read(Files *f) {
  if (!g_cancellable_is_cancelled(f->cancel))
    g_input_stream_read_async(f->from, f->buf, sizeof f->buf, G_PRIORITY_DEFAULT, f->cancel,
                              files_got, f);
}

/* The message is done with (replied, or the client gone): the child goes. */
static void files_finished(SoupServerMessage *msg, gpointer data) {
  Files *f = data;
  g_signal_handlers_disconnect_by_data(msg, f);
  files_free(f);
}

/* A path the page gave: absolute, of sane length, no control character
 * (a newline or a NUL would be a second argument to someone). */
static gboolean files_path_ok(const char *raw_query, const char *path) {
  if (!path || path[0] != '/' || strlen(path) > PATH_MAX_LEN) return FALSE;
  for (const char *p = path; *p; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f) return FALSE;
  /* Decoded, a NUL would end the string early: refused, not cut. */
  g_autofree char *lower = g_ascii_strdown(raw_query ? raw_query : "", -1);
  return !strstr(lower, "%00");
}

static void api_files(Web *w, SoupServerMessage *msg, const char *path, GHashTable *query) {
  FilesKind kind = strcmp(path, "/api/files/ls") == 0     ? FILES_LS
                   : strcmp(path, "/api/files/view") == 0 ? FILES_VIEW
                                                          : FILES_GET;
  Lab *l = query ? find_lab(w, g_hash_table_lookup(query, "lab")) : NULL;
  const NlNode *n = l ? find_node(l, g_hash_table_lookup(query, "node")) : NULL;
  const char *file = query ? g_hash_table_lookup(query, "path") : NULL;
  if (!n) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such lab or node here");
    return;
  }
  if (!files_path_ok(g_uri_get_query(soup_server_message_get_uri(msg)), file)) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST,
                "a path is absolute, at most 4096 bytes, without control characters");
    return;
  }
  /* NODE:PATH as one argument: netlab ls and cat keep it within the node. */
  g_autofree char *spec = g_strdup_printf("%s:%s", n->name, file);
  const char *ls_argv[] = {w->self, "ls", "--json", "-d", l->dir, "--", spec, NULL};
  const char *cat_argv[] = {w->self, "cat", "-d", l->dir, "--", spec, NULL};
  g_autoptr(GError) error = NULL;
  int err_fd = memfd_create("netlab-web-stderr", MFD_CLOEXEC);
  if (err_fd < 0) {
    reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, g_strerror(errno));
    return;
  }
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_take_stderr_fd(launcher, dup(err_fd));
  GSubprocess *proc =
      g_subprocess_launcher_spawnv(launcher, kind == FILES_LS ? ls_argv : cat_argv, &error);
  if (!proc) {
    close(err_fd);
    reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
    return;
  }
  Files *f = g_new0(Files, 1);
  f->msg = g_object_ref(msg);
  f->kind = kind;
  f->proc = proc;
  f->from = g_subprocess_get_stdout_pipe(proc);
  f->cancel = g_cancellable_new();
  f->err_fd = err_fd;
  f->got = g_byte_array_new();
  g_autofree char *base = g_path_get_basename(file);
  f->name = g_strdup(strcmp(base, "/") == 0 ? "file" : base);
  g_strcanon(f->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", '_');
  g_signal_connect(msg, "finished", G_CALLBACK(files_finished), f);
  soup_server_message_pause(msg);
  files_read(f);
}

static void handle(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                   gpointer data) {
  Web *w = data;
  const char *method = soup_server_message_get_method(msg);
  gboolean post = strcmp(method, "POST") == 0;
  if (!post && strcmp(method, "GET") != 0) {
    reply(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "GET or POST\n");
    return;
  }
  if (!authorized(w, msg, query, post ? AUTH_POST : AUTH_GET)) return;
  if (post) {
    api_post(w, msg, path);
    return;
  }
  if (strcmp(path, "/") == 0) {
    serve_file(w, msg, "index.html", "text/html; charset=utf-8", TRUE);
    return;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(assets); i++)
    if (strcmp(path, assets[i].url) == 0) {
      serve_file(w, msg, assets[i].file, assets[i].type, FALSE);
      return;
    }
  if (strcmp(path, "/api/labs") == 0) {
    api_labs(w, msg);
    return;
  }
  if (g_strv_contains(
          (const char *const[]){"/api/files/ls", "/api/files/view", "/api/files/get", NULL},
          path)) {
    api_files(w, msg, path, query);
    return;
  }
  if (g_str_has_prefix(path, "/api/capture/") && g_str_has_suffix(path, ".pcap")) {
    capture_download(w, msg, path);
    return;
  }
  reply(msg, SOUP_STATUS_NOT_FOUND, "text/plain", "not found\n");
}

/* Runs before a WebSocket's handshake: setting a status refuses it. */
static void handle_ws_auth(SoupServer *server, SoupServerMessage *msg, const char *path,
                           GHashTable *query, gpointer data) {
  authorized(data, msg, query, AUTH_WS);
}

/* ---- the events WebSocket ---- */

static void events_closed(SoupWebsocketConnection *ws, gpointer data) {
  EventClient *c = data;
  g_ptr_array_remove(c->w->event_clients, c);
}

static char *client_address(SoupServerMessage *msg) {
  GSocketAddress *addr = soup_server_message_get_remote_address(msg);
  return addr ? g_inet_address_to_string(
                    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr)))
              : g_strdup("?");
}

static void ws_events(SoupServer *server, SoupServerMessage *msg, const char *path,
                      SoupWebsocketConnection *ws, gpointer data) {
  Web *w = data;
  EventClient *c = g_new0(EventClient, 1);
  c->w = w;
  c->ws = g_object_ref(ws);
  c->client = client_address(msg);
  g_queue_init(&c->lines);
  g_ptr_array_add(w->event_clients, c);
  g_signal_connect(ws, "closed", G_CALLBACK(events_closed), c);
  /* First the state of everything, then what happens. */
  for (guint i = 0; i < w->labs->len; i++) {
    Lab *l = w->labs->pdata[i];
    for (guint k = 0; k < l->order->len; k++) {
      const char *line = g_hash_table_lookup(l->state, l->order->pdata[k]);
      if (line) event_client_send(c, line);
    }
  }
}

/* ---- consoles and shells: a netlab child, joined to the WebSocket ---- */

/* Backpressure, both ways. Towards the page: libsoup queues every frame it
 * is given and has no call that tells how much it holds, so a page that
 * reads slowly would make the server buffer all of a flood. The child's
 * output is read only while the WebSocket's own stream can take more:
 * when it cannot, reading waits until it can, and the child (hence the
 * console or the command) waits with it, as behind a terminal that stopped
 * reading. libsoup then holds at most one read (PIPE_READ) per client
 * beyond the kernel's socket buffer. Towards the child: what the page
 * types is written without blocking the server; at most PIPE_IN_MAX
 * bytes wait for a child that does not read, past that the page is
 * closed with a reason. */
#define PIPE_READ 16384
#define PIPE_IN_MAX (1024 * 1024)

typedef struct {
  SoupWebsocketConnection *ws;
  GSubprocess *proc;
  GOutputStream *to;
  GInputStream *from;
  GCancellable *cancel;
  GSource *wait_out; /* the page's stream can take more: read again */
  GSource *wait_in;  /* the child's stdin can take more: write IN */
  GByteArray *in;    /* typed, not yet written to the child */
  char buf[PIPE_READ];
  char *what; /* for the log */
  char *statedir, *labdir, *node, *client;
  gboolean console;
} Pipe;

static void pipe_free(Pipe *p) {
  g_cancellable_cancel(p->cancel);
  if (p->wait_out) g_source_destroy(p->wait_out);
  g_clear_pointer(&p->wait_out, g_source_unref);
  if (p->wait_in) g_source_destroy(p->wait_in);
  g_clear_pointer(&p->wait_in, g_source_unref);
  g_clear_pointer(&p->in, g_byte_array_unref);
  if (p->proc) g_subprocess_send_signal(p->proc, SIGTERM);
  g_clear_object(&p->proc);
  g_clear_object(&p->ws);
  g_clear_object(&p->cancel);
  g_free(p->what);
  g_free(p->statedir);
  g_free(p->labdir);
  g_free(p->node);
  g_free(p->client);
  g_free(p);
}

static void pipe_read(Pipe *p);

static void pipe_got(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &error);
  /* Cancelled: the WebSocket closed and P is gone. */
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) return;
  Pipe *p = data;
  if (n <= 0) {
    if (soup_websocket_connection_get_state(p->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(p->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "ended");
    return;
  }
  if (soup_websocket_connection_get_state(p->ws) != SOUP_WEBSOCKET_STATE_OPEN) return;
  soup_websocket_connection_send_binary(p->ws, p->buf, n);
  pipe_read(p);
}

static gboolean page_writable(GObject *stream, gpointer data) {
  Pipe *p = data;
  g_clear_pointer(&p->wait_out, g_source_unref);
  pipe_read(p);
  return G_SOURCE_REMOVE;
}

static void pipe_read(Pipe *p) {
  GPollableOutputStream *out = page_stream(p->ws);
  if (out && !g_pollable_output_stream_is_writable(out)) {
    p->wait_out = g_pollable_output_stream_create_source(out, NULL);
    g_source_set_callback(p->wait_out, (GSourceFunc)(void (*)(void))page_writable, p, NULL);
    g_source_attach(p->wait_out, NULL);
    return;
  }
  g_input_stream_read_async(p->from, p->buf, sizeof p->buf, G_PRIORITY_DEFAULT, p->cancel, pipe_got,
                            p);
}

/* Writes what waits in P->in to the child, as much as it takes now; the
 * rest when it can take more. */
static gboolean pipe_write(GObject *stream, gpointer data) {
  Pipe *p = data;
  g_clear_pointer(&p->wait_in, g_source_unref);
  GPollableOutputStream *to = G_POLLABLE_OUTPUT_STREAM(p->to);
  while (p->in->len) {
    g_autoptr(GError) e = NULL;
    gssize n = g_pollable_output_stream_write_nonblocking(to, p->in->data, p->in->len, NULL, &e);
    if (n < 0 && g_error_matches(e, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      p->wait_in = g_pollable_output_stream_create_source(to, NULL);
      g_source_set_callback(p->wait_in, (GSourceFunc)(void (*)(void))pipe_write, p, NULL);
      g_source_attach(p->wait_in, NULL);
      break;
    }
    /* The child is gone: its output's end closes the page. */
    if (n <= 0) {
      g_byte_array_set_size(p->in, 0);
      break;
    }
    g_byte_array_remove_range(p->in, 0, n);
  }
  return G_SOURCE_REMOVE;
}

static void pipe_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data) {
  Pipe *p = data;
  gsize len = 0;
  const char *bytes = g_bytes_get_data(message, &len);
  if (!p->to || len > BODY_MAX) return;
  if (p->in->len + len > PIPE_IN_MAX) {
    g_byte_array_set_size(p->in, 0);
    soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
                                    "more input than the console or shell reads");
    return;
  }
  g_byte_array_append(p->in, (const guint8 *)bytes, len);
  if (!p->wait_in) pipe_write(NULL, p);
}

static void pipe_closed(SoupWebsocketConnection *ws, gpointer data) {
  Pipe *p = data;
  g_printerr("netlab: web: %s detached (%s)\n", p->what, p->client);
  if (p->console)
    nl_event_emit(p->statedir, p->labdir, "console", "node", p->node, "state", "detached", "client",
                  p->client, NULL);
  /* Nobody reads any more: the console is let go at once (its drain of
   * output after the end of input would hold it for seconds), the shell's
   * command gets SIGTERM. */
  if (p->to) g_output_stream_close(p->to, NULL, NULL);
  pipe_free(p);
}

/* Whether another client holds NODE's console (console.c's lock). */
static gboolean console_taken(const char *statedir, const char *labdir, const char *node) {
  g_auto(NlVmPaths) vp = {0};
  nl_layout_vm(&vp, statedir, labdir, node);
  /* In the QEMU user's directory: a FIFO there must not block us. */
  int fd = open(vp.console_lock, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  struct stat s;
  if (fd < 0) return FALSE;
  gboolean taken = fstat(fd, &s) == 0 && S_ISREG(s.st_mode) && flock(fd, LOCK_EX | LOCK_NB) != 0;
  close(fd);
  return taken;
}

static void ws_pipe(SoupServerMessage *msg, SoupWebsocketConnection *c, Web *w, gboolean console) {
  GUri *uri = soup_server_message_get_uri(msg);
  const char *q = g_uri_get_query(uri);
  g_autoptr(GHashTable) query = q ? soup_form_decode(q) : NULL;
  Lab *l = query ? find_lab(w, g_hash_table_lookup(query, "lab")) : NULL;
  const NlNode *n = l ? find_node(l, g_hash_table_lookup(query, "node")) : NULL;
  if (!n) {
    soup_websocket_connection_close(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "no such node");
    return;
  }
  g_autoptr(NlState) st = nl_state_for(l->dir, NULL);
  if (!st) {
    soup_websocket_connection_close(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "no state");
    return;
  }
  g_autofree char *client = client_address(msg);
  gboolean read_only = console && console_taken(st->dir, l->dir, n->name);
  const char *console_argv[] = {w->self, "console", "-d", l->dir, n->name, NULL};
  const char *log_argv[] = {w->self, "console", "-d", l->dir, "--log", "-f", n->name, NULL};
  const char *shell_argv[] = {w->self, "exec", "-t",        "-d", l->dir,
                              n->name, "--",   "/bin/bash", "-i", NULL};
  const char *const *argv = !console ? shell_argv : read_only ? log_argv : console_argv;
  g_autoptr(GError) error = NULL;
  GSubprocess *proc =
      g_subprocess_newv(argv,
                        (read_only ? G_SUBPROCESS_FLAGS_NONE : G_SUBPROCESS_FLAGS_STDIN_PIPE) |
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                        &error);
  if (!proc) {
    soup_websocket_connection_close(c, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, error->message);
    return;
  }
  Pipe *p = g_new0(Pipe, 1);
  p->ws = g_object_ref(c);
  p->proc = proc;
  p->to = read_only ? NULL : g_subprocess_get_stdin_pipe(proc);
  p->in = g_byte_array_new();
  /* Written to without ever blocking the server (pipe_write). */
  if (p->to)
    g_unix_set_fd_nonblocking(g_unix_output_stream_get_fd(G_UNIX_OUTPUT_STREAM(p->to)), TRUE, NULL);
  p->from = g_subprocess_get_stdout_pipe(proc);
  p->cancel = g_cancellable_new();
  p->console = console;
  p->client = g_steal_pointer(&client);
  p->statedir = g_strdup(st->dir);
  p->labdir = g_strdup(l->dir);
  p->node = g_strdup(n->name);
  p->what = g_strdup_printf("the %s of %s in %s%s", console ? "console" : "shell", n->name, l->dir,
                            read_only ? ", read-only" : "");
  /* Who attached to a console, and how, is logged. */
  g_printerr("netlab: web: %s attached (%s)\n", p->what, p->client);
  if (console) {
    nl_event_emit(st->dir, l->dir, "console", "node", n->name, "state",
                  read_only ? "attached read-only" : "attached", "client", p->client, NULL);
    if (read_only) {
      static const char note[] =
          "\r\n[netlab web: another client holds this console: read-only, from its log]\r\n";
      soup_websocket_connection_send_binary(c, note, sizeof note - 1);
    }
  }
  g_signal_connect(c, "message", G_CALLBACK(pipe_message), p);
  g_signal_connect(c, "closed", G_CALLBACK(pipe_closed), p);
  pipe_read(p);
}

static void ws_console(SoupServer *server, SoupServerMessage *msg, const char *path,
                       SoupWebsocketConnection *c, gpointer data) {
  ws_pipe(msg, c, data, TRUE);
}

static void ws_shell(SoupServer *server, SoupServerMessage *msg, const char *path,
                     SoupWebsocketConnection *c, gpointer data) {
  ws_pipe(msg, c, data, FALSE);
}

/* ---- the command ---- */

static char *new_token(GError **error) {
  guint8 raw[24];
  if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
    nl_set_errno(error, errno, "cannot make a token");
    return NULL;
  }
  GString *s = g_string_new(NULL);
  for (gsize i = 0; i < sizeof raw; i++) g_string_append_printf(s, "%02x", raw[i]);
  return g_string_free(s, FALSE);
}

static gboolean on_signal(gpointer data) {
  g_main_loop_quit(data);
  return G_SOURCE_CONTINUE;
}

static GSocketAddress *parse_listen(const char *listen, GError **error) {
  const char *colon = strrchr(listen, ':');
  guint64 port = 0;
  g_autofree char *host = colon ? g_strndup(listen, colon - listen) : NULL;
  if (host && host[0] == '[' && g_str_has_suffix(host, "]")) {
    char *inner = g_strndup(host + 1, strlen(host) - 2);
    g_free(host);
    host = inner;
  }
  g_autoptr(GInetAddress) addr = host ? g_inet_address_new_from_string(host) : NULL;
  if (!addr || !g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &port, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "web: --listen wants ADDRESS:PORT, such as 127.0.0.1:8023, not '%s'", listen);
    return NULL;
  }
  return g_inet_socket_address_new(addr, port);
}

/* Prints the page's address, with the token; warns when it listens on
 * every address. The origin the page's requests must come from (HOST:PORT),
 * NULL when any address is. */
static char *say_where(SoupServer *server, GSocketAddress *addr, const char *token) {
  GSList *uris = soup_server_get_uris(server);
  GUri *u = uris ? uris->data : NULL;
  g_autofree char *host = u ? g_strdup(g_uri_get_host(u)) : g_strdup("127.0.0.1");
  int port = u ? g_uri_get_port(u) : 0;
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  GInetAddress *ia = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr));
  gboolean any = g_inet_address_get_is_any(ia);
  g_autofree char *shown = strchr(host, ':') ? g_strdup_printf("[%s]", host) : g_strdup(host);
  printf("http://%s:%d/?token=%s\n", any ? "127.0.0.1" : shown, port, token);
  fflush(stdout);
  if (any)
    fprintf(stderr,
            "netlab: web: listening on every address: anyone who can reach port %d "
            "and has the token can do what you can with these labs\n",
            port);
  return any ? NULL : g_strdup_printf("%s:%d", shown, port);
}

/* What the server holds, freed once it is gone: the captures before the
 * labs they belong to. */
static void web_clear(Web *w) {
  g_clear_pointer(&w->captures, g_hash_table_unref);
  g_clear_pointer(&w->event_clients, g_ptr_array_unref);
  g_clear_pointer(&w->labs, g_ptr_array_unref);
  g_free(w->token);
  g_free(w->webdir);
  g_free(w->origin_host);
  g_free(w->capdir);
  g_free(w->self);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Web, web_clear)

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *listen = NULL;
  const GOptionEntry entries[] = {
      {"listen", 0, 0, G_OPTION_ARG_STRING, &listen,
       "Listen on ADDRESS:PORT (default " DEFAULT_LISTEN "; port 0: any free one)", "ADDR:PORT"},
      {NULL}};
  if (!nl_cmd_parse(g, "[LABDIR...]: the labs in a browser", entries, &argc, &argv, &t, error))
    return -1;
  g_autoptr(GSocketAddress) addr = parse_listen(listen ? listen : DEFAULT_LISTEN, error);
  if (!addr) return -1;
  g_auto(Web)
      w = {.labs = g_ptr_array_new_with_free_func((GDestroyNotify)lab_free),
           .event_clients = g_ptr_array_new_with_free_func((GDestroyNotify)event_client_free),
           .captures =
               g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)capture_free)};
  const char *webdir = g_getenv("NETLAB_WEB_DIR");
  w.webdir = webdir && *webdir ? g_strdup(webdir) : nl_data_path("web");
  w.self = g_file_read_link("/proc/self/exe", error);
  if (!w.self) return -1;
  w.token = new_token(error);
  if (!w.token) return -1;
  for (int i = 1; i < argc; i++) {
    g_autofree char *dir = nl_realpath(argv[i], error);
    if (!dir) return -1;
    g_autoptr(NlState) st = nl_state_for(dir, error);
    if (!st) return -1;
    if (!find_lab(&w, dir)) add_lab(&w, dir);
    w.named = TRUE;
  }
  scan_labs(&w);
  /* Captures are kept until the server stops, in a directory of its own. */
  w.capdir = g_dir_make_tmp("netlab-web-XXXXXX", error);
  if (!w.capdir) return -1;

  g_autoptr(SoupServer) server = soup_server_new("server-header", "netlab-web", NULL);
  soup_server_add_handler(server, NULL, handle, &w, NULL);
  static const char *const ws_paths[] = {"/ws/events", "/ws/console", "/ws/shell"};
  const SoupServerWebsocketCallback ws_cbs[] = {ws_events, ws_console, ws_shell};
  for (gsize i = 0; i < G_N_ELEMENTS(ws_paths); i++) {
    soup_server_add_handler(server, ws_paths[i], handle_ws_auth, &w, NULL);
    soup_server_add_websocket_handler(server, ws_paths[i], NULL, NULL, ws_cbs[i], &w, NULL);
  }
  if (!soup_server_listen(server, addr, 0, error)) {
    g_prefix_error(error, "web: cannot listen on %s: ", listen ? listen : DEFAULT_LISTEN);
    return -1;
  }
  w.origin_host = say_where(server, addr, w.token);

  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  guint s1 = g_unix_signal_add(SIGINT, on_signal, loop);
  guint s2 = g_unix_signal_add(SIGTERM, on_signal, loop);
  g_main_loop_run(loop);
  g_source_remove(s1);
  g_source_remove(s2);
  soup_server_disconnect(server);
  g_hash_table_remove_all(w.captures);
  rmdir(w.capdir);
  return 0;
}

const NlCmd nl_cmd_web = {"web", NULL, "serve the labs that are up to a browser",
                          .target = NL_TARGET_NONE, .run = run};
