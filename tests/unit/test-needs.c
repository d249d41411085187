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
    if (!g_str_has_prefix(n->what, "CONFIG_"))
      g_string_append_printf(s, "%s%s@%u", s->len ? " " : "", n->what, n->line);
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
  g_autofree char *dir = g_build_filename(g_getenv("NETLAB_TEST_DATA"), "needs", NULL);
  g_autoptr(NlLab) lab = nl_lab_load(dir, NULL, NULL);
  TAP_OK(lab != NULL, "the test lab loads");
  if (!lab) return tap_done();
  const NlNode *lb = lab->nodes->pdata[0];
  /* A kernel with VXLAN and GRE built in, bonding as a module, iptables
   * without the statistic match or NAT, netem but no ingress qdisc. */
  const char *config =
      "CONFIG_VXLAN=y\nCONFIG_NET_IPGRE=y\nCONFIG_BONDING=m\n"
      "# CONFIG_NETFILTER_XT_MATCH_STATISTIC is not set\n"
      "CONFIG_NETFILTER_XT_MATCH_CONNTRACK=y\nCONFIG_NET_SCH_NETEM=y\n";
  g_autoptr(GPtrArray) lacks = nl_needs_kernel_lacks(lab, lb, config);
  GString *got = g_string_new(NULL);
  for (guint i = 0; i < lacks->len; i++) {
    const NlNeed *n = lacks->pdata[i];
    g_string_append_printf(got, "%s%s@%u (%s)", i ? " " : "", n->what, n->line, n->why);
  }
  g_autofree char *s = g_string_free(got, FALSE);
  TAP_STREQ(s,
            "CONFIG_NETFILTER_XT_MATCH_STATISTIC@4 (iptables match 'statistic') "
            "CONFIG_NETFILTER_XT_NAT@4 (iptables target 'DNAT') "
            "CONFIG_NET_SCH_INGRESS@7 (tc qdisc 'ingress')",
            "what a kernel lacks of what the scripts use (not a user's chain, not =m)");
  g_autoptr(GPtrArray) missing = nl_needs_missing(lab, lb, "/");
  TAP_OK(missing->len == 1 && g_str_equal(((NlNeed *)missing->pdata[0])->what, "frobnicate"),
         "the host lacks frobnicate, and has ip, iptables-legacy and tc");

  TAP_STREQ(nl_needs_package("iptables"), "iptables", "iptables is Debian's iptables");
  TAP_STREQ(nl_needs_package("brctl"), "bridge-utils", "brctl is bridge-utils");
  TAP_STREQ(nl_needs_package("service bind9"), "bind9", "the bind9 service is bind9");
  TAP_STREQ(nl_needs_package("simple_switch"), "kathara/p4",
            "bmv2 is not in Debian: Kathará's image");
  TAP_OK(nl_needs_package("frobnicate") == NULL, "an unknown command has no package");
  return tap_done();
}
