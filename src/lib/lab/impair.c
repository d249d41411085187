#include "impair.h"

#include <math.h>
#include <string.h>

#include "util.h"

typedef enum { K_TIME, K_PCT, K_RATE, K_COUNT } Kind;

typedef struct {
  const char *name;
  Kind kind;
  gsize offset; /* in NlImpairDir */
} Key;

static const Key keys[] = {
    {"delay", K_TIME, G_STRUCT_OFFSET(NlImpairDir, delay_ms)},
    {"jitter", K_TIME, G_STRUCT_OFFSET(NlImpairDir, jitter_ms)},
    {"loss", K_PCT, G_STRUCT_OFFSET(NlImpairDir, loss_pct)},
    {"burst", K_COUNT, G_STRUCT_OFFSET(NlImpairDir, burst)},
    {"duplicate", K_PCT, G_STRUCT_OFFSET(NlImpairDir, dup_pct)},
    {"corrupt", K_PCT, G_STRUCT_OFFSET(NlImpairDir, corrupt_pct)},
    {"rate", K_RATE, G_STRUCT_OFFSET(NlImpairDir, rate_bps)},
};

typedef struct {
  const char *unit;
  double scale;
} Unit;

static const Unit time_units[] = {{"us", 0.001}, {"ms", 1}, {"s", 1000}, {NULL, 0}};
static const Unit rate_units[] = {
    {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0}};

/* A number followed by one of UNITS. */
static gboolean number_unit(const char *v, const Unit *units, double *out) {
  char *end = NULL;
  double x = g_ascii_strtod(v, &end);
  if (end == v || !isfinite(x)) return FALSE;
  for (const Unit *u = units; u->unit; u++)
    if (g_ascii_strcasecmp(end, u->unit) == 0) {
      *out = x * u->scale;
      return TRUE;
    }
  return FALSE;
}

static gboolean parse_value(const Key *k, const char *word, const char *v, double *out,
                            GError **error) {
  const char *want = NULL;
  double x = 0;
  char *end = NULL;
  switch (k->kind) {
    case K_TIME:
      if (!number_unit(v, time_units, &x))
        want = "a time such as 50ms (us, ms or s)";
      else if (x < 0 || x > 3600e3)
        want = "a time from 0 to 1 hour";
      break;
    case K_PCT:
      x = g_ascii_strtod(v, &end);
      if (end == v || strcmp(end, "%") != 0 || !isfinite(x))
        want = "a percentage such as 1% or 0.5%";
      else if (x < 0 || x > 100)
        want = "a percentage from 0% to 100%";
      break;
    case K_RATE:
      if (!number_unit(v, rate_units, &x))
        want = "a rate such as 10mbit (bit, kbit, mbit, gbit)";
      else if (x < 0 || x > 100e9)
        want = "a rate from 0 to 100gbit";
      break;
    case K_COUNT:
      x = g_ascii_strtod(v, &end);
      if (end == v || *end || !isfinite(x) || (x != 0 && x < 1) || x > 1e6)
        want = "a mean burst length: 0 (none), or a number from 1";
      break;
  }
  if (want) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "'%s': expected %s", word, want);
    return FALSE;
  }
  *out = x;
  return TRUE;
}

static void set(NlImpairDir *d, const Key *k, double x) {
  if (k->kind == K_RATE)
    G_STRUCT_MEMBER(guint64, d, k->offset) = (guint64)llround(x);
  else
    G_STRUCT_MEMBER(double, d, k->offset) = x;
}

static gboolean parse_word(const char *word, NlImpair *imp, GError **error) {
  const char *eq = strchr(word, '=');
  if (!eq) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "'%s': expected KEY=VALUE", word);
    return FALSE;
  }
  g_autofree char *name = g_strndup(word, eq - word);
  const char *v = eq + 1;
  const char *key = name;
  /* As netem on the interface: what leaves it, unless "in." says what
   * arrives. */
  gboolean out = TRUE, in = FALSE;
  if (g_str_has_prefix(key, "in.")) {
    in = TRUE;
    out = FALSE;
    key += 3;
  }
  if (strcmp(key, "reorder") == 0) {
    if (in || (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "'%s': expected reorder=on or reorder=off (for both directions)", word);
      return FALSE;
    }
    imp->reorder = strcmp(v, "on") == 0;
    return TRUE;
  }
  if (strcmp(key, "dup") == 0) key = "duplicate";
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    if (strcmp(key, keys[i].name) != 0) continue;
    double x;
    if (!parse_value(&keys[i], word, v, &x, error)) return FALSE;
    if (out) set(&imp->out, &keys[i], x);
    if (in) set(&imp->in, &keys[i], x);
    return TRUE;
  }
  g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
              "'%s': unknown key '%s' (delay, jitter, loss, burst, duplicate, corrupt, "
              "rate, reorder; in. before a key for what arrives)",
              word, key);
  return FALSE;
}

gboolean nl_impair_parse(const char *spec, NlImpair *imp, GError **error) {
  NlImpair next = *imp;
  g_auto(GStrv) words = g_strsplit_set(spec, " \t", -1);
  for (char **w = words; *w; w++)
    if (**w && !parse_word(*w, &next, error)) return FALSE;
  *imp = next;
  return TRUE;
}

gboolean nl_impair_is_none(const NlImpair *imp) {
  static const NlImpair none;
  return memcmp(imp, &none, sizeof none) == 0;
}

static void format_value(GString *s, const char *prefix, const Key *k, const NlImpairDir *d) {
  if (k->kind == K_RATE) {
    guint64 r = G_STRUCT_MEMBER(guint64, d, k->offset);
    if (!r) return;
    const Unit *u = &rate_units[0];
    for (const Unit *c = rate_units; c->unit; c++)
      if (r % (guint64)c->scale == 0) u = c;
    g_string_append_printf(s, " %s%s=%" G_GUINT64_FORMAT "%s", prefix, k->name,
                           r / (guint64)u->scale, u->unit);
    return;
  }
  double x = G_STRUCT_MEMBER(double, d, k->offset);
  if (x == 0) return;
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(num, sizeof num, "%g", x);
  g_string_append_printf(s, " %s%s=%s%s", prefix, k->name, num,
                         k->kind == K_TIME  ? "ms"
                         : k->kind == K_PCT ? "%"
                                            : "");
}

char *nl_impair_format(const NlImpair *imp) {
  GString *s = g_string_new(NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) format_value(s, "", &keys[i], &imp->out);
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) format_value(s, "in.", &keys[i], &imp->in);
  if (imp->reorder) g_string_append(s, " reorder=on");
  if (s->len) g_string_erase(s, 0, 1);
  return g_string_free(s, FALSE);
}

/* wirefilter's noise is bits damaged per megabyte (2^20 bytes); netlab says
 * what share of full-size frames gets one, as netem's corrupt does. */
#define FRAME_BYTES 1500.0

static void dir_commands(GPtrArray *c, const char *lr, const NlImpairDir *d) {
  char delay[64], jitter[64], num[64];
  g_ascii_formatd(delay, sizeof delay, "%.3f", d->delay_ms);
  g_ascii_formatd(jitter, sizeof jitter, "%.3f", d->jitter_ms);
  g_ptr_array_add(c, g_strdup_printf("delay %s%s+%s", lr, delay, jitter));
  g_ascii_formatd(num, sizeof num, "%.4f", d->loss_pct);
  g_ptr_array_add(c, g_strdup_printf("loss %s%s", lr, num));
  g_ascii_formatd(num, sizeof num, "%.3f", d->burst);
  g_ptr_array_add(c, g_strdup_printf("lostburst %s%s", lr, num));
  g_ascii_formatd(num, sizeof num, "%.4f", d->dup_pct);
  g_ptr_array_add(c, g_strdup_printf("dup %s%s", lr, num));
  g_ascii_formatd(num, sizeof num, "%.3f", d->corrupt_pct / 100 * 1048576.0 / FRAME_BYTES);
  g_ptr_array_add(c, g_strdup_printf("noise %s%s", lr, num));
  g_ptr_array_add(c, g_strdup_printf("bandwidth %s%" G_GUINT64_FORMAT, lr, d->rate_bps / 8));
}

GPtrArray *nl_impair_commands(const NlImpair *imp) {
  GPtrArray *c = g_ptr_array_new_with_free_func(g_free);
  dir_commands(c, "LR", &imp->out);
  dir_commands(c, "RL", &imp->in);
  g_ptr_array_add(c, g_strdup_printf("fifo %d", imp->reorder ? 0 : 1));
  return c;
}

/* The chance that at least one of two independent stages acts. */
static double either(double a_pct, double b_pct) {
  return 100.0 - (100.0 - a_pct) * (100.0 - b_pct) / 100.0;
}

static NlImpairDir in_series(const NlImpairDir *x, const NlImpairDir *y) {
  guint64 rate =
      x->rate_bps && y->rate_bps ? MIN(x->rate_bps, y->rate_bps) : MAX(x->rate_bps, y->rate_bps);
  return (NlImpairDir){.delay_ms = x->delay_ms + y->delay_ms,
                       .jitter_ms = x->jitter_ms + y->jitter_ms,
                       .loss_pct = either(x->loss_pct, y->loss_pct),
                       .burst = MAX(x->burst, y->burst),
                       .dup_pct = either(x->dup_pct, y->dup_pct),
                       .corrupt_pct = either(x->corrupt_pct, y->corrupt_pct),
                       .rate_bps = rate};
}

NlImpair nl_impair_join(const NlImpair *a, const NlImpair *b) {
  return (NlImpair){.out = in_series(&a->out, &b->in),
                    .in = in_series(&b->out, &a->in),
                    .reorder = a->reorder || b->reorder};
}
