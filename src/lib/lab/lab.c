/* The lab model: reads a Kathará lab directory (lab.conf and the optional
 * lab.dep) into an NlLab. Every problem is collected with its file and line
 * and reported at once, so a user fixes a lab in one pass. */
#include "lab.h"

#include <arpa/inet.h>
#include <fcntl.h>

#include <string.h>

#include "image.h"
#include "kernel.h"
#include "util.h"

#define MAX_NICS 16
#define MIN_MEM_MIB 64
#define MAX_MEM_MIB 65536
#define MAX_CPUS 64
/* Below this, ext4's journal and metadata leave little room for a node's
 * changes; above it, a typo. */
#define MIN_DISK_MIB 64
#define MAX_DISK_MIB (1024 * 1024)
/* More than any lab needs (a 100,000-node lab.conf is under 2 MiB), less
 * than would make reading it a burden. */
#define LAB_FILE_MAX (16 << 20)

#define EXPECTED_CONF_LINE "expected NODE[N]=LAN, NODE[OPTION]=VALUE or LAB_KEY=VALUE"

/* Names Kathará refuses for nodes, as they are directories of the lab with
 * another meaning (shared/ is mounted in every node). */
static const char *const reserved_names[] = {"shared", "_test", NULL};

/* One problem found in the lab; all are reported together, sorted. */
typedef struct {
  const char *file; /* lab->conf_path or lab->dep_path */
  guint line;       /* 0: about the file as a whole */
  guint seq;        /* keeps the problems of one line in the order found */
  char *text;
} Problem;

typedef struct {
  NlLab *lab;
  GPtrArray *problems; /* Problem* */
  GPtrArray *warnings; /* the caller's, or NULL to drop them */
  GHashTable *set_at;  /* "r1[mem]" -> line where it was last set */
  GHashTable *dep_at;  /* node name -> line of its first lab.dep rule */
  guint capture_line;  /* of LAB_CAPTURE */
  GHashTable *lan_set; /* every LAN of lab.conf, for lab.ext; made at its first line */
  GHashTable *ext_at;  /* lab.ext: interface -> line that connects it */
  GHashTable *ext_ord; /* lab.ext: LAN -> its rank + 1 */
} Parser;

/* One NODE[ARG]=VALUE line of lab.conf. */
typedef struct {
  guint line;
  NlNode *node;
  const char *arg;   /* interface index or option name */
  const char *value; /* quotes removed */
  gboolean quoted;
} Assignment;

static void problem_free(gpointer data) {
  Problem *problem = data;

  g_free(problem->text);
  g_free(problem);
}

static void parser_clear(Parser *p) {
  g_clear_pointer(&p->problems, g_ptr_array_unref);
  g_clear_pointer(&p->set_at, g_hash_table_unref);
  g_clear_pointer(&p->dep_at, g_hash_table_unref);
  g_clear_pointer(&p->lan_set, g_hash_table_unref);
  g_clear_pointer(&p->ext_at, g_hash_table_unref);
  g_clear_pointer(&p->ext_ord, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Parser, parser_clear)

G_GNUC_PRINTF(4, 5)
static void add_problem(Parser *p, const char *file, guint line, const char *format, ...) {
  Problem *problem = g_new0(Problem, 1);
  va_list args;

  va_start(args, format);
  problem->text = g_strdup_vprintf(format, args);
  va_end(args);
  problem->file = file;
  problem->line = line;
  problem->seq = p->problems->len;
  g_ptr_array_add(p->problems, problem);
}

#define conf_error(p, line, ...) add_problem((p), (p)->lab->conf_path, (line), __VA_ARGS__)
#define dep_error(p, line, ...) add_problem((p), (p)->lab->dep_path, (line), __VA_ARGS__)
#define ext_error(p, line, ...) add_problem((p), (p)->lab->ext_path, (line), __VA_ARGS__)

G_GNUC_PRINTF(3, 4)
static void conf_warning(Parser *p, guint line, const char *format, ...) {
  g_autofree char *text = NULL;
  va_list args;

  if (!p->warnings) return;
  va_start(args, format);
  text = g_strdup_vprintf(format, args);
  va_end(args);
  g_ptr_array_add(p->warnings, g_strdup_printf("%s:%u: %s", p->lab->conf_path, line, text));
}

/* Matches TEXT against PATTERN (a constant, so it compiles); captures are
 * read from *MATCH_INFO (may be NULL), which keeps the regex alive. Each
 * pattern is compiled once: a lab.conf of 100,000 lines matches a few
 * hundred thousand times. */
static gboolean match(const char *pattern, const char *text, GMatchInfo **match_info) {
  static GHashTable *compiled; /* pattern (by address) -> GRegex */
  G_LOCK_DEFINE_STATIC(compiled);
  GRegex *regex;

  G_LOCK(compiled);
  if (!compiled) compiled = g_hash_table_new(NULL, NULL);
  regex = g_hash_table_lookup(compiled, pattern);
  if (!regex) {
    regex = g_regex_new(pattern, G_REGEX_OPTIMIZE, 0, NULL);
    g_hash_table_insert(compiled, (gpointer)pattern, regex);
  }
  G_UNLOCK(compiled);
  return g_regex_match(regex, text, 0, match_info);
}

static gboolean all_digits(const char *s) { return *s && strspn(s, "0123456789") == strlen(s); }

/* A plain decimal number: no sign, no spaces, and at most 18 digits so that
 * it fits; larger numbers are out of every range we check anyway. */
static gboolean parse_number(const char *s, guint64 *number) {
  if (!all_digits(s) || strlen(s) > 18) return FALSE;
  *number = g_ascii_strtoull(s, NULL, 10);
  return TRUE;
}

/* The first control character of TEXT (tabs aside), or 0. One in a value
 * would reach the domain XML, which libvirt refuses, or a terminal that
 * shows a message quoting it. */
static gunichar control_char(const char *text) {
  for (const char *c = text; *c; c = g_utf8_next_char(c)) {
    gunichar u = g_utf8_get_char(c);

    if (u != '\t' && g_unichar_iscntrl(u)) return u;
  }
  return 0;
}

/* ---- The model's own memory ---- */

static void nic_free(gpointer data) {
  NlNic *nic = data;

  g_free(nic->lan);
  g_free(nic->peer_node);
  g_free(nic);
}

/* r1[link]="eth0 delay=50ms": which interface, the words, where. */
typedef struct {
  guint index;
  char *spec;
  guint line;
} LinkLine;

static void link_line_free(gpointer data) {
  LinkLine *l = data;

  g_free(l->spec);
  g_free(l);
}

static void node_free(gpointer data) {
  NlNode *node = data;

  g_free(node->name);
  g_ptr_array_unref(node->nics);
  g_ptr_array_unref(node->exec);
  g_ptr_array_unref(node->sysctl);
  g_ptr_array_unref(node->env);
  g_free(node->kernel);
  g_free(node->append);
  g_ptr_array_unref(node->deps);
  g_ptr_array_unref(node->links);
  g_free(node->host);
  g_array_unref(node->ports);
  g_free(node->shell);
  g_ptr_array_unref(node->ulimits);
  g_free(node->image);
  g_free(node);
}

void nl_lab_free(NlLab *lab) {
  if (!lab) return;
  g_free(lab->dir);
  g_free(lab->conf_path);
  g_free(lab->dep_path);
  g_free(lab->ext_path);
  g_ptr_array_unref(lab->ext);
  g_free(lab->name);
  g_free(lab->description);
  g_free(lab->author);
  g_free(lab->email);
  g_free(lab->web);
  g_free(lab->version);
  g_free(lab->kernel);
  g_free(lab->append);
  g_free(lab->image);
  g_ptr_array_unref(lab->nodes);
  g_ptr_array_unref(lab->hosts);
  nl_underlay_clear(&lab->underlay);
  g_ptr_array_unref(lab->lans);
  g_free(lab->capture);
  g_hash_table_unref(lab->by_name);
  if (lab->lan_where) g_hash_table_unref(lab->lan_where);
  g_free(lab);
}

static void collect_lans(NlLab *lab);
static void mark_wires(NlLab *lab);

static gboolean check_names(const NlLab *lab, const char *const *names, GError **error) {
  for (const char *const *n = names; n && *n; n++)
    if (!nl_lab_find_node(lab, *n)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "'%s' is no node of the lab '%s'", *n, lab->dir);
      return FALSE;
    }
  return TRUE;
}

gboolean nl_lab_select(NlLab *lab, const char *const *keep, const char *const *drop,
                       GError **error) {
  if (!check_names(lab, keep, error) || !check_names(lab, drop, error)) return FALSE;
  for (guint i = lab->nodes->len; i-- > 0;) {
    NlNode *node = lab->nodes->pdata[i];
    if ((keep && !g_strv_contains(keep, node->name)) ||
        (drop && g_strv_contains(drop, node->name))) {
      g_hash_table_remove(lab->by_name, node->name);
      g_ptr_array_remove_index(lab->nodes, i);
    }
  }
  g_ptr_array_set_size(lab->lans, 0);
  collect_lans(lab);
  return TRUE;
}

NlNode *nl_lab_find_node(const NlLab *lab, const char *name) {
  return g_hash_table_lookup(lab->by_name, name);
}

NlNic *nl_lab_find_nic(const NlLab *lab, const char *spec, const NlNode **node, GError **error) {
  const char *colon = strchr(spec, ':');
  g_autofree char *name = colon ? g_strndup(spec, colon - spec) : NULL;
  const NlNode *n = name ? nl_lab_find_node(lab, name) : NULL;
  if (!n) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                colon ? "'%s': no node '%s' in the lab" : "'%s' is not NODE:ethN", spec, name);
    return NULL;
  }
  const char *eth = colon + 1;
  char *end = NULL;
  guint64 idx = g_str_has_prefix(eth, "eth") && g_ascii_isdigit(eth[3])
                    ? g_ascii_strtoull(eth + 3, &end, 10)
                    : G_MAXUINT64;
  if (!end || *end || idx >= n->nics->len) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "'%s': node '%s' has no interface '%s'", spec,
                n->name, eth);
    return NULL;
  }
  if (node) *node = n;
  return n->nics->pdata[idx];
}

void nl_mac_format(const guint8 mac[6], char buf[18]) {
  g_snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

/* The node named NAME, created at its first mention. */
static NlNode *get_node(Parser *p, const char *name, guint line) {
  NlNode *node = nl_lab_find_node(p->lab, name);

  if (node) return node;
  node = g_new0(NlNode, 1);
  node->name = g_strdup(name);
  node->nics = g_ptr_array_new_with_free_func(nic_free);
  node->exec = g_ptr_array_new_with_free_func(g_free);
  node->sysctl = g_ptr_array_new_with_free_func(g_free);
  node->env = g_ptr_array_new_with_free_func(g_free);
  node->deps = g_ptr_array_new_with_free_func(g_free);
  node->links = g_ptr_array_new_with_free_func(link_line_free);
  node->ports = g_array_new(FALSE, FALSE, sizeof(NlPort));
  node->num_terms = -1;
  node->ulimits = g_ptr_array_new_with_free_func(g_free);
  node->loc = (NlLoc){p->lab->conf_path, line};
  g_ptr_array_add(p->lab->nodes, node);
  g_hash_table_insert(p->lab->by_name, node->name, node);
  return node;
}

/* ---- lab.conf values ---- */

/* Kathará's value grammar: a run of characters or a string in "..." or
 * '...', neither holding a quote; after a closing quote, only " # comment".
 * An unquoted value runs to the end of the line, a '#' included. */
static char *parse_value(const char *raw, gboolean *quoted, const char **why) {
  const char *end;
  const char *rest;

  *quoted = raw[0] == '"' || raw[0] == '\'';
  if (!*quoted) {
    if (!*raw) {
      *why = "missing value";
      return NULL;
    }
    if (strpbrk(raw, "\"'")) {
      *why = "a value cannot hold quotes";
      return NULL;
    }
    return g_strdup(raw);
  }

  end = strchr(raw + 1, raw[0]);
  if (!end) {
    *why = "unterminated quote";
    return NULL;
  }
  if (end == raw + 1) {
    *why = "missing value";
    return NULL;
  }
  if (strpbrk(raw + 1, "\"'") != end) {
    *why = "a value cannot hold quotes";
    return NULL;
  }
  rest = end + 1;
  if (*rest && !match("^\\s+#", rest, NULL)) {
    *why = "only ' # comment' may follow the closing quote";
    return NULL;
  }
  return g_strndup(raw + 1, end - raw - 1);
}

/* Kathará keeps a '#' comment after an unquoted value in the value: point
 * at that when it is the likely cause of an error. */
static const char *comment_hint(const Assignment *a) {
  if (!a->quoted && match("\\s#", a->value, NULL))
    return " (a '#' after an unquoted value is part of it: quote the value)";
  return "";
}

static void bad_value(Parser *p, const Assignment *a, const char *expected) {
  conf_error(p, a->line, "invalid value '%s' for %s[%s]: %s%s", a->value, a->node->name, a->arg,
             expected, comment_hint(a));
}

/* "XX:XX:XX:XX:XX:XX", hex digits in either case. */
static gboolean parse_mac(const char *text, guint8 mac[6]) {
  for (int i = 0; i < 6; i++) {
    int high = g_ascii_xdigit_value(text[0]);
    int low = high < 0 ? -1 : g_ascii_xdigit_value(text[1]);
    char separator = i < 5 ? ':' : '\0';

    if (high < 0 || low < 0 || text[2] != separator) return FALSE;
    mac[i] = high << 4 | low;
    text += 3;
  }
  return TRUE;
}

/* Netlab names files after collision domains, hence no '/' nor a leading
 * '.' (no "..") nor a leading '-' (no option lookalikes). */
static gboolean valid_lan_name(const char *name) {
  return match("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$", name, NULL);
}

static NlNic *find_nic(const NlNode *node, guint index) {
  for (guint i = 0; i < node->nics->len; i++) {
    NlNic *nic = g_ptr_array_index(node->nics, i);

    if (nic->index == index) return nic;
  }
  return NULL;
}

/* NODE[N]=LAN or NODE[N]=LAN/MAC */
static void add_interface(Parser *p, const Assignment *a) {
  NlNode *node = a->node;
  const char *slash = strchr(a->value, '/');
  const char *mac = slash ? slash + 1 : NULL;
  guint64 index;
  NlNic *nic;

  if (!parse_number(a->arg, &index) || index >= MAX_NICS) {
    conf_error(p, a->line,
               "interface %s of '%s' is out of range: a node has at most %d "
               "interfaces, 0 to %d",
               a->arg, node->name, MAX_NICS, MAX_NICS - 1);
    return;
  }
  nic = find_nic(node, index);
  if (nic) {
    conf_error(p, a->line, "interface %u of '%s' defined twice (first at line %u)", nic->index,
               node->name, nic->loc.line);
    return;
  }

  /* Kept even when invalid, so that its index is not also reported as a gap. */
  nic = g_new0(NlNic, 1);
  nic->index = index;
  nic->lan = slash ? g_strndup(a->value, slash - a->value) : g_strdup(a->value);
  nic->loc = (NlLoc){p->lab->conf_path, a->line};
  g_ptr_array_add(node->nics, nic);

  if (!valid_lan_name(nic->lan))
    conf_error(p, a->line,
               "invalid collision domain name '%s': use 1 to 32 of A-Z, a-z, "
               "0-9, _, ., - not starting with . or -%s",
               nic->lan, comment_hint(a));
  if (!mac) return;
  if (!parse_mac(mac, nic->mac))
    conf_error(p, a->line,
               "malformed MAC address '%s': expected six hex pairs such as "
               "02:00:00:00:00:01%s",
               mac, comment_hint(a));
  else if (nic->mac[0] & 1)
    conf_error(p, a->line, "MAC address '%s' is multicast: its first octet must be even", mac);
  else
    nic->mac_given = TRUE;
}

/* Kathará's sizes: a number and an optional unit among b, k, m, g (any case);
 * no unit means MiB. Rounded down to whole MiB. */
static gboolean parse_mem_mib(const char *text, guint64 *mib) {
  size_t len = strlen(text);
  char unit = len ? g_ascii_tolower(text[len - 1]) : '\0';
  gboolean has_unit = unit && strchr("bkmg", unit);
  g_autofree char *digits = g_strndup(text, has_unit ? len - 1 : len);
  guint64 n;

  if (!parse_number(digits, &n)) return FALSE;
  switch (has_unit ? unit : 'm') {
    case 'b': *mib = n >> 20; break;
    case 'k': *mib = n >> 10; break;
    case 'm': *mib = n; break;
    default: /* 'g' */ *mib = n > G_MAXUINT64 >> 10 ? G_MAXUINT64 : n << 10; break;
  }
  return TRUE;
}

/* An absolute path, relative ones taken from the lab directory; a bare name
 * that is no file there may name a kernel `netlab kernel build` made. */
static char *resolve_kernel(Parser *p, guint line, const char *value) {
  g_autofree char *path = nl_kernel_resolve(value, p->lab->dir);

  if (g_file_test(path, G_FILE_TEST_EXISTS) && !g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
    /* A FIFO would block `up` reading it, for ever. */
    conf_error(p, line, "kernel '%s' is not a regular file", path);
    return NULL;
  }
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    if (strchr(value, '/'))
      conf_error(p, line, "kernel '%s' does not exist", path);
    else
      conf_error(p, line,
                 "kernel '%s' does not exist, nor does a built kernel '%s' "
                 "(see `netlab kernel list`)",
                 path, value);
    return NULL;
  }
  return g_steal_pointer(&path);
}

/* Kathará keeps the last value of an option given twice, with a warning. */
static void warn_if_set_again(Parser *p, const Assignment *a) {
  char *key = g_strdup_printf("%s[%s]", a->node->name, a->arg);
  gpointer before = g_hash_table_lookup(p->set_at, key);

  if (before)
    conf_warning(p, a->line, "%s set again: the value from line %u is overwritten", key,
                 GPOINTER_TO_UINT(before));
  g_hash_table_insert(p->set_at, key, GUINT_TO_POINTER(a->line));
}

static void set_mem(Parser *p, const Assignment *a) {
  guint64 mib;

  if (!parse_mem_mib(a->value, &mib))
    bad_value(p, a, "expected a size such as 256m or 1g");
  else if (mib < MIN_MEM_MIB || mib > MAX_MEM_MIB)
    bad_value(p, a, "must be from 64m to 64g");
  else
    a->node->mem_mib = mib;
}

/* "none" turns LAB_DISK off for one node. Returns what is wrong, or NULL. */
static const char *parse_disk(const char *value, guint64 *mib) {
  if (g_str_equal(value, "none")) {
    *mib = 0;
    return NULL;
  }
  if (!parse_mem_mib(value, mib)) return "expected a size such as 512m or 2g, or none";
  if (*mib < MIN_DISK_MIB || *mib > MAX_DISK_MIB) return "must be from 64m to 1024g";
  return NULL;
}

static void set_disk(Parser *p, const Assignment *a) {
  guint64 mib;
  const char *why = parse_disk(a->value, &mib);

  if (why) {
    bad_value(p, a, why);
    return;
  }
  a->node->disk_mib = mib;
  a->node->disk_set = TRUE;
  a->node->disk_loc = (NlLoc){p->lab->conf_path, a->line};
}

static void set_cpus(Parser *p, const Assignment *a) {
  guint64 cpus;

  if (parse_number(a->value, &cpus) && cpus >= 1 && cpus <= MAX_CPUS)
    a->node->cpus = cpus;
  else if (match("^[0-9]*\\.[0-9]+$", a->value, NULL))
    /* Kathará takes fractions (a container's CPU quota); a VM has whole vCPUs. */
    bad_value(p, a, "a VM has whole CPUs, expected an integer from 1 to 64");
  else
    bad_value(p, a, "expected an integer from 1 to 64");
}

/* r1[link]="eth0 delay=50ms loss=1%": checked here, applied to the
 * interface once every interface is known. */
static void add_link_line(Parser *p, const Assignment *a) {
  g_autoptr(GMatchInfo) m = NULL;
  g_autoptr(GError) error = NULL;
  NlImpair check = {0};

  if (!match("^eth([0-9]{1,2})(?:\\s+(.*))?$", a->value, &m)) {
    bad_value(p, a, "expected ethN and KEY=VALUE words, such as \"eth0 delay=50ms\"");
    return;
  }
  g_autofree char *index = g_match_info_fetch(m, 1);
  g_autofree char *spec = g_match_info_fetch(m, 2);
  if (!nl_impair_parse(spec ? spec : "", &check, &error)) {
    bad_value(p, a, error->message);
    return;
  }
  LinkLine *l = g_new0(LinkLine, 1);
  l->index = atoi(index);
  l->spec = g_strdup(spec ? spec : "");
  l->line = a->line;
  g_ptr_array_add(a->node->links, l);
}

static void add_exec(Parser *p, const Assignment *a) {
  g_ptr_array_add(a->node->exec, g_strdup(a->value));
}

static void add_sysctl(Parser *p, const Assignment *a) {
  if (match("^[a-z0-9_./-]+=", a->value, NULL))
    g_ptr_array_add(a->node->sysctl, g_strdup(a->value));
  else
    bad_value(p, a, "expected key=value such as net.ipv4.ip_forward=1");
}

static void add_env(Parser *p, const Assignment *a) {
  if (match("^[A-Za-z_][A-Za-z0-9_]*=", a->value, NULL))
    g_ptr_array_add(a->node->env, g_strdup(a->value));
  else
    bad_value(p, a, "expected NAME=value, NAME a shell variable name");
}

static void set_kernel(Parser *p, const Assignment *a) {
  char *path = resolve_kernel(p, a->line, a->value);

  if (path) {
    g_free(a->node->kernel);
    a->node->kernel = path;
  }
}

static void set_append(Parser *p, const Assignment *a) {
  g_free(a->node->append);
  a->node->append = g_strdup(a->value);
}

/* Kathará's booleans (Python's strtobool): 1 true, 0 false, -1 neither. */
static int parse_bool(const char *value) {
  static const char *const yes[] = {"y", "yes", "t", "true", "on", "1", NULL};
  static const char *const no[] = {"n", "no", "f", "false", "off", "0", NULL};
  g_autofree char *v = g_ascii_strdown(value, -1);

  return g_strv_contains(yes, v) ? 1 : g_strv_contains(no, v) ? 0 : -1;
}

static void set_ipv6(Parser *p, const Assignment *a) {
  int b = parse_bool(a->value);

  if (b < 0)
    bad_value(p, a, "expected true or false");
  else
    a->node->ipv6 = b;
}

/* Checked and resolved when the lab starts (image.h): here only its form. */
static void set_image(Parser *p, const Assignment *a) {
  g_autoptr(GError) local = NULL;
  g_autofree char *ref = nl_image_normalize(a->value, &local);
  if (!ref) {
    bad_value(p, a, local->message);
    return;
  }
  g_free(a->node->image);
  a->node->image = g_strdup(a->value);
  a->node->image_loc = (NlLoc){p->lab->conf_path, a->line};
}

static void set_bridged(Parser *p, const Assignment *a) {
  int b = parse_bool(a->value);

  if (b < 0) {
    bad_value(p, a, "expected true or false");
    return;
  }
  a->node->bridged = b;
  a->node->bridged_loc = (NlLoc){p->lab->conf_path, a->line};
}

/* Kathará's "[HOST:]GUEST[/PROTOCOL]": host port 3000 unless given, TCP
 * unless udp; netlab's "ADDR:HOST:GUEST[/PROTOCOL]" names the host address
 * to listen on ([...] around an IPv6 one), else the host's loopback only.
 * A port reaches the node through its uplink, so it implies bridged. */
static void add_port(Parser *p, const Assignment *a) {
  g_autoptr(GMatchInfo) m = NULL;

  if (!match("^(?:(?:([0-9.]+|\\[[0-9a-fA-F:.]+\\]):)?([0-9]{1,5}):)?([0-9]{1,5})(?:/([a-z]+))?$",
             a->value, &m)) {
    bad_value(p, a, "expected [[ADDR:]HOST:]GUEST[/tcp|udp], such as 8080:80/tcp");
    return;
  }
  g_autofree char *addr = g_match_info_fetch(m, 1);
  g_autofree char *host = g_match_info_fetch(m, 2);
  g_autofree char *guest = g_match_info_fetch(m, 3);
  g_autofree char *proto = g_match_info_fetch(m, 4);
  if (*addr == '[') {
    memmove(addr, addr + 1, strlen(addr));
    addr[strlen(addr) - 1] = '\0';
  }
  guint8 bin[16];
  if (*addr && inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1) {
    bad_value(p, a, "not an IPv4 or IPv6 address of the host to listen on");
    return;
  }
  guint64 h = *host ? g_ascii_strtoull(host, NULL, 10) : 3000,
          g = g_ascii_strtoull(guest, NULL, 10);
  if (h < 1 || h > 65535 || g < 1 || g > 65535) {
    bad_value(p, a, "ports run from 1 to 65535");
    return;
  }
  if (proto && *proto && !g_str_equal(proto, "tcp") && !g_str_equal(proto, "udp")) {
    bad_value(p, a, "netlab forwards tcp and udp only");
    return;
  }
  NlPort port = {.host = h, .guest = g, .udp = proto && g_str_equal(proto, "udp"), .line = a->line};
  g_strlcpy(port.addr, *addr ? addr : "127.0.0.1", sizeof port.addr);
  /* passt sends what the node sends from a forwarded UDP port through the
   * host's socket of that forward, wherever the node's datagram says: the
   * host's loopback included, from 127.0.0.1. The node keeps its uplink
   * (its interfaces are numbered as in Kathará). */
  if (port.udp)
    conf_warning(p, a->line,
                 "udp port %u of '%s' is not forwarded: passt would let the node send from it to "
                 "the host's loopback",
                 port.host, a->node->name);
  else
    g_array_append_val(a->node->ports, port);
  if (!a->node->bridged_loc.line) a->node->bridged_loc = (NlLoc){p->lab->conf_path, a->line};
  a->node->bridged = TRUE;
}

static void set_shell(Parser *p, const Assignment *a) {
  /* It is run by the node's /bin/sh, split at spaces: no quoting. */
  if (!match("^/?[A-Za-z0-9_./+-]+( [A-Za-z0-9_./+=-]+)*$", a->value, NULL)) {
    bad_value(p, a, "expected a program and its options, such as /bin/bash or vtysh");
    return;
  }
  g_free(a->node->shell);
  a->node->shell = g_strdup(a->value);
}

static void set_num_terms(Parser *p, const Assignment *a) {
  guint64 n;

  if (parse_number(a->value, &n) && n <= 8)
    a->node->num_terms = n;
  else
    bad_value(p, a, "expected an integer from 0 to 8");
}

/* Kathará's "KEY=SOFT[:HARD]", Docker's ulimit names (which prlimit(1)
 * shares), -1 or unlimited for no limit; the hard limit is the soft one
 * unless given. */
static void add_ulimit(Parser *p, const Assignment *a) {
  static const char *const keys[] = {
      "as",     "core",  "cpu", "data",   "fsize",  "locks",      "memlock", "msgqueue", "nice",
      "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",   NULL};
  g_autoptr(GMatchInfo) m = NULL;

  if (!match("^([a-z]+)=(-1|unlimited|[0-9]{1,18})(?::(-1|unlimited|[0-9]{1,18}))?$", a->value,
             &m)) {
    bad_value(p, a, "expected KEY=SOFT[:HARD], such as nofile=1024:4096");
    return;
  }
  g_autofree char *key = g_match_info_fetch(m, 1);
  g_autofree char *soft = g_match_info_fetch(m, 2);
  g_autofree char *hard = g_match_info_fetch(m, 3);
  if (!g_strv_contains(keys, key)) {
    g_autofree char *known = g_strjoinv(", ", (char **)keys);
    g_autofree char *why = g_strdup_printf("unknown limit '%s' (known: %s)", key, known);
    bad_value(p, a, why);
    return;
  }
  if (!hard || !*hard) {
    g_free(hard);
    hard = g_strdup(soft);
  }
  const char *s = g_str_equal(soft, "-1") ? "unlimited" : soft;
  const char *h = g_str_equal(hard, "-1") ? "unlimited" : hard;
  g_ptr_array_add(a->node->ulimits, g_strdup_printf("--%s=%s:%s", key, s, h));
}

/* Checked against LAB_HOSTS once the whole file is read. */
static void set_host(Parser *p, const Assignment *a) {
  g_free(a->node->host);
  a->node->host = g_strdup(a->value);
  a->node->host_line = a->line;
}

typedef void (*NodeKeyParser)(Parser *p, const Assignment *a);

/* Every NODE[KEY]=VALUE key: adding one is a row here plus its use. A row
 * with no parser is a Kathará option netlab accepts and ignores, with a
 * warning. netlab-lab.conf(5) is checked against this table (tests/unit/docs.sh). */
static const struct {
  NlLabKey info;
  NodeKeyParser parse;
} node_keys[] = {
    {{"mem", FALSE, "256m", "guest memory: a number with `k`, `m` or `g` (64m to 64g)"}, set_mem},
    {{"cpus", FALSE, "1", "virtual CPUs, an integer from 1 to 64"}, set_cpus},
    {{"exec", TRUE, NULL, "a command run after the startup scripts; repeatable, run in order"},
     add_exec},
    {{"sysctl", TRUE, NULL, "a sysctl set before the startup scripts; repeatable"}, add_sysctl},
    {{"env", TRUE, NULL,
      "an environment variable for the startup scripts and `exec` commands; "
      "repeatable"},
     add_env},
    {{"kernel", FALSE, NULL,
      "netlab: this node boots another kernel (relative paths are relative to "
      "the lab; a bare name that is no file there names a built kernel)"},
     set_kernel},
    {{"append", FALSE, NULL, "netlab: extra kernel command line for this node"}, set_append},
    {{"link", TRUE, NULL,
      "netlab: an interface impaired from the start, `ethN KEY=VALUE...` in the words of "
      "`netlab link set`; repeatable"},
     add_link_line},
    {{"disk", FALSE, NULL,
      "netlab: a persistent disk for the node's changes, 64m to 1024g, or `none`"},
     set_disk},
    {{"ipv6", FALSE, "false",
      "IPv6 on the node's interfaces (true or false), with Kathará's sysctls"},
     set_ipv6},
    {{"host", FALSE, "where `netlab up` runs", "netlab: the node runs on this host of `LAB_HOSTS`"},
     set_host},
    {{"image", FALSE, NULL,
      "the node's root: an OCI image, or the host's for Kathará's base images"},
     set_image},
    {{"bridged", FALSE, "false",
      "a NIC after the lab's ones on a NAT'd network to the outside, not to the host's "
      "loopback"},
     set_bridged},
    {{"port", TRUE, NULL,
      "`[[ADDR:]HOST:]GUEST[/PROTO]` (PROTO tcp, the default, or udp): host port HOST "
      "(default 3000) on ADDR (default 127.0.0.1) forwarded to the node's port GUEST "
      "through that NIC; implies `bridged`; repeatable"},
     add_port},
    {{"shell", FALSE, "/bin/bash",
      "the shell of the node's console and of its extra `netlab tmux` terminals: a program "
      "and its options"},
     set_shell},
    {{"num_terms", FALSE, "1",
      "windows `netlab tmux` (and `up --tmux`) opens for the node, 0 to 8: the console, then "
      "shells by `netlab exec -t`"},
     set_num_terms},
    {{"ulimit", TRUE, NULL,
      "`KEY=SOFT[:HARD]` (`nofile`, `nproc`, `core`... as Docker; -1 is unlimited): a "
      "limit of the startup scripts, services, console and `exec` commands; repeatable"},
     add_ulimit},
    {{"privileged", FALSE, NULL, "Kathará: a privileged container"}, NULL},
    {{"entrypoint", FALSE, NULL, "Kathará: the container's entrypoint"}, NULL},
    {{"args", FALSE, NULL, "Kathará: the entrypoint's arguments"}, NULL},
    {{"volume", TRUE, NULL, "Kathará: a host directory mounted in"}, NULL},
};

const NlLabKey *nl_lab_node_key(guint i) {
  return i < G_N_ELEMENTS(node_keys) ? &node_keys[i].info : NULL;
}

gboolean nl_lab_node_key_used(guint i) {
  return i < G_N_ELEMENTS(node_keys) && node_keys[i].parse != NULL;
}

/* NODE[KEY]=VALUE */
static void set_option(Parser *p, const Assignment *a) {
  for (guint i = 0; i < G_N_ELEMENTS(node_keys); i++) {
    if (!g_str_equal(node_keys[i].info.name, a->arg)) continue;
    if (!node_keys[i].parse) {
      conf_warning(p, a->line, "option '%s' of '%s' is ignored by netlab", a->arg, a->node->name);
      return;
    }
    if (!node_keys[i].info.list) warn_if_set_again(p, a);
    node_keys[i].parse(p, a);
    return;
  }
  conf_warning(p, a->line, "unknown option '%s' of '%s', ignored", a->arg, a->node->name);
}

static gboolean check_node_name(Parser *p, guint line, const char *name) {
  if (!match("^[a-z0-9_]{1,30}$", name, NULL)) {
    conf_error(p, line, "invalid node name '%s': use 1 to 30 of a-z, 0-9, _", name);
    return FALSE;
  }
  if (g_strv_contains(reserved_names, name)) {
    conf_error(p, line, "invalid node name '%s': the name is reserved", name);
    return FALSE;
  }
  return TRUE;
}

/* NODE[ARG]=VALUE, matched loosely so that a bad node name gets its own
 * message rather than "invalid line". */
static void parse_assignment(Parser *p, guint line, const char *text, GMatchInfo *match_info) {
  g_autofree char *name = g_match_info_fetch(match_info, 1);
  g_autofree char *arg = g_match_info_fetch(match_info, 2);
  g_autofree char *raw = g_match_info_fetch(match_info, 3);
  g_autofree char *value = NULL;
  const char *why = NULL;
  Assignment a = {.line = line, .arg = arg};

  if (!check_node_name(p, line, name)) return;
  if (!match("^[A-Za-z0-9_]+$", arg, NULL)) {
    conf_error(p, line, "invalid line: '%s' (%s)", text, EXPECTED_CONF_LINE);
    return;
  }
  value = parse_value(raw, &a.quoted, &why);
  if (!value) {
    conf_error(p, line, "invalid line: '%s' (%s)", text, why);
    return;
  }
  a.value = value;
  a.node = get_node(p, name, line);
  if (all_digits(arg))
    add_interface(p, &a);
  else
    set_option(p, &a);
}

static guint count_char(const char *s, char c) {
  guint n = 0;

  for (; *s; s++) n += *s == c;
  return n;
}

static void set_lab_append(Parser *p, guint line, char *value) {
  if (count_char(value, '"') % 2) {
    /* The kernel would take the rest of its command line, netlab's own
     * parameters included, as one quoted value. */
    conf_error(p, line, "LAB_APPEND has an unbalanced '\"': '%s'", value);
    g_free(value);
    return;
  }
  g_free(p->lab->append);
  p->lab->append = value;
}

static void set_lab_disk(Parser *p, guint line, char *value) {
  guint64 mib;
  const char *why = parse_disk(value, &mib);

  if (why) {
    conf_error(p, line, "invalid value '%s' for LAB_DISK: %s", value, why);
  } else {
    p->lab->disk_mib = mib;
    p->lab->disk_line = line;
  }
  g_free(value);
}

static void set_lab_capture(Parser *p, guint line, char *value) {
  g_free(p->lab->capture);
  p->lab->capture = value;
  p->capture_line = line;
}

static void set_lab_kernel(Parser *p, guint line, char *value) {
  char *path = resolve_kernel(p, line, value);

  g_free(value);
  if (path) {
    g_free(p->lab->kernel);
    p->lab->kernel = path;
  }
}

static void set_lab_hosts(Parser *p, guint line, char *value) {
  g_autofree char *why = nl_hosts_parse(value, p->lab->hosts);

  if (why) conf_error(p, line, "invalid LAB_HOSTS: %s", why);
  g_free(value);
}

static void set_lab_image(Parser *p, guint line, char *value) {
  g_autoptr(GError) local = NULL;
  g_autofree char *ref = nl_image_normalize(value, &local);
  if (!ref) {
    conf_error(p, line, "invalid value '%s' for LAB_IMAGE: %s", value, local->message);
    g_free(value);
    return;
  }
  g_free(p->lab->image);
  p->lab->image = value;
  p->lab->image_line = line;
}

static void set_lab_pull(Parser *p, guint line, char *value) {
  if (!nl_image_parse_pull(value, &p->lab->pull))
    conf_error(p, line, "invalid value '%s' for LAB_PULL_IMAGES: expected missing, never or always",
               value);
  g_free(value);
}

static void set_lab_underlay(Parser *p, guint line, char *value) {
  g_autofree char *why = nl_underlay_parse(value, &p->lab->underlay);

  if (why) conf_error(p, line, "invalid LAB_UNDERLAY: %s", why);
  g_free(value);
}

/* Every LAB_KEY=VALUE key: a string field of NlLab, or a parser that takes
 * the value (owned). */
static const struct {
  NlLabKey info;
  gsize field;
  void (*parse)(Parser *p, guint line, char *value);
} lab_keys[] = {
    {{"NAME", FALSE, NULL, "metadata, as in Kathará"}, G_STRUCT_OFFSET(NlLab, name)},
    {{"DESCRIPTION", FALSE, NULL, "metadata, as in Kathará"}, G_STRUCT_OFFSET(NlLab, description)},
    {{"VERSION", FALSE, NULL, "metadata, as in Kathará"}, G_STRUCT_OFFSET(NlLab, version)},
    {{"AUTHOR", FALSE, NULL, "metadata, as in Kathará"}, G_STRUCT_OFFSET(NlLab, author)},
    {{"EMAIL", FALSE, NULL, "metadata, as in Kathará"}, G_STRUCT_OFFSET(NlLab, email)},
    {{"WEB", FALSE, NULL, "metadata, as in Kathará"}, G_STRUCT_OFFSET(NlLab, web)},
    {{"KERNEL", FALSE,
      "the newest default `netlab kernel build`, else the newest `/boot/vmlinuz-*`",
      "netlab: the kernel every node boots, as `r1[kernel]`"},
     0,
     set_lab_kernel},
    {{"APPEND", FALSE, NULL, "netlab: extra kernel command line for every node"},
     0,
     set_lab_append},
    {{"CAPTURE", FALSE, NULL,
      "netlab: `netlab test` captures these LANs while the tests run and keeps the "
      "captures of a failure"},
     0,
     set_lab_capture},
    {{"DISK", FALSE, NULL, "netlab: a disk for every node that does not set `disk`"},
     0,
     set_lab_disk},
    {{"HOSTS", TRUE, NULL, "netlab: the hosts nodes may run on, `NAME=URI` each, a libvirt URI"},
     0,
     set_lab_hosts},
    {{"UNDERLAY", FALSE, "mtu=1500 ttl=1 port=14789",
      "netlab: the network between the hosts that LANs spanning hosts ride on: `dev=`, `mtu=`, "
      "`ttl=`, `port=`"},
     0,
     set_lab_underlay},
    {{"IMAGE", FALSE, NULL, "netlab: the image of every node that names none"}, 0, set_lab_image},
    {{"PULL_IMAGES", FALSE, "missing",
      "netlab: what `up` may pull: `missing` images, `never`, or `always` again"},
     0,
     set_lab_pull},
};

const NlLabKey *nl_lab_lab_key(guint i) {
  return i < G_N_ELEMENTS(lab_keys) ? &lab_keys[i].info : NULL;
}

/* LAB_KEY=VALUE: the value runs to the end of the line, as in Kathará; one
 * pair of enclosing quotes is removed. */
static void set_lab_key(Parser *p, guint line, const char *key, const char *raw) {
  size_t len = strlen(raw);
  gboolean quoted = len >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[len - 1] == raw[0];
  char *value = quoted ? g_strndup(raw + 1, len - 2) : g_strdup(raw);

  for (guint i = 0; i < G_N_ELEMENTS(lab_keys); i++) {
    if (!g_str_equal(lab_keys[i].info.name, key)) continue;
    if (lab_keys[i].parse) {
      lab_keys[i].parse(p, line, value);
    } else {
      char **field = G_STRUCT_MEMBER_P(p->lab, lab_keys[i].field);

      g_free(*field);
      *field = value;
    }
    return;
  }
  g_free(value);
  conf_warning(p, line, "unknown key 'LAB_%s', ignored", key);
}

/* Refuses a line holding a control character, before any message quotes
 * it. */
static gboolean control_free(Parser *p, const char *file, guint line, const char *text) {
  gunichar c = control_char(text);

  if (c) add_problem(p, file, line, "control character U+%04X: lab files hold text only", (guint)c);
  return c == 0;
}

static void parse_conf_line(Parser *p, guint line, const char *text) {
  g_autoptr(GMatchInfo) node_line = NULL;
  g_autoptr(GMatchInfo) lab_line = NULL;

  if (*text == '\0' || *text == '#' || !control_free(p, p->lab->conf_path, line, text)) return;
  if (match("^([^\\[\\]=\\s]*)\\[([^\\]]*)\\]=(.*)$", text, &node_line)) {
    parse_assignment(p, line, text, node_line);
  } else if (match("^LAB_([A-Za-z0-9_]+)=(.*)$", text, &lab_line)) {
    g_autofree char *key = g_match_info_fetch(lab_line, 1);
    g_autofree char *value = g_match_info_fetch(lab_line, 2);

    set_lab_key(p, line, key, value);
  } else {
    conf_error(p, line, "invalid line: '%s' (%s)", text, EXPECTED_CONF_LINE);
  }
}

/* ---- Checks over the whole lab.conf ---- */

static int compare_nics(gconstpointer a, gconstpointer b) {
  const NlNic *x = *(NlNic *const *)a;
  const NlNic *y = *(NlNic *const *)b;

  return (x->index > y->index) - (x->index < y->index);
}

/* Locally administered (0x02), unicast, and stable: the same lab directory
 * gets the same MACs on every run, so captures and ARP caches stay valid. */
static void derive_mac(const char *dir, const char *node, guint index, guint8 mac[6]) {
  g_autofree char *seed = g_strdup_printf("%s\n%s\n%u", dir, node, index);
  guint8 digest[32];

  nl_sha256(seed, digest);
  mac[0] = 0x02;
  memcpy(mac + 1, digest, 5);
}

/* Sorts the interfaces, reports gaps, and derives the MACs not given. */
static void check_nics(Parser *p, NlNode *node) {
  guint expected = 0;

  g_ptr_array_sort(node->nics, compare_nics);
  for (guint i = 0; i < node->nics->len; i++) {
    NlNic *nic = g_ptr_array_index(node->nics, i);

    if (nic->index != expected)
      conf_error(p, nic->loc.line, "'%s' has interface %u but no interface %u", node->name,
                 nic->index, expected);
    expected = nic->index + 1;
    if (!nic->mac_given) derive_mac(p->lab->dir, node->name, nic->index, nic->mac);
  }
  if (node->bridged) {
    /* The uplink takes the PCI slot after the last interface's. */
    if (node->nics->len >= MAX_NICS)
      conf_error(p, node->bridged_loc.line,
                 "'%s' is bridged: its uplink is one more interface, and a node has at most %d",
                 node->name, MAX_NICS);
    derive_mac(p->lab->dir, node->name, MAX_NICS, node->uplink_mac);
  }
  for (guint i = 0; i < node->links->len; i++) {
    const LinkLine *l = g_ptr_array_index(node->links, i);

    if (l->index >= node->nics->len)
      conf_error(p, l->line, "'%s' has no interface eth%u to impair", node->name, l->index);
    else {
      NlNic *nic = g_ptr_array_index(node->nics, l->index);
      nl_impair_parse(l->spec, &nic->impair, NULL);
      nic->impair_line = l->line;
    }
  }
}

typedef struct {
  const NlNode *node;
  const NlNic *nic;
} NicRef;

static int compare_nic_lines(gconstpointer a, gconstpointer b) {
  guint x = ((const NicRef *)a)->nic->loc.line;
  guint y = ((const NicRef *)b)->nic->loc.line;

  return (x > y) - (x < y);
}

typedef struct {
  const NlNode *node;
  const NlPort *port;
} PortRef;

static int compare_port_lines(gconstpointer a, gconstpointer b) {
  guint x = ((const PortRef *)a)->port->line;
  guint y = ((const PortRef *)b)->port->line;

  return (x > y) - (x < y);
}

/* Two nodes cannot both listen on one host port: in file order, so that
 * the later line gets the error. */
static void check_unique_ports(Parser *p) {
  g_autoptr(GArray) refs = g_array_new(FALSE, FALSE, sizeof(PortRef));
  g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);

  for (guint i = 0; i < p->lab->nodes->len; i++) {
    const NlNode *node = p->lab->nodes->pdata[i];
    for (guint j = 0; j < node->ports->len; j++) {
      PortRef r = {node, &g_array_index(node->ports, NlPort, j)};
      g_array_append_val(refs, r);
    }
  }
  g_array_sort(refs, compare_port_lines);
  for (guint i = 0; i < refs->len; i++) {
    const PortRef *r = &g_array_index(refs, PortRef, i);
    gpointer key = GUINT_TO_POINTER(r->port->host << 1 | r->port->udp);
    const NlNode *other = g_hash_table_lookup(seen, key);
    if (other)
      conf_error(p, r->port->line, "host port %u/%s of '%s' is forwarded to '%s' already",
                 r->port->host, r->port->udp ? "udp" : "tcp", r->node->name, other->name);
    else
      g_hash_table_insert(seen, key, (gpointer)r->node);
  }
}

/* In file order, so that the later of two interfaces gets the error. */
static void check_unique_macs(Parser *p) {
  g_autoptr(GArray) refs = g_array_new(FALSE, FALSE, sizeof(NicRef));
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < p->lab->nodes->len; i++) {
    const NlNode *node = g_ptr_array_index(p->lab->nodes, i);

    for (guint j = 0; j < node->nics->len; j++) {
      NicRef ref = {node, g_ptr_array_index(node->nics, j)};

      g_array_append_val(refs, ref);
    }
  }
  g_array_sort(refs, compare_nic_lines);

  for (guint i = 0; i < refs->len; i++) {
    const NicRef *ref = &g_array_index(refs, NicRef, i);
    const NicRef *first;
    char mac[18];

    nl_mac_format(ref->nic->mac, mac);
    first = g_hash_table_lookup(seen, mac);
    if (first)
      conf_error(p, ref->nic->loc.line,
                 "MAC address '%s' of %s eth%u is already used by %s eth%u "
                 "(line %u)",
                 mac, ref->node->name, ref->nic->index, first->node->name, first->nic->index,
                 first->nic->loc.line);
    else
      g_hash_table_insert(seen, g_strdup(mac), (gpointer)ref);
  }
}

const NlHost *nl_lab_find_host(const NlLab *lab, const char *name) {
  for (guint i = 0; i < lab->hosts->len; i++)
    if (g_str_equal(((NlHost *)lab->hosts->pdata[i])->name, name)) return lab->hosts->pdata[i];
  return NULL;
}

/* Every r1[host] names a host of LAB_HOSTS. */
static void check_hosts(Parser *p, const NlNode *node) {
  if (node->host && !nl_lab_find_host(p->lab, node->host))
    conf_error(p, node->host_line, "'%s' runs on host '%s', which LAB_HOSTS does not name",
               node->name, node->host);
}

/* LAB_CAPTURE names LANs of the lab. */
static void check_capture(Parser *p) {
  g_auto(GStrv) names = p->lab->capture ? g_strsplit_set(p->lab->capture, " \t,", -1) : NULL;

  for (char **n = names; n && *n; n++)
    if (**n && !g_ptr_array_find_with_equal_func(p->lab->lans, *n, g_str_equal, NULL))
      conf_error(p, p->capture_line, "LAB_CAPTURE names '%s', which is no LAN of the lab", *n);
}

static void collect_lans(NlLab *lab) {
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = g_ptr_array_index(lab->nodes, i);

    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = g_ptr_array_index(node->nics, j);

      if (g_hash_table_add(seen, nic->lan)) g_ptr_array_add(lab->lans, g_strdup(nic->lan));
    }
  }
  g_ptr_array_sort(lab->lans, nl_strv_cmp);
}

static void place_lans(NlLab *lab) {
  lab->lan_where = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = g_ptr_array_index(lab->nodes, i);
    for (guint j = 0; j < node->nics->len; j++) {
      const NlNic *nic = g_ptr_array_index(node->nics, j);
      guint where = GPOINTER_TO_UINT(g_hash_table_lookup(lab->lan_where, nic->lan));
      where |= node->host ? NL_LAN_AWAY : NL_LAN_HERE;
      g_hash_table_insert(lab->lan_where, g_strdup(nic->lan), GUINT_TO_POINTER(where));
    }
  }
}

/* The LANs of exactly two interfaces of nodes that run where `up` runs,
 * and not connected to the host (lab.ext): each end learns the other (link.h). Found on the whole lab, so that a
 * partial `up` wires a LAN as the full one does. */
static void mark_wires(NlLab *lab) {
  g_autoptr(GHashTable) ends =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *node = lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++) {
      NlNic *nic = node->nics->pdata[j];
      nic->end = -1;
      GPtrArray *on = g_hash_table_lookup(ends, nic->lan);
      if (!on) g_hash_table_insert(ends, nic->lan, on = g_ptr_array_new());
      /* A remote node's NIC never joins a wire: the LAN is vxvde. */
      g_ptr_array_add(on, node->host ? NULL : (gpointer)node);
      g_ptr_array_add(on, nic);
    }
  }
  GHashTableIter it;
  const char *lan;
  GPtrArray *on;
  g_hash_table_iter_init(&it, ends);
  while (g_hash_table_iter_next(&it, (gpointer *)&lan, (gpointer *)&on)) {
    if (on->len != 4 || !on->pdata[0] || !on->pdata[2] || nl_lab_lan_ext(lab, lan)) continue;
    for (guint e = 0; e < 2; e++) {
      NlNic *nic = on->pdata[2 * e + 1];
      const NlNode *peer = on->pdata[2 * (1 - e)];
      const NlNic *other = on->pdata[2 * (1 - e) + 1];
      nic->end = e;
      nic->peer_node = g_strdup(peer->name);
      nic->peer_index = other->index;
      nic->peer_impair = other->impair;
    }
  }
}

/* ---- lab.ext ---- */

/* Linux's longest interface name (IFNAMSIZ less its NUL). */
#define IFNAME_MAX 15
/* Far more than any lab connects; keeps a bridge's name in IFNAME_MAX. */
#define EXT_LANS_MAX 4096

static void ext_free(gpointer data) {
  NlExt *e = data;
  g_free(e->lan);
  g_free(e->dev);
  g_free(e->ifname);
  g_free(e);
}

gboolean nl_lab_lan_ext(const NlLab *lab, const char *lan) {
  for (guint i = 0; i < lab->ext->len; i++)
    if (g_str_equal(((NlExt *)lab->ext->pdata[i])->lan, lan)) return TRUE;
  return FALSE;
}

static GHashTable *lan_set(Parser *p) {
  if (p->lan_set) return p->lan_set;
  p->lan_set = g_hash_table_new(g_str_hash, g_str_equal);
  p->ext_at = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  p->ext_ord = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < p->lab->nodes->len; i++) {
    const NlNode *node = p->lab->nodes->pdata[i];
    for (guint j = 0; j < node->nics->len; j++)
      g_hash_table_add(p->lan_set, ((NlNic *)node->nics->pdata[j])->lan);
  }
  return p->lan_set;
}

/* DEV[.VLAN] into E's dev, vlan and ifname; FALSE with a problem. */
static gboolean parse_ext_dev(Parser *p, guint line, const char *spec, NlExt *e) {
  const char *dot = strrchr(spec, '.');
  guint64 vlan = 0;
  e->dev = dot ? g_strndup(spec, dot - spec) : g_strdup(spec);
  if (dot && (!parse_number(dot + 1, &vlan) || vlan < 1 || vlan > 4094)) {
    ext_error(p, line, "invalid VLAN ID '%s' in '%s': expected a number from 1 to 4094", dot + 1,
              spec);
    return FALSE;
  }
  if (!match("^[A-Za-z0-9_-]+$", e->dev, NULL)) {
    ext_error(p, line,
              "invalid interface name '%s': expected letters, digits, '_' and '-', then "
              "optionally .VLAN_ID",
              e->dev);
    return FALSE;
  }
  if (strlen(e->dev) > IFNAME_MAX) {
    ext_error(p, line, "interface name '%s' is longer than Linux's %d bytes", e->dev, IFNAME_MAX);
    return FALSE;
  }
  e->vlan = vlan;
  if (!vlan) {
    e->ifname = g_strdup(e->dev);
    return TRUE;
  }
  /* Kathará's name for the sub-interface: DEV cut so that DEV.VLAN fits. */
  g_autofree char *tag = g_strdup_printf(".%u", e->vlan);
  int keep = MIN((int)strlen(e->dev), IFNAME_MAX - (int)strlen(tag));
  e->ifname = g_strdup_printf("%.*s%s", keep, e->dev, tag);
  return TRUE;
}

/* "LAN DEV[.VLAN]", as Kathará's ExtParser reads it (it also takes '#'
 * lines as comments); Kathará refuses a LAN no node is on. */
static void parse_ext_line(Parser *p, guint line, const char *text) {
  g_autoptr(GMatchInfo) m = NULL;
  if (*text == '\0' || *text == '#' || !control_free(p, p->lab->ext_path, line, text)) return;
  if (!match("^(\\S+)\\s+(\\S+)$", text, &m)) {
    ext_error(p, line, "invalid line: '%s' (expected COLLISION_DOMAIN INTERFACE[.VLAN_ID])", text);
    return;
  }
  g_autofree char *lan = g_match_info_fetch(m, 1);
  g_autofree char *spec = g_match_info_fetch(m, 2);
  if (!g_hash_table_contains(lan_set(p), lan)) {
    ext_error(p, line, "collision domain '%s' is not in lab.conf: no node is on it", lan);
    return;
  }
  NlExt *e = g_new0(NlExt, 1);
  if (!parse_ext_dev(p, line, spec, e)) {
    ext_free(e);
    return;
  }
  guint first = GPOINTER_TO_UINT(g_hash_table_lookup(p->ext_at, e->ifname));
  if (first) {
    ext_error(p, line, "interface '%s' is already connected at line %u", e->ifname, first);
    ext_free(e);
    return;
  }
  g_hash_table_insert(p->ext_at, g_strdup(e->ifname), GUINT_TO_POINTER(line));
  guint ord = GPOINTER_TO_UINT(g_hash_table_lookup(p->ext_ord, lan));
  if (!ord) {
    ord = g_hash_table_size(p->ext_ord) + 1;
    if (ord > EXT_LANS_MAX) {
      ext_error(p, line, "more than %d collision domains connected to the host", EXT_LANS_MAX);
      ext_free(e);
      return;
    }
    g_hash_table_insert(p->ext_ord, g_strdup(lan), GUINT_TO_POINTER(ord));
  }
  e->ord = ord - 1;
  e->lan = g_steal_pointer(&lan);
  e->loc = (NlLoc){p->lab->ext_path, line};
  g_ptr_array_add(p->lab->ext, e);
}

/* ---- lab.dep ---- */

/* "NODE: NODE NODE...": the first node starts after the others. */
static void parse_dep_line(Parser *p, guint line, const char *text) {
  g_autoptr(GMatchInfo) rule = NULL;
  g_autofree char *name = NULL;
  g_autofree char *list = NULL;
  g_auto(GStrv) deps = NULL;
  NlNode *node;

  if (*text == '\0' || *text == '#' || !control_free(p, p->lab->dep_path, line, text)) return;
  if (!match("^([^\\s:]+)\\s*:\\s*([^:]+)$", text, &rule)) {
    dep_error(p, line, "invalid line: '%s' (expected NODE: NODE...)", text);
    return;
  }
  name = g_match_info_fetch(rule, 1);
  list = g_match_info_fetch(rule, 2);
  node = nl_lab_find_node(p->lab, name);
  if (!node)
    dep_error(p, line, "lab.dep names unknown node '%s'", name);
  else if (!g_hash_table_contains(p->dep_at, name))
    g_hash_table_insert(p->dep_at, g_strdup(name), GUINT_TO_POINTER(line));

  deps = g_regex_split_simple("\\s+", list, 0, 0);
  for (guint i = 0; deps[i]; i++) {
    if (!*deps[i]) continue;
    if (!nl_lab_find_node(p->lab, deps[i]))
      dep_error(p, line, "lab.dep names unknown node '%s'", deps[i]);
    else if (node && !g_ptr_array_find_with_equal_func(node->deps, deps[i], g_str_equal, NULL))
      g_ptr_array_add(node->deps, g_strdup(deps[i]));
  }
}

enum { UNSEEN, ON_PATH, DONE };

/* PATH holds the names from the DFS root to NODE; DEP, on it, closes a loop. */
static void report_cycle(Parser *p, const NlNode *node, const NlNode *dep, GPtrArray *path) {
  g_autoptr(GString) cycle = g_string_new(NULL);
  guint start = 0;

  g_ptr_array_find(path, dep->name, &start);
  for (guint i = start; i < path->len; i++)
    g_string_append_printf(cycle, "%s -> ", (char *)g_ptr_array_index(path, i));
  g_string_append(cycle, dep->name);
  dep_error(p, GPOINTER_TO_UINT(g_hash_table_lookup(p->dep_at, node->name)), "dependency cycle: %s",
            cycle->str);
}

/* Depth-first from ROOT with a stack of our own, not recursion: a chain of
 * thousands of dependencies must not exhaust the C stack. PATH holds the
 * names from ROOT to the node on top; NEXT, beside it, which of that node's
 * dependencies comes next. */
static void visit(Parser *p, NlNode *root, GHashTable *state, GPtrArray *path) {
  g_autoptr(GPtrArray) stack = g_ptr_array_new();
  g_autoptr(GArray) next = g_array_new(FALSE, TRUE, sizeof(guint));
  guint zero = 0;

  g_ptr_array_add(stack, root);
  g_array_append_val(next, zero);
  g_ptr_array_add(path, root->name);
  g_hash_table_insert(state, root, GUINT_TO_POINTER(ON_PATH));
  while (stack->len > 0) {
    NlNode *node = g_ptr_array_index(stack, stack->len - 1);
    guint *i = &g_array_index(next, guint, next->len - 1);
    NlNode *dep;
    guint seen;

    if (*i == node->deps->len) {
      g_hash_table_insert(state, node, GUINT_TO_POINTER(DONE));
      g_ptr_array_remove_index(stack, stack->len - 1);
      g_array_remove_index(next, next->len - 1);
      g_ptr_array_remove_index(path, path->len - 1);
      continue;
    }
    dep = nl_lab_find_node(p->lab, g_ptr_array_index(node->deps, (*i)++));
    seen = GPOINTER_TO_UINT(g_hash_table_lookup(state, dep));
    if (seen == ON_PATH) {
      report_cycle(p, node, dep, path);
    } else if (seen == UNSEEN) {
      g_ptr_array_add(stack, dep);
      g_array_append_val(next, zero);
      g_ptr_array_add(path, dep->name);
      g_hash_table_insert(state, dep, GUINT_TO_POINTER(ON_PATH));
    }
  }
}

static void check_dep_cycles(Parser *p) {
  g_autoptr(GHashTable) state = g_hash_table_new(NULL, NULL);
  g_autoptr(GPtrArray) path = g_ptr_array_new();

  for (guint i = 0; i < p->lab->nodes->len; i++) {
    NlNode *node = g_ptr_array_index(p->lab->nodes, i);

    if (!g_hash_table_contains(state, node)) visit(p, node, state, path);
  }
}

/* ---- Loading ---- */

static char *resolve_lab_dir(const char *dir, GError **error) {
  if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
    g_autofree char *shown = g_canonicalize_filename(dir, NULL);

    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s: %s", shown,
                g_file_test(dir, G_FILE_TEST_EXISTS) ? "not a directory" : "no such directory");
    return NULL;
  }
  return nl_realpath(dir, error);
}

/* The text of PATH; NULL with *MISSING set and no error if it is absent. */
static char *read_lab_file_flags(const char *path, int flags, gboolean *missing, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  *missing = FALSE;
  if (!nl_read_file_flags(path, flags, LAB_FILE_MAX, &contents, &len, &local)) {
    *missing = g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_LOOP))
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "%s: a symbolic link, which netlab does not follow", path);
    else if (!*missing)
      g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, local->message);
    return NULL;
  }
  /* Also refuses NUL bytes, which would cut lines short. */
  if (!g_utf8_validate(contents, len, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s: not UTF-8 text", path);
    return NULL;
  }
  return g_steal_pointer(&contents);
}

static char *read_lab_file(const char *path, gboolean *missing, GError **error) {
  return read_lab_file_flags(path, 0, missing, error);
}

/* Line by line with memchr: linear, also under ASan, whose strstr (and so
 * g_strsplit) measures the whole rest of the text at every line. */
static void parse_lines(Parser *p, const char *contents,
                        void (*parse_line)(Parser *, guint, const char *)) {
  const char *end = contents + strlen(contents);
  const char *line = contents;

  for (guint n = 1;; n++) {
    const char *nl = memchr(line, '\n', end - line);
    g_autofree char *text = g_strndup(line, (nl ? nl : end) - line);

    /* Stripping also drops the '\r' of files written on Windows. */
    parse_line(p, n, g_strstrip(text));
    if (!nl) break;
    line = nl + 1;
  }
}

/* lab.conf, lab.dep, lab.ext, each by line: the order of a compiler's errors. */
static int file_rank(const NlLab *lab, const char *file) {
  return file == lab->dep_path ? 1 : file == lab->ext_path ? 2 : 0;
}

static int compare_problems(gconstpointer a, gconstpointer b, gpointer user_data) {
  const Problem *x = *(Problem *const *)a;
  const Problem *y = *(Problem *const *)b;
  const NlLab *lab = user_data;
  int x_rank = file_rank(lab, x->file), y_rank = file_rank(lab, y->file);

  if (x_rank != y_rank) return x_rank - y_rank;
  if (x->line != y->line) return (x->line > y->line) - (x->line < y->line);
  return (x->seq > y->seq) - (x->seq < y->seq);
}

static void report_problems(Parser *p, GError **error) {
  g_autoptr(GString) message = g_string_new(NULL);

  g_ptr_array_sort_with_data(p->problems, compare_problems, p->lab);
  for (guint i = 0; i < p->problems->len; i++) {
    const Problem *problem = g_ptr_array_index(p->problems, i);

    if (i > 0) g_string_append_c(message, '\n');
    if (problem->line)
      g_string_append_printf(message, "%s:%u: %s", problem->file, problem->line, problem->text);
    else
      g_string_append_printf(message, "%s: %s", problem->file, problem->text);
  }
  g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, message->str);
}

static NlLab *lab_new(char *dir) {
  NlLab *lab = g_new0(NlLab, 1);

  lab->dir = dir;
  lab->conf_path = g_build_filename(dir, "lab.conf", NULL);
  lab->dep_path = g_build_filename(dir, "lab.dep", NULL);
  lab->ext_path = g_build_filename(dir, "lab.ext", NULL);
  lab->ext = g_ptr_array_new_with_free_func(ext_free);
  lab->nodes = g_ptr_array_new_with_free_func(node_free);
  lab->lans = g_ptr_array_new_with_free_func(g_free);
  lab->hosts = g_ptr_array_new_with_free_func(nl_host_free);
  nl_underlay_init(&lab->underlay);
  lab->by_name = g_hash_table_new(g_str_hash, g_str_equal);
  return lab;
}

NlLab *nl_lab_load(const char *dir, GPtrArray *warnings, GError **error) {
  g_autofree char *abs_dir = resolve_lab_dir(dir, error);
  g_autoptr(NlLab) lab = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *dep = NULL;
  g_autofree char *ext = NULL;
  g_auto(Parser) p = {0};
  gboolean missing;

  if (!abs_dir) return NULL;
  lab = lab_new(g_steal_pointer(&abs_dir));

  conf = read_lab_file(lab->conf_path, &missing, error);
  if (missing)
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "%s: no such file (is '%s' a lab directory?)",
                lab->conf_path, lab->dir);
  if (!conf) return NULL;
  dep = read_lab_file(lab->dep_path, &missing, error);
  if (!dep && !missing) return NULL;
  /* Not followed if a link: root acts on what it names (wire/ext.h). */
  ext = read_lab_file_flags(lab->ext_path, O_NOFOLLOW, &missing, error);
  if (!ext && !missing) return NULL;

  p.lab = lab;
  p.problems = g_ptr_array_new_with_free_func(problem_free);
  p.warnings = warnings;
  p.set_at = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  p.dep_at = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  parse_lines(&p, conf, parse_conf_line);
  for (guint i = 0; i < lab->nodes->len; i++) {
    NlNode *node = g_ptr_array_index(lab->nodes, i);

    check_nics(&p, node);
    check_hosts(&p, node);
    if (!node->image && lab->image) {
      node->image = g_strdup(lab->image);
      node->image_loc = (NlLoc){lab->conf_path, lab->image_line};
    }
    if (!node->disk_set && lab->disk_mib) {
      node->disk_mib = lab->disk_mib;
      node->disk_loc = (NlLoc){lab->conf_path, lab->disk_line};
    }
  }
  check_unique_macs(&p);
  check_unique_ports(&p);
  if (dep) {
    parse_lines(&p, dep, parse_dep_line);
    check_dep_cycles(&p);
  }
  if (ext) parse_lines(&p, ext, parse_ext_line);
  /* Only when nothing else is wrong: with bad lines, it is just noise. */
  if (lab->nodes->len == 0 && p.problems->len == 0) conf_error(&p, 0, "defines no nodes");

  if (p.problems->len > 0) {
    report_problems(&p, error);
    return NULL;
  }
  collect_lans(lab);
  place_lans(lab);
  mark_wires(lab);
  check_capture(&p);
  if (p.problems->len > 0) {
    report_problems(&p, error);
    return NULL;
  }
  return g_steal_pointer(&lab);
}
