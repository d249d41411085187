/* The wire format between `netlab exec` and netlab-agent in the guest, over
 * one virtio-serial port per session. Both ends run on the same machine
 * (the guest shares the host's binaries), so integers are in host order.
 *
 * A frame is an 8-byte header, then LEN bytes of payload. The magic lets a
 * reader skip bytes left in a port by an earlier session. */
#pragma once

#include <stdint.h>

#define NLA_MAGIC0 'N'
#define NLA_MAGIC1 'L'
#define NLA_MAX_PAYLOAD (64 * 1024)
/* Ports netlab.agent.0 ... : that many sessions at once per VM. */
#define NLA_PORTS 8

typedef struct {
  char magic[2];
  char type;      /* one of the NLA_* below */
  char pad;
  uint32_t len;
} NlaHeader;

/* host -> guest */
#define NLA_EXEC 'X'   /* NUL-terminated entries: "a:ARG" (argv, in order),
                        * "e:NAME=VALUE", "w:DIR", "t:ROWS COLS TERM" (pty),
                        * "d:" (detach) */
#define NLA_STDIN 'I'  /* data; an empty payload is end of input */
#define NLA_SIGNAL 'S' /* int32 signal number for the process group */
#define NLA_WINSIZE 'W'/* uint16 rows, uint16 cols */
#define NLA_PING 'p'   /* answered by an NLA_EXIT 0 at once: the transport alone */

/* guest -> host */
#define NLA_STARTED 'P' /* int32 pid */
#define NLA_STDOUT 'O'
#define NLA_STDERR 'E'
#define NLA_EXIT 'Q'   /* int32 status: the exit code, or 128 + signal */
#define NLA_FAILED 'F' /* message; the command could not be started */
