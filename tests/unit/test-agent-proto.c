/* The agent protocol's decoder and request parser (src/agent-proto.c),
 * shared by the host and the agent: frames split anywhere, stale bytes,
 * a guest that lies about lengths or exit statuses, requests that are not
 * NUL-terminated. */
#include <glib.h>
#include <string.h>

#include "agent-proto.h"
#include "tap.h"

static void add_frame(GByteArray *b, char type, const void *data, guint32 len) {
  NlaHeader h = {{NLA_MAGIC0, NLA_MAGIC1}, type, 0, len};
  g_byte_array_append(b, (const guint8 *)&h, sizeof h);
  g_byte_array_append(b, data, len);
}

static void add_int(GByteArray *b, char type, gint32 v) { add_frame(b, type, &v, 4); }

typedef struct {
  GString *types; /* one letter per frame taken */
  gint32 exit;
  guint bytes;
} Seen;

static int on_frame(void *ctx, const NlaFrame *f) {
  Seen *s = ctx;
  g_string_append_c(s->types, f->type);
  s->bytes += f->len;
  if (f->type == NLA_EXIT) s->exit = f->value;
  return f->type == NLA_EXIT;
}

/* Feeds BUF to a host-side decoder CHUNK bytes at a time, as reads would.
 * Returns -1 on a protocol error (its text in *ERROR). */
static int feed(const GByteArray *buf, gsize chunk, Seen *s, const char **error) {
  g_autoptr(GByteArray) in = g_byte_array_new();
  int synced = 0;
  for (gsize at = 0; at < buf->len; at += chunk) {
    g_byte_array_append(in, buf->data + at, MIN(chunk, buf->len - at));
    long used = nla_take(in->data, in->len, NLA_TO_HOST, &synced, on_frame, s, error);
    if (used < 0) return -1;
    g_byte_array_remove_range(in, 0, used);
  }
  return 0;
}

static void test_host(void) {
  g_autoptr(GByteArray) ok = g_byte_array_new();
  g_byte_array_append(ok, (const guint8 *)"stale NL bytes N", 16);
  add_int(ok, NLA_STARTED, 42);
  add_frame(ok, NLA_STDOUT, "out\n", 4);
  add_frame(ok, NLA_STDERR, "err\n", 4);
  add_int(ok, NLA_EXIT, 3);
  gboolean all = TRUE;
  for (gsize chunk = 1; chunk <= ok->len; chunk++) {
    Seen s = {g_string_new(NULL), -1, 0};
    const char *error = NULL;
    all = all && feed(ok, chunk, &s, &error) == 0 && g_str_equal(s.types->str, "POEQ") &&
          s.exit == 3 && s.bytes == 16;
    g_string_free(s.types, TRUE);
  }
  TAP_OK(all, "frames after stale bytes, read in pieces of every size, all taken");

  static const struct {
    const char *what;
    gint32 exit;
    const char *error;
  } exits[] = {
      {"256", 256, "an exit status out of 0..255"},
      {"-1", -1, "an exit status out of 0..255"},
      {"255", 255, NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(exits); i++) {
    g_autoptr(GByteArray) b = g_byte_array_new();
    add_int(b, NLA_STARTED, 42);
    add_int(b, NLA_EXIT, exits[i].exit);
    Seen s = {g_string_new(NULL), -1, 0};
    const char *error = NULL;
    int rc = feed(b, b->len, &s, &error);
    if (exits[i].error)
      TAP_OK(rc < 0 && g_str_equal(error, exits[i].error), "exit status %s is a protocol error",
             exits[i].what);
    else
      TAP_OK(rc == 0 && s.exit == exits[i].exit, "exit status %s is taken", exits[i].what);
    g_string_free(s.types, TRUE);
  }

  g_autoptr(GByteArray) huge = g_byte_array_new();
  add_int(huge, NLA_STARTED, 42);
  NlaHeader h = {{NLA_MAGIC0, NLA_MAGIC1}, NLA_STDOUT, 0, 0xffffffff};
  g_byte_array_append(huge, (const guint8 *)&h, sizeof h);
  Seen s = {g_string_new(NULL), -1, 0};
  const char *error = NULL;
  TAP_OK(feed(huge, huge->len, &s, &error) < 0 && g_str_equal(error, "a frame longer than 64 KiB"),
         "a 4 GiB frame is a protocol error, not an allocation");
  g_string_set_size(s.types, 0);

  g_autoptr(GByteArray) junk = g_byte_array_new();
  add_int(junk, NLA_STARTED, 42);
  g_byte_array_append(junk, (const guint8 *)"junk", 4);
  TAP_OK(feed(junk, junk->len, &s, &error) < 0 &&
             g_str_equal(error, "bytes between frames that start no frame"),
         "junk after a frame is a protocol error");

  g_autoptr(GByteArray) ping = g_byte_array_new();
  add_frame(ping, NLA_PING, NULL, 0);
  add_int(ping, NLA_STARTED, 42);
  g_string_set_size(s.types, 0);
  TAP_OK(feed(ping, ping->len, &s, &error) == 0 && g_str_equal(s.types->str, "P"),
         "the host skips, before its first frame, one meant for the guest");

  /* A session's token comes back in a hello of exactly NLA_TOKEN bytes. */
  g_autoptr(GByteArray) hello = g_byte_array_new();
  add_frame(hello, NLA_HELLO, "12345678", NLA_TOKEN);
  add_int(hello, NLA_EXIT, 0);
  g_string_set_size(s.types, 0);
  TAP_OK(feed(hello, hello->len, &s, &error) == 0 && g_str_equal(s.types->str, "HQ"),
         "a hello with its token, then the session's frames");
  g_autoptr(GByteArray) short_hello = g_byte_array_new();
  add_int(short_hello, NLA_STARTED, 42);
  add_frame(short_hello, NLA_HELLO, "1234", 4);
  TAP_OK(feed(short_hello, short_hello->len, &s, &error) < 0 &&
             g_str_equal(error, "a hello frame whose token is not 8 bytes"),
         "a hello with a short token is a protocol error");
  g_string_free(s.types, TRUE);

  /* 8 MiB of near-magic: the old byte-by-byte skipping moved the buffer
   * once per byte (hours); one pass here. */
  gsize n = 8 << 20;
  g_autofree guint8 *many = g_malloc(n);
  for (gsize i = 0; i < n; i += 2) many[i] = 'N', many[i + 1] = i % 4 ? 'L' : 'x';
  const char *unused;
  long used = nla_take(many, n, NLA_TO_HOST, NULL, on_frame, NULL, &unused);
  /* What is left could still start a header. */
  TAP_OK(used > (long)(n - sizeof(NlaHeader)), "8 MiB of junk skipped in one pass (%ld bytes)",
         used);
}

static void test_request(void) {
  static const char req[] = "a:sh\0a:-c\0a:echo $X\0e:X=1\0w:/tmp\0t:50 132 xterm\0d:";
  NlaRequest r;
  const char *bad = nla_request_parse(req, sizeof req, &r);
  TAP_OK(!bad && g_strv_length((char **)r.argv) == 3 && g_str_equal(r.argv[2], "echo $X") &&
             g_str_equal(r.env[0], "X=1") && !r.env[1] && g_str_equal(r.cwd, "/tmp") && r.tty &&
             r.rows == 50 && r.cols == 132 && g_str_equal(r.term, "xterm") && r.detach,
         "a request: argv, env, directory, terminal, detach");
  nla_request_clear(&r);

  static const char cut[] = {'a', ':', 's', 'h'};
  TAP_STREQ(nla_request_parse(cut, sizeof cut, &r), "a request entry that is not NUL-terminated",
            "an entry without its NUL is refused, not read past");
  nla_request_clear(&r);
  TAP_STREQ(nla_request_parse("e:NOEQUALS", 11, &r), "an environment entry that is not NAME=VALUE",
            "an environment entry without '=' is refused");
  nla_request_clear(&r);
  TAP_STREQ(nla_request_parse("w:/", 4, &r), "no command", "a request with no command is refused");
  nla_request_clear(&r);
  TAP_STREQ(nla_request_parse("", 0, &r), "no command", "an empty request is refused");
  nla_request_clear(&r);
}

int main(void) {
  test_host();
  test_request();
  return tap_done();
}
