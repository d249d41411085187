/* gdb's remote serial protocol, as much as netlab speaks itself: telling
 * that a kernel is stopped in KGDB (kgdb.c). Pure code. */
#pragma once

#include <glib.h>

/* The first whole packet ("$payload#xx") in LINE, what the other end sent
 * so far: returns its payload and removes it and everything before it
 * (acknowledgements, noise) from LINE; NULL, leaving LINE, when no packet
 * is whole yet. The checksum is not checked: the line is a local socket. */
char *nl_rsp_take(GString *line);
