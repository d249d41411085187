/* A VM's console log, bounded: QEMU writes the console to a FIFO, which
 * netlab-log (logkeep.c), started by `up` and stopped by `down`, reads. It
 * keeps the first NL_LOG_HEAD bytes in DATA/logs/NODE.console.log, then the
 * rest in NODE.console.log.1 and .2 in turn, NL_LOG_TAIL bytes each: when
 * the one it writes is full it empties the other and goes on there. What it
 * dropped so far is counted in NODE.console.log.cut. A guest printing without
 * end thus costs at most NL_LOG_HEAD + 2 * NL_LOG_TAIL bytes of the host's
 * disk; the log read back (console.h) is the head, a mark where bytes were
 * cut, the older part of the tail, then the newer. */
#pragma once

#define NL_LOG_HEAD (1u << 20)
#define NL_LOG_TAIL (4u << 20)

/* The descriptors netlab-log is given: the FIFO on its stdin (opened
 * read-write, so that it never sees its end when QEMU restarts), then the
 * head, the two tail files and the cut counter, all opened by netlab. */
#define NL_LOG_FD_HEAD 3
#define NL_LOG_FD_TAIL1 4
#define NL_LOG_FD_TAIL2 5
#define NL_LOG_FD_CUT 6
