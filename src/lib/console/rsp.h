/* gdb's remote serial protocol, as much as netlab speaks itself: telling
 * that a kernel is stopped in KGDB (kgdb.c). Pure code. */
#pragma once

#include <glib.h>

/* The first whole packet ("$payload#xx") in LINE, what the other end sent
 * so far: returns its payload and removes it and everything before it
 * (acknowledgements, noise) from LINE; NULL, leaving LINE, when no packet
 * is whole yet. The checksum is not checked: the line is a local socket. */
char *nl_rsp_take(GString *line);

/* What a packet from gdb asks of the stub, as far as a relay between them
 * must know: whether the target runs on (RESUME: c, C, s, S, i, I, a vCont
 * with a resuming action), will report why it stopped (WHY: '?', vAttach,
 * vRun) or is let go (DETACH: D, k, vKill). */
typedef enum {
  NL_RSP_REQ_OTHER,
  NL_RSP_REQ_RESUME,
  NL_RSP_REQ_WHY,
  NL_RSP_REQ_DETACH,
} NlRspRequest;
NlRspRequest nl_rsp_request(const char *payload);

/* What a packet from the stub is: a stop reply (S, T, W, X: the target
 * stopped or ended; only when one is awaited, after a RESUME or WHY
 * request), console output (O + hex; also what `monitor` prints), a
 * File-I/O request (F and a call's name: the stub asks gdb to open, write,
 * unlink... host files; F and a number answers gdb's vFile request), or
 * anything else. */
typedef enum {
  NL_RSP_REPLY_OTHER,
  NL_RSP_REPLY_STOP,
  NL_RSP_REPLY_OUTPUT,
  NL_RSP_REPLY_FILEIO,
} NlRspReply;
NlRspReply nl_rsp_reply(const char *payload, gboolean awaiting_stop);

/* "$PAYLOAD#xx", with its checksum. */
char *nl_rsp_frame(const char *payload);
