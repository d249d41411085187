/* Link impairment: what `r1[link]="eth0 delay=50ms"` and `netlab link ... set`
 * say, checked and turned into wirefilter's management commands. Pure code. */
#pragma once

#include <glib.h>

/* One direction of a link. */
typedef struct {
  double delay_ms;
  double jitter_ms; /* the delay varies by up to this much either way */
  double loss_pct;
  double burst; /* mean length of a run of lost frames (Gilbert); 0: none */
  double dup_pct;
  double corrupt_pct; /* of 1500-byte frames, see nl_impair_commands() */
  guint64 rate_bps;   /* bits per second; 0: unlimited */
} NlImpairDir;

typedef struct {
  NlImpairDir out;  /* from the node into the LAN */
  NlImpairDir in;   /* from the LAN to the node */
  gboolean reorder; /* frames may overtake each other (with jitter) */
} NlImpair;

/* Applies the words of SPEC ("delay=50ms loss=1% in.rate=10mbit ...") to
 * *IMP, on top of what it holds. A key alone impairs what leaves the
 * interface, as netem on it would; "in." before it, what arrives. On a bad word, returns FALSE with an NL_ERROR_INPUT
 * error that names it, and leaves *IMP as it was. */
gboolean nl_impair_parse(const char *spec, NlImpair *imp, GError **error);

/* The canonical text of *IMP, which nl_impair_parse() reads back; "" when
 * nothing is impaired. */
char *nl_impair_format(const NlImpair *imp);

gboolean nl_impair_is_none(const NlImpair *imp);

/* wirefilter's management commands that set every parameter to *IMP, its
 * left side being the node's and its right the LAN's. */
GPtrArray *nl_impair_commands(const NlImpair *imp);

/* What one wirefilter between two interfaces (a wire, link.h) applies for
 * both: its left side is A's, its right B's, so what leaves A and what
 * reaches B are one direction. Two stages in a row: delays and jitters
 * add, losses, duplicates and corruption compound, the longer burst and
 * the lower rate hold. */
NlImpair nl_impair_join(const NlImpair *a, const NlImpair *b);
