/* Link impairment words: parsing, the canonical text, wirefilter's commands. */
#include <string.h>

#include "impair.h"
#include "tap.h"

static char *roundtrip(const char *spec) {
  NlImpair imp = {0};
  if (!nl_impair_parse(spec, &imp, NULL)) return g_strdup("(error)");
  return nl_impair_format(&imp);
}

static char *error_of(const char *spec) {
  NlImpair imp = {0};
  g_autoptr(GError) error = NULL;
  if (nl_impair_parse(spec, &imp, &error)) return g_strdup("(parsed)");
  return g_strdup(error->message);
}

static gboolean has(GPtrArray *cmds, const char *cmd) {
  for (guint i = 0; i < cmds->len; i++)
    if (strcmp(cmds->pdata[i], cmd) == 0) return TRUE;
  return FALSE;
}

int main(void) {
  g_autofree char *a = roundtrip("delay=50ms loss=1% rate=10mbit");
  TAP_STREQ(a, "delay=50ms loss=1% rate=10mbit", "a key alone is what leaves");
  g_autofree char *b = roundtrip("delay=0.5s in.delay=200us in.loss=2.5% reorder=on");
  TAP_STREQ(b, "delay=500ms in.delay=0.2ms in.loss=2.5% reorder=on",
            "units are normalized, in. is what arrives");
  g_autofree char *c = roundtrip("rate=1500kbit in.rate=2gbit dup=1% burst=3");
  TAP_STREQ(c, "burst=3 duplicate=1% rate=1500kbit in.rate=2gbit", "rates, dup alias, burst");
  g_autofree char *d = roundtrip("");
  TAP_STREQ(d, "", "nothing impaired is the empty text");

  NlImpair imp = {0};
  nl_impair_parse("delay=10ms", &imp, NULL);
  nl_impair_parse("loss=5%", &imp, NULL);
  g_autofree char *e = nl_impair_format(&imp);
  TAP_STREQ(e, "delay=10ms loss=5%", "a second parse adds to the first");
  NlImpair before = imp;
  TAP_OK(
      !nl_impair_parse("jitter=1ms loss=x", &imp, NULL) && memcmp(&imp, &before, sizeof imp) == 0,
      "a bad word changes nothing, not even the good words before it");

  g_autofree char *e1 = error_of("delay=50");
  TAP_STREQ(e1, "'delay=50': expected a time such as 50ms (us, ms or s)", "a time needs a unit");
  g_autofree char *e2 = error_of("loss=101%");
  TAP_STREQ(e2, "'loss=101%': expected a percentage from 0% to 100%", "loss over 100 %%");
  g_autofree char *e3 = error_of("loss=-1%");
  TAP_STREQ(e3, "'loss=-1%': expected a percentage from 0% to 100%", "negative loss");
  g_autofree char *e4 = error_of("loss=10");
  TAP_STREQ(e4, "'loss=10': expected a percentage such as 1% or 0.5%", "loss needs %%");
  g_autofree char *e5 = error_of("rate=10mb");
  TAP_OK(strstr(e5, "'rate=10mb': expected a rate") != NULL, "an unknown rate unit: %s", e5);
  g_autofree char *e6 = error_of("speed=1");
  TAP_OK(strstr(e6, "unknown key 'speed'") != NULL, "an unknown key: %s", e6);
  g_autofree char *e7 = error_of("delay");
  TAP_STREQ(e7, "'delay': expected KEY=VALUE", "a word without =");
  g_autofree char *e8 = error_of("in.reorder=on");
  TAP_OK(strstr(e8, "both directions") != NULL, "reorder has no direction: %s", e8);

  NlImpair w = {0};
  nl_impair_parse("delay=50ms jitter=5ms loss=10% rate=10mbit in.corrupt=1%", &w, NULL);
  g_autoptr(GPtrArray) cmds = nl_impair_commands(&w);
  TAP_OK(has(cmds, "delay LR50.000+5.000"), "delay and jitter from the node (left to right)");
  TAP_OK(has(cmds, "delay RL0.000+0.000"), "no delay towards the node");
  TAP_OK(has(cmds, "loss LR10.0000"), "loss");
  TAP_OK(has(cmds, "bandwidth LR1250000"), "10mbit is 1250000 bytes/s");
  TAP_OK(has(cmds, "bandwidth RL0"), "no rate limit towards the node");
  TAP_OK(has(cmds, "noise RL6.991"), "1%% of 1500-byte frames is 6.991 bits/MiB");
  TAP_OK(has(cmds, "fifo 1"), "frames keep their order unless reorder=on");

  /* A wire: one wirefilter applies both ends' impairments. */
  NlImpair x = {0}, y = {0};
  nl_impair_parse("delay=10ms loss=10% rate=10mbit in.delay=1ms", &x, NULL);
  nl_impair_parse("in.delay=5ms in.loss=10% in.rate=1mbit delay=2ms reorder=on", &y, NULL);
  NlImpair j = nl_impair_join(&x, &y);
  TAP_OK(j.out.delay_ms == 15 && j.in.delay_ms == 3, "delays add: %g ms and %g ms", j.out.delay_ms,
         j.in.delay_ms);
  TAP_OK(j.out.loss_pct > 18.99 && j.out.loss_pct < 19.01, "losses compound: %g%%", j.out.loss_pct);
  TAP_OK(j.out.rate_bps == 1000000 && j.in.rate_bps == 0, "the lower rate holds, none is none");
  TAP_OK(j.reorder, "either end's reorder");
  NlImpair none = {0};
  NlImpair same = nl_impair_join(&x, &none);
  g_autofree char *xs = nl_impair_format(&x), *ss = nl_impair_format(&same);
  TAP_STREQ(ss, xs, "an unimpaired end changes nothing");
  return tap_done();
}
