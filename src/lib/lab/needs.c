#include "needs.h"

#include <string.h>
#include <unistd.h>

#include "util.h"

void nl_need_free(NlNeed *n) {
  if (!n) return;
  g_free(n->file);
  g_free(n->what);
  g_free(n->why);
  g_free(n->package);
  g_free(n);
}

/* ---- reading shell --------------------------------------------------------- */

typedef struct {
  char *text; /* NULL: a separator, SEP */
  guint line;
  char sep; /* newline ; & | ( ), or 0 at the end */
} Token;

static void token_clear(Token *t) { g_free(t->text); }

/* P is at the newline ending the line of a `<<WORD`: past the lines of
 * the here-document, to the newline ending its WORD line. */
static const char *skip_heredoc(const char *p, char **word, guint *line) {
  g_autofree char *end = g_steal_pointer(word);
  for (const char *l = p + 1; *l;) {
    const char *nl = strchr(l, '\n');
    gsize len = nl ? (gsize)(nl - l) : strlen(l);
    const char *t = l;
    while (*t == '\t') t++;
    len -= t - l;
    if (!nl) return l + strlen(l) - 1;
    (*line)++;
    if (len == strlen(end) && strncmp(t, end, len) == 0) return nl;
    l = nl + 1;
  }
  return p;
}

/* A word just read: `<<WORD`, `<<-WORD` or `<<` then WORD start a
 * here-document (not `<<<`, a here-string). */
static void heredoc_note(const char *w, char **heredoc, gboolean *next) {
  if (*next) {
    g_free(*heredoc);
    *heredoc = g_strdup(w);
    *next = FALSE;
  } else if (g_str_has_prefix(w, "<<") && !g_str_has_prefix(w, "<<<")) {
    const char *word = w + 2 + (w[2] == '-');
    if (*word) {
      g_free(*heredoc);
      *heredoc = g_strdup(word);
    } else
      *next = TRUE;
  }
}

/* The scanner's state between tokens. */
typedef struct {
  GArray *out; /* of Token */
  guint line;
  GString *w; /* the word being read, from line wline */
  guint wline;
  char *heredoc;         /* the word that ends a pending here-document */
  gboolean heredoc_word; /* the next word is that word */
} Lexer;

/* The word being read, begun if none is. */
static GString *lexer_word(Lexer *lx) {
  if (!lx->w) {
    lx->w = g_string_new(NULL);
    lx->wline = lx->line;
  }
  return lx->w;
}

/* The word read, if any, is a token. */
static void lexer_flush(Lexer *lx) {
  if (!lx->w) return;
  heredoc_note(lx->w->str, &lx->heredoc, &lx->heredoc_word);
  Token t = {g_string_free(lx->w, FALSE), lx->wline, 0};
  g_array_append_val(lx->out, t);
  lx->w = NULL;
}

static void lexer_sep(Lexer *lx, char c) {
  Token t = {NULL, lx->line, c};
  g_array_append_val(lx->out, t);
}

/* P is at `$(` or '`': the word gets a '$' for the substitution, which is
 * not read. Returns its last character. */
static const char *skip_substitution(Lexer *lx, const char *p) {
  char c = *p;
  g_string_append_c(lexer_word(lx), '$');
  int depth = 0;
  const char *q = c == '`' ? p + 1 : p + 2;
  for (; *q && (c == '`' ? *q != '`' : (*q != ')' || depth > 0)); q++) {
    if (*q == '\n') lx->line++;
    if (c == '$' && *q == '(') depth++;
    if (c == '$' && *q == ')') depth--;
  }
  return *q ? q : q - 1;
}

/* P is at an opening quote: its text goes into the word. Returns the
 * closing quote. */
static const char *read_quoted(Lexer *lx, const char *p) {
  char c = *p;
  GString *w = lexer_word(lx);
  const char *q = p + 1;
  while (*q && *q != c) {
    if (*q == '\n') lx->line++;
    if (c == '"' && (*q == '$' || *q == '`')) g_string_append_c(w, '$');
    g_string_append_c(w, *q++);
  }
  return *q ? q : q - 1;
}

/* Words and separators. Quotes are dropped from a word's text, but an
 * expansion inside double quotes keeps its '$', which is all the scanner
 * needs: a quoted literal name still runs that program. */
static GArray *tokens(const char *s) {
  Lexer lx = {.out = g_array_new(FALSE, FALSE, sizeof(Token)), .line = 1};
  g_array_set_clear_func(lx.out, (GDestroyNotify)token_clear);
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (c == '\\' && p[1] == '\n') {
      p++;
      lx.line++;
    } else if (c == '\\' && p[1]) {
      g_string_append_c(lexer_word(&lx), *++p);
    } else if ((c == '$' && p[1] == '(') || c == '`') {
      /* $(...) and `...` stay inside their word, unread. */
      p = skip_substitution(&lx, p);
    } else if (c == '#' && !lx.w) {
      while (p[1] && p[1] != '\n') p++;
    } else if (c == '\'' || c == '"') {
      p = read_quoted(&lx, p);
    } else if (c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
      lexer_flush(&lx);
      lexer_sep(&lx, c);
      if (c == '\n') lx.line++;
      if (c == '\n' && lx.heredoc) p = skip_heredoc(p, &lx.heredoc, &lx.line);
    } else if (c == ' ' || c == '\t' || c == '\r') {
      lexer_flush(&lx);
    } else {
      g_string_append_c(lexer_word(&lx), c);
    }
  }
  lexer_flush(&lx);
  lexer_sep(&lx, 0);
  g_free(lx.heredoc);
  return lx.out;
}

/* Builtins run no program: their arguments are skipped. */
static const char *const builtins[] = {
    ".",         ":",        "[",       "[[",      "alias",    "bg",       "bind",    "break",
    "builtin",   "caller",   "cd",      "compgen", "complete", "continue", "declare", "dirs",
    "disown",    "echo",     "enable",  "eval",    "exit",     "export",   "false",   "fc",
    "fg",        "getopts",  "hash",    "help",    "history",  "jobs",     "kill",    "let",
    "local",     "logout",   "mapfile", "popd",    "printf",   "pushd",    "pwd",     "read",
    "readarray", "readonly", "return",  "set",     "shift",    "shopt",    "source",  "suspend",
    "test",      "times",    "trap",    "true",    "type",     "typeset",  "ulimit",  "umask",
    "unalias",   "unset",    "wait",    NULL};

/* Reserved words: the next word is at command position again. */
static const char *const keywords[] = {"if",   "then",  "else",     "elif", "fi", "do",
                                       "done", "while", "until",    "esac", "{",  "}",
                                       "!",    "]]",    "function", NULL};

/* Words that run the next word as the command. */
static const char *const prefixes[] = {"exec", "nohup", "sudo",    "env",    "command",
                                       "time", "nice",  "timeout", "setsid", NULL};

static gboolean is_assignment(const char *w) {
  if (!g_ascii_isalpha(*w) && *w != '_') return FALSE;
  while (g_ascii_isalnum(*w) || *w == '_') w++;
  return *w == '=' || (*w == '+' && w[1] == '=');
}

static gboolean is_redirection(const char *w) {
  while (g_ascii_isdigit(*w)) w++;
  return *w == '>' || *w == '<';
}

/* A word a scanner can name: no expansion, glob or option. */
static gboolean is_literal(const char *w) { return *w && *w != '-' && !strpbrk(w, "$`*?[]{}~="); }

static gboolean listed(GPtrArray *a, const char *what) {
  for (guint i = 0; i < a->len; i++)
    if (g_str_equal(((NlNeed *)a->pdata[i])->what, what)) return TRUE;
  return FALSE;
}

/* Adds WHAT (taken, as WHY is) at FILE:LINE unless OUT has it already. */
static void add_why(GPtrArray *out, const char *file, guint line, char *what, char *why) {
  if (listed(out, what)) {
    g_free(what);
    g_free(why);
    return;
  }
  NlNeed *n = g_new0(NlNeed, 1);
  n->file = g_strdup(file);
  n->line = line;
  n->what = what;
  n->why = why;
  g_ptr_array_add(out, n);
}

static void add(GPtrArray *out, const char *file, guint line, char *what) {
  add_why(out, file, line, what, NULL);
}

static gboolean starts_service(const char *verb) {
  return g_str_equal(verb, "start") || g_str_equal(verb, "restart") ||
         g_str_equal(verb, "reload") || g_str_equal(verb, "try-restart") ||
         g_str_equal(verb, "enable");
}

static char *unit_name(const char *w) {
  return g_str_has_suffix(w, ".service") ? g_strndup(w, strlen(w) - 8) : g_strdup(w);
}

/* ---- kernel features --------------------------------------------------- */

/* iptables matches by their kernel option, past the common prefix
 * NETFILTER_XT_MATCH_ unless the name says otherwise. */
static const char *const xt_matches[] = {
    "addrtype",  "bpf",       "cgroup",  "cluster", "comment",   "connbytes", "connlabel",
    "connlimit", "conntrack", "cpu",     "dccp",    "devgroup",  "dscp",      "ecn",
    "esp",       "hashlimit", "helper",  "hl",      "ipcomp",    "iprange",   "ipvs",
    "l2tp",      "length",    "limit",   "mac",     "multiport", "nfacct",    "osf",
    "owner",     "policy",    "physdev", "pkttype", "quota",     "rateest",   "realm",
    "recent",    "sctp",      "socket",  "state",   "statistic", "string",    "tcpmss",
    "time",      "u32",       NULL};
static const char *const xt_targets[] = {
    "AUDIT",   "CHECKSUM",  "CLASSIFY", "CONNSECMARK", "CT",      "DSCP",   "HL",
    "HMARK",   "IDLETIMER", "LED",      "LOG",         "NETMAP",  "NFLOG",  "NFQUEUE",
    "NOTRACK", "RATEEST",   "REDIRECT", "MASQUERADE",  "SECMARK", "TCPMSS", "TCPOPTSTRIP",
    "TEE",     "TPROXY",    "TRACE",    NULL};
static const char *const qdiscs[] = {
    "netem", "tbf", "htb",     "prio",   "sfq",    "red", "fq",   "fq_codel", "codel", "mqprio",
    "cake",  "drr", "hfsc",    "multiq", "pie",    "cbs", "etf",  "taprio",   "sfb",   "choke",
    "gred",  "qfq", "skbprio", "ets",    "fq_pie", "hhf", "plug", NULL};
static const struct {
  const char *type, *option;
} link_types[] = {
    {"bond", "BONDING"},     {"bridge", "BRIDGE"},   {"vlan", "VLAN_8021Q"},
    {"vxlan", "VXLAN"},      {"geneve", "GENEVE"},   {"gre", "NET_IPGRE"},
    {"gretap", "NET_IPGRE"}, {"ip6gre", "IPV6_GRE"}, {"ip6gretap", "IPV6_GRE"},
    {"ipip", "NET_IPIP"},    {"sit", "IPV6_SIT"},    {"ip6tnl", "IPV6_TUNNEL"},
    {"macvlan", "MACVLAN"},  {"macvtap", "MACVTAP"}, {"ipvlan", "IPVLAN"},
    {"veth", "VETH"},        {"dummy", "DUMMY"},     {"vrf", "NET_VRF"},
    {"team", "NET_TEAM"},    {"ifb", "IFB"},         {"wireguard", "WIREGUARD"},
    {"vti", "NET_IPVTI"},    {"vti6", "IPV6_VTI"},   {"macsec", "MACSEC"},
    {"bareudp", "BAREUDP"},  {"nlmon", "NLMON"},
};

static void feature(GPtrArray *out, const char *file, guint line, const char *option, char *why) {
  add_why(out, file, line, g_strconcat("CONFIG_", option, NULL), why);
}

/* The option an iptables match or target NAME needs, if netlab knows it:
 * SPECIAL, else PREFIX and NAME in capitals when NAME is one of KNOWN. The
 * feature is said at the option's LINE. */
static void xt_feature(GPtrArray *out, const char *file, guint line, const char *kind,
                       const char *name, const char *special, const char *const *known,
                       const char *prefix) {
  g_autofree char *up = g_ascii_strup(name, -1);
  g_autofree char *option = special                        ? g_strdup(special)
                            : g_strv_contains(known, name) ? g_strconcat(prefix, up, NULL)
                                                           : NULL;
  if (option) feature(out, file, line, option, g_strdup_printf("iptables %s '%s'", kind, name));
}

static void iptables_features(GPtrArray *out, const char *file, Token *words, guint n) {
  gboolean v6 = g_str_has_prefix(words[0].text, "ip6");
  for (guint i = 1; i + 1 < n; i++) {
    const char *opt = words[i].text, *arg = words[i + 1].text;
    if (g_str_equal(opt, "-m") || g_str_equal(opt, "--match")) {
      const char *special = g_str_equal(arg, "mark")       ? "NETFILTER_XT_MARK"
                            : g_str_equal(arg, "connmark") ? "NETFILTER_XT_CONNMARK"
                            : g_str_equal(arg, "set")      ? "NETFILTER_XT_SET"
                                                           : NULL;
      xt_feature(out, file, words[i].line, "match", arg, special, xt_matches,
                 "NETFILTER_XT_MATCH_");
    } else if (g_str_equal(opt, "-j") || g_str_equal(opt, "--jump")) {
      const char *special =
          g_str_equal(arg, "DNAT") || g_str_equal(arg, "SNAT") ? "NETFILTER_XT_NAT"
          : g_str_equal(arg, "MARK")                           ? "NETFILTER_XT_MARK"
          : g_str_equal(arg, "CONNMARK")                       ? "NETFILTER_XT_CONNMARK"
          : g_str_equal(arg, "REJECT") ? (v6 ? "IP6_NF_TARGET_REJECT" : "IP_NF_TARGET_REJECT")
                                       : NULL;
      xt_feature(out, file, words[i].line, "target", arg, special, xt_targets,
                 "NETFILTER_XT_TARGET_");
    }
  }
}

/* tc qdisc add|replace|change [dev X] [root|ingress|clsact|parent P] [handle H] KIND */
static void tc_features(GPtrArray *out, const char *file, Token *words, guint n) {
  if (n < 3 || !g_str_equal(words[1].text, "qdisc")) return;
  for (guint i = 3; i < n; i++) {
    const char *w = words[i].text;
    if (g_str_equal(w, "dev") || g_str_equal(w, "parent") || g_str_equal(w, "handle") ||
        g_str_equal(w, "estimator")) {
      i++;
      continue;
    }
    if (g_str_equal(w, "root")) continue;
    if (g_str_equal(w, "ingress") || g_str_equal(w, "clsact")) {
      feature(out, file, words[i].line, "NET_SCH_INGRESS", g_strdup_printf("tc qdisc '%s'", w));
      return;
    }
    if (g_strv_contains(qdiscs, w)) {
      g_autofree char *up = g_ascii_strup(w, -1);
      g_autofree char *option = g_strconcat("NET_SCH_", up, NULL);
      feature(out, file, words[i].line, option, g_strdup_printf("tc qdisc '%s'", w));
    }
    return;
  }
}

/* ip link add ... type KIND; ip tunnel add ... mode KIND */
static void ip_features(GPtrArray *out, const char *file, Token *words, guint n) {
  guint i = 1;
  while (i < n && words[i].text[0] == '-') i++;
  if (i + 1 >= n || !g_str_equal(words[i + 1].text, "add")) return;
  const char *key = g_str_equal(words[i].text, "link")     ? "type"
                    : g_str_equal(words[i].text, "tunnel") ? "mode"
                                                           : NULL;
  for (i += 2; key && i + 1 < n; i++) {
    if (!g_str_equal(words[i].text, key)) continue;
    const char *kind = words[i + 1].text;
    /* ip tunnel's modes are ip link's types, ipip6/ip6ip6 the ip6tnl one. */
    if (g_str_equal(kind, "ipip6") || g_str_equal(kind, "ip6ip6") || g_str_equal(kind, "any"))
      kind = "ip6tnl";
    for (guint k = 0; k < G_N_ELEMENTS(link_types); k++)
      if (g_str_equal(link_types[k].type, kind))
        feature(out, file, words[i].line, link_types[k].option,
                g_strdup_printf("ip %s type '%s'", key[0] == 't' ? "link" : "tunnel", kind));
    return;
  }
}

static void features(GPtrArray *out, const char *file, Token *words, guint n) {
  const char *cmd = strrchr(words[0].text, '/') ? strrchr(words[0].text, '/') + 1 : words[0].text;
  if (g_str_has_prefix(cmd, "iptables") || g_str_has_prefix(cmd, "ip6tables"))
    iptables_features(out, file, words, n);
  else if (g_str_equal(cmd, "tc"))
    tc_features(out, file, words, n);
  else if (g_str_equal(cmd, "ip"))
    ip_features(out, file, words, n);
}

/* One simple command: WORDS[0..N), the command first. */
static void simple(GPtrArray *out, const char *file, Token *words, guint n) {
  const char *cmd = words[0].text;
  guint line = words[0].line;
  features(out, file, words, n);
  if (g_str_equal(cmd, "systemctl")) {
    guint i = 1;
    while (i < n && words[i].text[0] == '-') i++;
    if (i < n && starts_service(words[i].text))
      for (i++; i < n; i++)
        if (is_literal(words[i].text)) {
          g_autofree char *unit = unit_name(words[i].text);
          add(out, file, line, g_strdup_printf("service %s", unit));
        }
  } else if (g_str_equal(cmd, "service") && n >= 3 && starts_service(words[2].text) &&
             is_literal(words[1].text)) {
    add(out, file, line, g_strdup_printf("service %s", words[1].text));
    add(out, file, line, g_strdup(cmd));
    return;
  } else if (g_str_has_prefix(cmd, "/etc/init.d/") && n >= 2 && starts_service(words[1].text)) {
    add(out, file, line, g_strdup_printf("service %s", cmd + strlen("/etc/init.d/")));
    return;
  }
  add(out, file, line, g_strdup(cmd));
}

GPtrArray *nl_needs_scan(const char *text, const char *file) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nl_need_free);
  g_autoptr(GArray) toks = tokens(text);
  Token *t = (Token *)toks->data;
  g_autoptr(GArray) words = g_array_new(FALSE, FALSE, sizeof(Token));
  /* skip: words until the next separator are no command (for's list,
   * case's subject); pattern: in a case, words up to ')' are a pattern. */
  gboolean skip = FALSE, in_case = FALSE, pattern = FALSE;
  for (guint i = 0; i < toks->len; i++) {
    const char *w = t[i].text;
    if (!w) {
      if (words->len) simple(out, file, (Token *)words->data, words->len);
      g_array_set_size(words, 0);
      skip = FALSE;
      if (pattern && t[i].sep == ')') {
        pattern = FALSE;
        continue;
      }
      /* ";;" ends a case branch: a pattern comes next. */
      if (in_case && t[i].sep == ';' && i > 0 && t[i - 1].sep == ';') pattern = TRUE;
      continue;
    }
    if (skip) continue;
    if (words->len) {
      /* An argument; a redirection's target is none, but harmless. */
      g_array_append_val(words, t[i]);
      continue;
    }
    if (pattern) {
      /* Up to and past the ')' that ends the pattern (a separator). */
      if (g_str_equal(w, "esac")) in_case = pattern = FALSE;
      continue;
    }
    if (g_str_equal(w, "for") || g_str_equal(w, "select")) {
      skip = TRUE;
      continue;
    }
    if (g_str_equal(w, "case")) {
      skip = TRUE;
      in_case = pattern = TRUE;
      continue;
    }
    if (g_strv_contains(prefixes, w)) {
      /* Their options, and timeout's and nice's numbers. */
      while (i + 1 < toks->len && t[i + 1].text &&
             (t[i + 1].text[0] == '-' || g_ascii_isdigit(t[i + 1].text[0]) ||
              is_assignment(t[i + 1].text)))
        i++;
      continue;
    }
    if (g_strv_contains(builtins, w)) {
      skip = TRUE;
      continue;
    }
    if (is_assignment(w) || is_redirection(w) || g_strv_contains(keywords, w) || !is_literal(w))
      continue;
    /* name() { ...: a function's definition, not a call. */
    if (i + 2 < toks->len && t[i + 1].sep == '(' && t[i + 2].sep == ')') {
      i += 2;
      continue;
    }
    g_array_append_val(words, t[i]);
  }
  return out;
}

/* ---- what is missing, and where Debian has it ------------------------------- */

/* Commands and services the labs of Kathará's collection use, and a few
 * more a lab author reaches for; Kathará's images have most of them. */
static const struct {
  const char *what, *package;
} packages[] = {
    /* Not in Debian 12: Kathará's images have them (the hint names the image). */
    {"simple_switch", "kathara/p4"},
    {"simple_switch_CLI", "kathara/p4"},
    {"simple_switch_grpc", "kathara/p4"},
    {"p4c", "kathara/p4"},
    {"ryu-manager", "kathara/sdn"},
    {"pox.py", "kathara/pox"},
    {"/usr/share/openvswitch/scripts/ovs-ctl", "openvswitch-switch"},
    {"iptables", "iptables"},
    {"ip6tables", "iptables"},
    {"iptables-legacy", "iptables"},
    {"iptables-save", "iptables"},
    {"iptables-restore", "iptables"},
    {"nft", "nftables"},
    {"ebtables", "ebtables"},
    {"arptables", "arptables"},
    {"brctl", "bridge-utils"},
    {"ifconfig", "net-tools"},
    {"route", "net-tools"},
    {"arp", "net-tools"},
    {"netstat", "net-tools"},
    {"ip", "iproute2"},
    {"tc", "iproute2"},
    {"bridge", "iproute2"},
    {"ss", "iproute2"},
    {"ethtool", "ethtool"},
    {"tcpdump", "tcpdump"},
    {"tshark", "tshark"},
    {"ping", "iputils-ping"},
    {"arping", "iputils-arping"},
    {"tracepath", "iputils-tracepath"},
    {"traceroute", "traceroute"},
    {"mtr", "mtr-tiny"},
    {"nc", "netcat-openbsd"},
    {"netcat", "netcat-openbsd"},
    {"socat", "socat"},
    {"curl", "curl"},
    {"wget", "wget"},
    {"links", "links"},
    {"lynx", "lynx"},
    {"iperf", "iperf"},
    {"iperf3", "iperf3"},
    {"dig", "bind9-dnsutils"},
    {"nslookup", "bind9-dnsutils"},
    {"host", "bind9-host"},
    {"named", "bind9"},
    {"rndc", "bind9"},
    {"apache2", "apache2"},
    {"apache2ctl", "apache2"},
    {"a2ensite", "apache2"},
    {"a2enmod", "apache2"},
    {"nginx", "nginx"},
    {"radvd", "radvd"},
    {"dnsmasq", "dnsmasq"},
    {"dhclient", "isc-dhcp-client"},
    {"dhcpd", "isc-dhcp-server"},
    {"vtysh", "frr"},
    {"bird", "bird2"},
    {"birdc", "bird2"},
    {"smcroute", "smcroute"},
    {"smcroutectl", "smcroute"},
    {"ovs-vsctl", "openvswitch-switch"},
    {"ovs-ofctl", "openvswitch-switch"},
    {"ovs-ctl", "openvswitch-switch"},
    {"ovs-vswitchd", "openvswitch-switch"},
    {"ovsdb-server", "openvswitch-switch"},
    {"python3", "python3"},
    {"python", "python3"},
    {"sshd", "openssh-server"},
    {"ssh", "openssh-client"},
    {"vconfig", "vlan"},
    {"ipvsadm", "ipvsadm"},
    {"keepalived", "keepalived"},
    {"conntrack", "conntrack"},
    {"snmpd", "snmpd"},
    {"service apache2", "apache2"},
    {"service bind9", "bind9"},
    {"service named", "bind9"},
    {"service frr", "frr"},
    {"service radvd", "radvd"},
    {"service nginx", "nginx"},
    {"service dnsmasq", "dnsmasq"},
    {"service bird", "bird2"},
    {"service ssh", "openssh-server"},
    {"service isc-dhcp-server", "isc-dhcp-server"},
    {"service openvswitch-switch", "openvswitch-switch"},
    {"service keepalived", "keepalived"},
    {"service snmpd", "snmpd"},
    {"service vsftpd", "vsftpd"},
};

const char *nl_needs_package(const char *what) {
  for (guint i = 0; i < G_N_ELEMENTS(packages); i++)
    if (g_str_equal(packages[i].what, what)) return packages[i].package;
  return NULL;
}

/* The PATH of a node's scripts (stage2's). */
static const char *const path_dirs[] = {"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin",
                                        "sbin",           "bin",           NULL};

/* REL (a path below a root, no leading '/') exists under ROOT or the node's
 * own directory, which `up` copies over the node's root. */
static gboolean has(const char *root, const char *nodedir, const char *rel) {
  g_autofree char *a = g_build_filename(root, rel, NULL);
  g_autofree char *b = g_build_filename(nodedir, rel, NULL);
  return access(a, F_OK) == 0 || access(b, F_OK) == 0;
}

/* Units name others with Alias= (named.service is also bind9.service). */
static gboolean aliased(const char *root, const char *name) {
  g_autofree char *dir = g_build_filename(root, "lib/systemd/system", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autofree char *want = g_strdup_printf("%s.service", name);
  for (const char *f; d && (f = g_dir_read_name(d));) {
    if (!g_str_has_suffix(f, ".service")) continue;
    g_autofree char *path = g_build_filename(dir, f, NULL);
    g_autofree char *text = NULL;
    gsize len;
    if (!nl_read_file_max(path, 256 * 1024, &text, &len, NULL)) continue;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++)
      if (g_str_has_prefix(*l, "Alias=")) {
        g_auto(GStrv) names = g_strsplit_set(*l + 6, " \t", -1);
        if (g_strv_contains((const char *const *)names, want)) return TRUE;
      }
  }
  return FALSE;
}

static gboolean present(const char *root, const char *nodedir, const char *what) {
  if (g_str_has_prefix(what, "service ")) {
    const char *s = what + 8;
    /* netlab's own: init.d/quagga and zebra run a lab's Quagga files on FRR. */
    if (g_str_equal(s, "quagga") || g_str_equal(s, "zebra")) return TRUE;
    g_autofree char *unit = g_strdup_printf("%s.service", s);
    g_autofree char *init = g_build_filename("etc/init.d", s, NULL);
    g_autofree char *lib = g_build_filename("lib/systemd/system", unit, NULL);
    g_autofree char *etc = g_build_filename("etc/systemd/system", unit, NULL);
    return has(root, nodedir, init) || has(root, nodedir, lib) || has(root, nodedir, etc) ||
           aliased(root, s);
  }
  /* systemctl and service are netlab's shim in every node. */
  if (g_str_equal(what, "systemctl") || g_str_equal(what, "service")) return TRUE;
  if (strchr(what, '/')) {
    /* The lab's own files are there as /hostlab and /shared; a relative
     * path depends on where the script runs. */
    if (what[0] != '/' || g_str_has_prefix(what, "/hostlab/") || g_str_has_prefix(what, "/shared/"))
      return TRUE;
    return has(root, nodedir, what + 1);
  }
  for (const char *const *d = path_dirs; *d; d++) {
    g_autofree char *rel = g_build_filename(*d, what, NULL);
    if (has(root, nodedir, rel)) return TRUE;
  }
  return FALSE;
}

/* The scripts of NODE, in the order they run, with their paths. */
static void each_script(const NlLab *lab, const NlNode *node,
                        void (*fn)(const char *path, const char *text, gpointer data),
                        gpointer data) {
  g_autofree char *startup = g_strdup_printf("%s.startup", node->name);
  g_autofree char *shutdown = g_strdup_printf("%s.shutdown", node->name);
  const char *scripts[] = {"shared.startup", startup, shutdown, "shared.shutdown"};
  for (guint s = 0; s < G_N_ELEMENTS(scripts); s++) {
    g_autofree char *path = g_build_filename(lab->dir, scripts[s], NULL);
    g_autofree char *text = NULL;
    gsize len;
    if (nl_read_file_max(path, 4 * 1024 * 1024, &text, &len, NULL)) fn(path, text, data);
  }
}

typedef struct {
  const char *config;
  GPtrArray *out;
} Lacks;

static gboolean config_has(const char *config, const char *option) {
  for (const char *l = config; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
    if (g_str_has_prefix(l, option) && l[strlen(option)] == '=' &&
        (l[strlen(option) + 1] == 'y' || l[strlen(option) + 1] == 'm'))
      return TRUE;
  return FALSE;
}

static void lacks_in(const char *path, const char *text, gpointer data) {
  Lacks *l = data;
  g_autoptr(GPtrArray) calls = nl_needs_scan(text, path);
  for (guint i = 0; i < calls->len; i++) {
    NlNeed *n = calls->pdata[i];
    if (!g_str_has_prefix(n->what, "CONFIG_") || config_has(l->config, n->what) ||
        listed(l->out, n->what))
      continue;
    g_ptr_array_add(l->out, g_ptr_array_steal_index(calls, i--));
  }
}

GPtrArray *nl_needs_kernel_lacks(const NlLab *lab, const NlNode *node, const char *config) {
  Lacks l = {config, g_ptr_array_new_with_free_func((GDestroyNotify)nl_need_free)};
  each_script(lab, node, lacks_in, &l);
  return l.out;
}

typedef struct {
  const char *root, *nodedir;
  GPtrArray *out;
} Missing;

static void missing_in(const char *path, const char *text, gpointer data) {
  Missing *m = data;
  g_autoptr(GPtrArray) calls = nl_needs_scan(text, path);
  for (guint i = 0; i < calls->len; i++) {
    NlNeed *n = calls->pdata[i];
    if (g_str_has_prefix(n->what, "CONFIG_") || listed(m->out, n->what) ||
        present(m->root, m->nodedir, n->what))
      continue;
    n->package = g_strdup(nl_needs_package(n->what));
    g_ptr_array_add(m->out, g_ptr_array_steal_index(calls, i--));
  }
}

GPtrArray *nl_needs_missing(const NlLab *lab, const NlNode *node, const char *root) {
  g_autofree char *nodedir = g_build_filename(lab->dir, node->name, NULL);
  Missing m = {root, nodedir, g_ptr_array_new_with_free_func((GDestroyNotify)nl_need_free)};
  each_script(lab, node, missing_in, &m);
  return m.out;
}
