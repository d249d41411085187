/* The commands and services a lab's scripts run, read from shell text. */
#include <string.h>

#include "needs.h"
#include "tap.h"

/* "what@line what@line ..." of TEXT's calls. */
static char *calls(const char *text) {
  g_autoptr(GPtrArray) got = nl_needs_scan(text, "x.startup");
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < got->len; i++) {
    NlNeed *n = got->pdata[i];
    g_string_append_printf(s, "%s%s@%u", i ? " " : "", n->what, n->line);
  }
  return g_string_free(s, FALSE);
}

int main(void) {
  struct {
    const char *text, *want, *why;
  } cases[] = {
      {"ip link set eth0 up\nifconfig eth1 10.0.0.1/24 up\n", "ip@1 ifconfig@2", "one per line"},
      {"# iptables -A\n  tc qdisc add dev eth0 root netem delay 10ms # brctl\n", "tc@2",
       "comments are not calls"},
      {"a=1 FOO=bar iptables -L; echo x && brctl show | grep y\n", "iptables@1 brctl@1 grep@1",
       "assignments, builtins, ; && |"},
      {"systemctl start frr\n/etc/init.d/zebra start\nservice bind9 restart\n",
       "service frr@1 systemctl@1 service zebra@2 service bind9@3 service@3",
       "the services scripts start"},
      {"systemctl start apache2.service named\n", "service apache2@1 service named@1 systemctl@1",
       "several units, .service dropped"},
      {"for i in 1 2 3; do ping -c1 10.0.0.$i; done\n", "ping@1",
       "a for loop's list is no command"},
      {"case $1 in\nstart) nginx ;;\nstop|halt) killall nginx ;;\nesac\n", "nginx@2 killall@3",
       "case patterns are no commands"},
      {"f() {\n  arping -c1 x\n}\nf\n", "arping@2 f@4", "a function's definition is no call"},
      {"nohup sudo -E nice -n 5 iperf3 -s &\ntimeout 5 dig @10.0.0.1 x\n", "iperf3@1 dig@2",
       "prefix commands run the next word"},
      {"ip link \\\n  set eth0 up\nbird\n", "ip@1 bird@3", "continued lines"},
      {"\"$PROG\" -x\n'socat' a b\n$X\n", "socat@2",
       "expansions are not named, quoted literals are"},
      {"ip route add default via 1.2.3.4 2>/dev/null >/dev/null\n>log ethtool -K eth0 tso off\n",
       "ip@1 ethtool@2", "redirections"},
      {"echo 'a;b|c' | tee /tmp/x\n", "tee@1", "separators inside quotes"},
      {"while [[ $(pgrep x) -eq 0 ]]; do sleep 1; done\nv=`uname -r` wget y\n", "sleep@1 wget@2",
       "command substitutions are not read"},
      {"vtysh <<EOF\nconf t\nrouter bgp 1\nEOF\ncat <<-'X' >f\n\tfoo\n\tX\nss\n",
       "vtysh@1 cat@5 ss@8", "here-documents are not read"},
      {"until simple_switch_CLI <<< \"help\"; do sleep 1; done\n", "simple_switch_CLI@1 sleep@1",
       "a here-string is an argument"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = calls(cases[i].text);
    TAP_STREQ(got, cases[i].want, "%s", cases[i].why);
  }
  TAP_STREQ(nl_needs_package("iptables"), "iptables", "iptables is Debian's iptables");
  TAP_STREQ(nl_needs_package("brctl"), "bridge-utils", "brctl is bridge-utils");
  TAP_STREQ(nl_needs_package("service bind9"), "bind9", "the bind9 service is bind9");
  TAP_STREQ(nl_needs_package("simple_switch"), "kathara/p4",
            "bmv2 is not in Debian: Kathará's image");
  TAP_OK(nl_needs_package("frobnicate") == NULL, "an unknown command has no package");
  return tap_done();
}
