/* gdb's remote protocol, netlab's side of telling a stopped KGDB. */
#include "rsp.h"
#include "tap.h"

int main(void) {
  g_autoptr(GString) line = g_string_new("+$S05#b");
  TAP_OK(!nl_rsp_take(line) && g_str_equal(line->str, "+$S05#b"),
         "a packet without its checksum's last digit is not whole yet, and stays");
  g_string_append(line, "8$T05thread:01;#07");
  g_autofree char *s = nl_rsp_take(line);
  TAP_STREQ(s, "S05", "the ack before it is dropped, the payload returned");
  TAP_STREQ(line->str, "$T05thread:01;#07", "what follows stays");
  g_autofree char *t = nl_rsp_take(line);
  TAP_STREQ(t, "T05thread:01;", "the next packet");
  TAP_OK(line->len == 0, "and nothing is left");
  g_string_assign(line, "noise#xx$OK#9a");
  g_autofree char *ok = nl_rsp_take(line);
  TAP_STREQ(ok, "OK", "a '#' before the first '$' is noise");
  g_string_assign(line, "$#00");
  g_autofree char *empty = nl_rsp_take(line);
  TAP_STREQ(empty, "", "an empty packet (gdb's 'unsupported')");
  return tap_done();
}
