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

  /* What gdb asks: the relay thaws the lab on a resume or detach. */
  static const char *const resume[] = {
      "c",       "c ffffffff81000000", "C05",         "s",           "S0b;1234", "i",
      "vCont;c", "vCont;s:1;c",        "vCont;C05:2", "vCont;r10,20"};
  for (gsize i = 0; i < G_N_ELEMENTS(resume); i++)
    TAP_OK(nl_rsp_request(resume[i]) == NL_RSP_REQ_RESUME, "'%s' resumes the target", resume[i]);
  static const char *const other[] = {"vCont?",
                                      "vCont;t:1",
                                      "qC",
                                      "qSupported:xmlRegisters=i386",
                                      "g",
                                      "m ffffffff81000000,40",
                                      "Z0,ffffffff81000000,1",
                                      "qRcmd,696e666f",
                                      "qXfer:features:read:target.xml:0,ffb"};
  for (gsize i = 0; i < G_N_ELEMENTS(other); i++)
    TAP_OK(nl_rsp_request(other[i]) == NL_RSP_REQ_OTHER, "'%s' does not", other[i]);
  TAP_OK(nl_rsp_request("?") == NL_RSP_REQ_WHY, "'?' awaits a stop reply");
  TAP_OK(nl_rsp_request("vAttach;1") == NL_RSP_REQ_WHY, "so does vAttach");
  TAP_OK(nl_rsp_request("D") == NL_RSP_REQ_DETACH && nl_rsp_request("D;1") == NL_RSP_REQ_DETACH &&
             nl_rsp_request("k") == NL_RSP_REQ_DETACH &&
             nl_rsp_request("vKill;1") == NL_RSP_REQ_DETACH,
         "D, k and vKill let the target go");

  /* What the stub sends: the relay freezes the lab on a stop reply. */
  static const char *const stops[] = {"S05", "T05thread:01;", "T02thread:p1.1;",
                                      "W00", "X09",           "Stop:T05thread:01;"};
  for (gsize i = 0; i < G_N_ELEMENTS(stops); i++)
    TAP_OK(nl_rsp_reply(stops[i], TRUE) == NL_RSP_REPLY_STOP, "'%s' is a stop reply", stops[i]);
  TAP_OK(nl_rsp_reply("T05thread:01;", FALSE) == NL_RSP_REPLY_OTHER,
         "but not when none is awaited");
  TAP_OK(nl_rsp_reply("Text=0;Data=0;Bss=0", TRUE) == NL_RSP_REPLY_OTHER,
         "qOffsets' reply is no stop, even awaited");
  TAP_OK(nl_rsp_reply("OK", TRUE) == NL_RSP_REPLY_OTHER, "OK is no output");
  TAP_OK(nl_rsp_reply("O48656c6c6f0a", FALSE) == NL_RSP_REPLY_OUTPUT,
         "O and hex is console output");
  TAP_OK(nl_rsp_reply("E01", TRUE) == NL_RSP_REPLY_OTHER, "an error is no stop reply");

  /* A hostile stub: its File-I/O requests never reach gdb. */
  static const char *const fileio[] = {"Fopen,1234/10,241,1a4", "Fwrite,3,1234,10", "Funlink,1/8",
                                       "Fsystem,1/8", "Frename,1/4,2/4"};
  for (gsize i = 0; i < G_N_ELEMENTS(fileio); i++) {
    TAP_OK(nl_rsp_reply(fileio[i], TRUE) == NL_RSP_REPLY_FILEIO,
           "'%s' is a File-I/O request while the target runs", fileio[i]);
    TAP_OK(nl_rsp_reply(fileio[i], FALSE) == NL_RSP_REPLY_FILEIO,
           "and unasked for at any other time");
  }
  static const char *const results[] = {"F0", "F3", "F-1,2", "F1a;data", "Ffe"};
  for (gsize i = 0; i < G_N_ELEMENTS(results); i++)
    TAP_OK(nl_rsp_reply(results[i], FALSE) == NL_RSP_REPLY_OTHER,
           "but '%s', a number, answers gdb's vFile request, even twice", results[i]);
  TAP_OK(nl_rsp_reply("F", FALSE) == NL_RSP_REPLY_FILEIO &&
             nl_rsp_reply("Ffstat,3,1234", FALSE) == NL_RSP_REPLY_FILEIO,
         "an F without a number is no answer");
  g_autofree char *framed = nl_rsp_frame("F-1,1");
  TAP_STREQ(framed, "$F-1,1#01", "the refusal, framed with its checksum");
  g_autofree char *e01 = nl_rsp_frame("E01");
  TAP_STREQ(e01, "$E01#a6", "an error for gdb");
  return tap_done();
}
