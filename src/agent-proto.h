/* The wire format between `netlab exec` and netlab-agent in the guest, over
 * one virtio-serial port per session. Both ends run on the same machine
 * (the guest shares the host's binaries), so integers are in host order.
 *
 * A frame is an 8-byte header, then LEN bytes of payload. The magic lets a
 * reader skip bytes left in a port by an earlier session.
 *
 * The decoder below is plain C with no library, as the agent is: both ends
 * link src/agent-proto.c, and tests/fuzz/ feeds it junk. The host does not
 * trust the guest: every frame it takes is checked here (type, length,
 * values) before anything acts on it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define NLA_MAGIC0 'N'
#define NLA_MAGIC1 'L'
#define NLA_MAX_PAYLOAD (64 * 1024)
/* Ports netlab.agent.0 ... : that many sessions at once per VM. */
#define NLA_PORTS 8

typedef struct {
  char magic[2];
  char type; /* one of the NLA_* below */
  char pad;
  uint32_t len;
} NlaHeader;

/* Both ways: the first frame of every session, NLA_TOKEN bytes the host
 * chose, which the agent sends back. A port may still hold frames of an
 * earlier session whose host went away (a timed-out exec, a killed netlab):
 * the host takes nothing before its own token comes back, and the agent
 * ends whatever the port was still running for that earlier host. */
#define NLA_HELLO 'H'
#define NLA_TOKEN 8

/* host -> guest */
#define NLA_EXEC \
  'X'                   /* NUL-terminated entries: "a:ARG" (argv, in order),
                        * "e:NAME=VALUE", "w:DIR", "t:ROWS COLS TERM" (pty),
                        * "d:" (detach) */
#define NLA_STDIN 'I'   /* data; an empty payload is end of input */
#define NLA_SIGNAL 'S'  /* int32 signal number for the process group */
#define NLA_WINSIZE 'W' /* uint16 rows, uint16 cols */
#define NLA_PING \
  'p' /* before a command: answered by an NLA_EXIT 0 at once (the
                        * transport alone); during one, by an NLA_ALIVE */

/* guest -> host */
#define NLA_STARTED 'P' /* int32 pid */
#define NLA_STDOUT 'O'
#define NLA_STDERR 'E'
#define NLA_EXIT 'Q'   /* int32 status: the exit code, or 128 + signal (0..255) */
#define NLA_FAILED 'F' /* message; the command could not be started */
#define NLA_ALIVE 'A'  /* empty: the agent still serves this session */

typedef enum { NLA_TO_GUEST, NLA_TO_HOST } NlaDirection;

typedef struct {
  char type;
  uint32_t len;
  const uint8_t *payload;
  int32_t value; /* the int32 of STARTED, EXIT and SIGNAL */
} NlaFrame;

/* Called for each valid frame; returns 0 to go on, else stops the decoding. */
typedef int (*NlaHandler)(void *ctx, const NlaFrame *f);

/* Hands each whole, valid frame at the start of BUF[0..LEN) to FN, in order,
 * and returns how many bytes of BUF were used (the caller drops them; a
 * partial frame at the end stays). One pass: linear in LEN whatever BUF
 * holds.
 *
 * Before the first valid frame (*SYNCED false) bytes that start no valid
 * frame are skipped as left by an earlier session; once a frame was taken
 * (*SYNCED true), anything else is a protocol error: returns -1 and points
 * *ERROR to a static description. SYNCED NULL: always skip (the agent, which
 * trusts the host and must survive a host that dies mid-frame). */
long nla_take(const uint8_t *buf, size_t len, NlaDirection dir, int *synced, NlaHandler fn,
              void *ctx, const char **error);

/* An NLA_EXEC request, parsed. The arrays point into the request's payload. */
typedef struct {
  const char **argv; /* NULL-terminated */
  const char **env;  /* "NAME=VALUE" entries, NULL-terminated */
  const char *cwd;   /* "/" when not given */
  int detach;
  int tty;
  int rows, cols;
  char term[64]; /* "" when not given */
} NlaRequest;

/* Parses the payload of an NLA_EXEC frame. Returns NULL, or a static
 * description of what is wrong (entries not NUL-terminated, no command...);
 * free R with nla_request_clear() either way. */
const char *nla_request_parse(const char *req, size_t len, NlaRequest *r);
void nla_request_clear(NlaRequest *r);
