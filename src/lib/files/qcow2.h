/* What netlab accepts of a qcow2 image before any program opens it.
 *
 * A node's disk is written by its guest's QEMU, and a QEMU user (after an
 * escape) could rewrite its header: a qcow2 header can name host files (a
 * backing file, an external data file), which QEMU, qemu-img and libguestfs
 * would open and read or write. Every use of a node's disk (libguestfs,
 * qemu-img, a domain's start) first passes this check, and the programs are
 * told the format (qcow2), so that nothing probes it either.
 *
 * Accepted: version 2 or 3, no backing file (offset and size 0), no
 * encryption, no incompatible feature bit but "dirty", "corrupt",
 * "compression type" and "extended L2" (so never "external data file"),
 * header extensions only of the kinds QEMU writes for a plain image (the
 * feature-name table, bitmaps) and never a backing-format or data-file
 * one, all within the first NL_QCOW2_HEADER_MAX bytes. Pure; fuzzed. */
#pragma once

#include <glib.h>

/* How much of an image the check reads: the header and its extensions. */
#define NL_QCOW2_HEADER_MAX (64 * 1024)

/* Checks BUF[0..LEN), the start of an image (at most NL_QCOW2_HEADER_MAX
 * bytes of it); an NL_ERROR_FAILED error saying what is refused. */
gboolean nl_qcow2_check(const guint8 *buf, gsize len, GError **error);

/* Reads the start of FD and checks it; the error names NAME. */
gboolean nl_qcow2_check_fd(int fd, const char *name, GError **error);
