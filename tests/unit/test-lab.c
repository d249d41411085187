/* The lab model against the labs in tests/data/lab: good-* labs are checked
 * field by field (and their warnings against a 'warnings' file), bad-* labs
 * must fail with exactly the message in their 'expected' file. In both files
 * @DIR@ stands for the lab's absolute directory. */
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab.h"
#include "span.h"
#include "tap.h"
#include "util.h"

static char *labs_dir; /* absolute, symlink-free: what nl_lab_load() reports */

static char *lab_path(const char *name) { return g_build_filename(labs_dir, name, NULL); }

/* FILE of lab directory DIR, @DIR@ replaced, without its final newline;
 * NULL if there is no such file. */
static char *read_expected(const char *dir, const char *file) {
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) parts = NULL;
  gsize len;

  if (!g_file_get_contents(path, &text, &len, NULL)) return NULL;
  if (len > 0 && text[len - 1] == '\n') text[len - 1] = '\0';
  parts = g_strsplit(text, "@DIR@", -1);
  return g_strjoinv(dir, parts);
}

static char *join_lines(GPtrArray *lines) {
  g_autoptr(GString) text = g_string_new(NULL);

  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf(text, "%s%s", i ? "\n" : "", (char *)g_ptr_array_index(lines, i));
  return g_string_free(g_steal_pointer(&text), FALSE);
}

static char *mac_string(const guint8 mac[6]) {
  char buf[18];

  nl_mac_format(mac, buf);
  return g_strdup(buf);
}

/* Loads a good lab and checks its warnings against its 'warnings' file. */
static NlLab *load_good(const char *name) {
  g_autofree char *dir = lab_path(name);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *want = read_expected(dir, "warnings");
  g_autofree char *got = NULL;
  NlLab *lab = nl_lab_load(dir, warnings, &error);

  TAP_OK(lab != NULL, "%s loads", name);
  if (error) printf("#   %s\n", error->message);
  got = join_lines(warnings);
  TAP_STREQ(got, want, "%s: warnings", name);
  return lab;
}

static void check_nic(const NlNode *node, guint index, const char *lan, const char *mac) {
  const NlNic *nic;
  g_autofree char *got_mac = NULL;

  TAP_OK(index < node->nics->len, "%s has eth%u", node->name, index);
  if (index >= node->nics->len) return;
  nic = g_ptr_array_index(node->nics, index);
  TAP_OK(nic->index == index, "%s eth%u: index", node->name, index);
  TAP_STREQ(nic->lan, lan, "%s eth%u: lan", node->name, index);
  if (mac) {
    got_mac = mac_string(nic->mac);
    TAP_STREQ(got_mac, mac, "%s eth%u: given MAC", node->name, index);
  }
  TAP_OK(nic->mac_given == (mac != NULL), "%s eth%u: mac_given", node->name, index);
}

static void check_strings(GPtrArray *got, const char *const *want, const char *what) {
  g_autofree char *got_text = join_lines(got);
  g_autofree char *want_text = g_strjoinv("\n", (char **)want);

  TAP_STREQ(got_text, want_text, "%s", what);
}

/* What the spec says a derived MAC is: 02 then SHA-256("DIR\nNODE\nINDEX"). */
static char *derived_mac(const char *dir, const char *node, guint index) {
  g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
  g_autofree char *seed = g_strdup_printf("%s\n%s\n%u", dir, node, index);
  guint8 digest[32];
  gsize len = sizeof digest;
  guint8 mac[6] = {0x02};

  g_checksum_update(sha, (const guchar *)seed, -1);
  g_checksum_get_digest(sha, digest, &len);
  memcpy(mac + 1, digest, 5);
  return mac_string(mac);
}

static void test_good_kathara(void) {
  g_autoptr(NlLab) lab = load_good("good-kathara");
  g_autoptr(NlLab) again = NULL;
  g_autofree char *dir = lab_path("good-kathara");
  g_autofree char *kernel = g_build_filename(dir, "kernels", "test-bzImage", NULL);
  NlNode *r1, *r2, *pc1, *pc2, *mon;
  const NlNic *r1_eth0, *r2_eth0;
  g_autofree char *mac = NULL;
  g_autofree char *mac_again = NULL;
  g_autofree char *want_mac = NULL;
  g_autofree char *other_mac = NULL;

  if (!lab) return;
  TAP_STREQ(lab->dir, dir, "dir");
  TAP_STREQ(lab->name, "ospf-basic", "LAB_NAME, quotes removed");
  TAP_STREQ(lab->description, "Two routers running OSPF between two LANs", "LAB_DESCRIPTION");
  TAP_STREQ(lab->version, "1.0", "LAB_VERSION, unquoted");
  TAP_STREQ(lab->author, "Netlab Tests", "LAB_AUTHOR, single quotes removed");
  TAP_STREQ(lab->email, "tests@example.org", "LAB_EMAIL");
  TAP_STREQ(lab->web, "https://example.org/labs/ospf-basic", "LAB_WEB");
  TAP_STREQ(lab->append, "console=ttyS0 quiet", "LAB_APPEND");
  TAP_OK(lab->kernel == NULL, "no LAB_KERNEL");

  TAP_OK(lab->ext->len == 1, "lab.ext: one line (got %u)", lab->ext->len);
  if (lab->ext->len == 1) {
    const NlExt *e = lab->ext->pdata[0];
    TAP_OK(g_str_equal(e->lan, "A") && g_str_equal(e->ifname, "enp0s3") && e->vlan == 0 &&
               e->loc.line == 2 && e->loc.file == lab->ext_path,
           "lab.ext: A on enp0s3, at line 2");
    TAP_OK(nl_lab_lan_ext(lab, "A") && !nl_lab_lan_ext(lab, "B"), "A is joined to the host, B not");
  }

  TAP_OK(lab->nodes->len == 5, "5 nodes (got %u)", lab->nodes->len);
  if (lab->nodes->len != 5) return;
  r1 = g_ptr_array_index(lab->nodes, 0);
  r2 = g_ptr_array_index(lab->nodes, 1);
  pc1 = g_ptr_array_index(lab->nodes, 2);
  pc2 = g_ptr_array_index(lab->nodes, 3);
  mon = g_ptr_array_index(lab->nodes, 4);
  TAP_STREQ(r1->name, "r1", "first mentioned first");
  TAP_STREQ(r2->name, "r2", "node 2");
  TAP_STREQ(pc1->name, "pc1", "node 3");
  TAP_STREQ(pc2->name, "pc2", "node 4");
  TAP_STREQ(mon->name, "mon", "a node with options only is a node");
  TAP_OK(nl_lab_find_node(lab, "pc2") == pc2, "find_node");
  TAP_OK(nl_lab_find_node(lab, "nope") == NULL, "find_node, unknown");
  TAP_OK(r1->loc.line == 10 && r1->loc.file == lab->conf_path, "r1 first mentioned at lab.conf:10");

  TAP_OK(r1->nics->len == 2, "r1: 2 nics");
  check_nic(r1, 0, "A", NULL);
  check_nic(r1, 1, "B", "02:42:ac:11:00:02");
  TAP_OK(r1->mem_mib == 256, "r1: 256m");
  TAP_OK(r1->cpus == 2, "r1: 2 cpus");
  TAP_OK(!r1->ipv6, "r1: IPv6 off, Kathará's default");
  TAP_OK(nl_lab_find_node(lab, "pc2") && nl_lab_find_node(lab, "pc2")->ipv6,
         "pc2: ipv6=\"True\" turns it on");
  check_strings(
      r1->sysctl,
      (const char *const[]){"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", NULL},
      "r1: sysctls in order");
  check_strings(r1->exec, (const char *const[]){"ip link set eth0 up", "echo r1 ready", NULL},
                "r1: execs in order");
  TAP_OK(r1->env->len == 0 && r1->deps->len == 0, "r1: no env, no deps");
  TAP_OK(r1->kernel == NULL && r1->append == NULL, "r1: lab's kernel");

  TAP_OK(r2->nics->len == 2, "r2: 2 nics");
  check_nic(r2, 0, "B", NULL);
  check_nic(r2, 1, "C", NULL);
  TAP_OK(r2->mem_mib == 1024, "r2: 1G is 1024 MiB");
  TAP_OK(r2->cpus == 0, "r2: default cpus");
  TAP_STREQ(r2->kernel, kernel, "r2: kernel resolved against the lab dir");
  TAP_STREQ(r2->append, "nokaslr", "r2: append");
  check_strings(r2->env, (const char *const[]){"ROLE=core", "DEBUG=1", NULL}, "r2: env in order");

  check_nic(pc1, 0, "A", NULL);
  check_strings(pc1->deps, (const char *const[]){"r1", NULL}, "pc1: deps");
  TAP_OK(pc1->bridged && pc1->ports->len == 0, "pc1: bridged=\"true\", no ports");
  TAP_OK(!r1->bridged && r1->num_terms == -1 && !r1->shell && r1->ulimits->len == 0,
         "r1: not bridged, num_terms, shell and ulimit not given");
  check_nic(pc2, 0, "C", NULL);
  TAP_OK(pc2->mem_mib == 128, "pc2: a bare number is MiB");
  check_strings(pc2->deps, (const char *const[]){"r2", "r1", NULL}, "pc2: deps in order");
  TAP_OK(mon->nics->len == 0 && mon->mem_mib == 512, "mon: no nic, 512M");

  check_strings(lab->lans, (const char *const[]){"A", "B", "C", NULL}, "lans sorted, unique");

  /* Derived MACs: as specified, and the same on every load. */
  r1_eth0 = g_ptr_array_index(r1->nics, 0);
  r2_eth0 = g_ptr_array_index(r2->nics, 0);
  mac = mac_string(r1_eth0->mac);
  want_mac = derived_mac(dir, "r1", 0);
  other_mac = mac_string(r2_eth0->mac);
  TAP_OK(r1_eth0->mac[0] == 0x02, "derived MAC: locally administered unicast");
  TAP_STREQ(mac, want_mac, "derived MAC: 02 + SHA-256 of dir, node, index");
  TAP_OK(strcmp(mac, other_mac) != 0, "derived MACs differ between nodes");
  again = nl_lab_load(dir, NULL, NULL);
  TAP_OK(again != NULL, "loads again, warnings dropped");
  if (again) {
    NlNode *r1_again = nl_lab_find_node(again, "r1");
    mac_again = mac_string(((NlNic *)g_ptr_array_index(r1_again->nics, 0))->mac);
    TAP_STREQ(mac_again, mac, "derived MAC: stable across loads");
  }
}

static void test_good_minimal(void) {
  g_autoptr(NlLab) lab = load_good("good-minimal");
  g_autofree char *kernel =
      g_build_filename(labs_dir, "good-kathara", "kernels", "test-bzImage", NULL);
  NlNode *solo;

  if (!lab) return;
  TAP_STREQ(lab->kernel, kernel, "LAB_KERNEL: relative, '..' resolved");
  TAP_OK(lab->name == NULL && lab->append == NULL, "no LAB_NAME, LAB_APPEND");
  solo = nl_lab_find_node(lab, "solo");
  TAP_OK(solo && solo->mem_mib == 64 && solo->cpus == 64, "limits: 64m, 64 cpus");
  check_strings(lab->lans, (const char *const[]){"lan.2-x", "lan_1", NULL},
                "lan names with '.', '-', '_', sorted bytewise");
  if (solo && solo->nics->len == 2) {
    g_autofree char *eth0 = nl_impair_format(&((NlNic *)solo->nics->pdata[0])->impair);
    g_autofree char *eth1 = nl_impair_format(&((NlNic *)solo->nics->pdata[1])->impair);
    TAP_STREQ(eth0, "", "solo[link]: eth0 unimpaired");
    TAP_STREQ(eth1, "delay=5ms in.loss=2%", "solo[link]: eth1 impaired as written");
  }
}

static void test_good_disk(void) {
  g_autoptr(NlLab) lab = load_good("good-disk");
  NlNode *r1, *r2, *r3;

  if (!lab) return;
  r1 = nl_lab_find_node(lab, "r1");
  r2 = nl_lab_find_node(lab, "r2");
  r3 = nl_lab_find_node(lab, "r3");
  TAP_OK(lab->disk_mib == 1024 && lab->disk_line == 1, "LAB_DISK: 1g on line 1");
  TAP_OK(r1->disk_mib == 1024 && r1->disk_loc.line == 1 && r1->disk_loc.file == lab->conf_path,
         "a node without disk= gets LAB_DISK, located at its line");
  TAP_OK(r2->disk_mib == 512 && r2->disk_loc.line == 4, "r2[disk] wins over LAB_DISK");
  TAP_OK(r3->disk_mib == 0, "r3[disk]=none opts out of LAB_DISK");
}

/* up NODE..., --exclude, restart: the part of a lab that starts. */
static void test_select(void) {
  g_autoptr(NlLab) lab = load_good("good-kathara");
  g_autoptr(NlLab) rest = load_good("good-kathara");
  g_autoptr(NlLab) bad = load_good("good-kathara");
  g_autoptr(GError) error = NULL;

  if (!lab || !rest || !bad) return;
  TAP_OK(nl_lab_select(lab, (const char *const[]){"pc2", "r1", NULL}, NULL, NULL),
         "select r1 and pc2");
  TAP_OK(lab->nodes->len == 2 && nl_lab_find_node(lab, "r1") && nl_lab_find_node(lab, "pc2") &&
             !nl_lab_find_node(lab, "r2"),
         "only r1 and pc2 are left, in lab.conf's order (%u nodes)", lab->nodes->len);
  check_strings(lab->lans, (const char *const[]){"A", "B", "C", NULL}, "with their LANs");
  TAP_OK(nl_lab_select(rest, NULL, (const char *const[]){"r1", "r2", "pc2", NULL}, NULL),
         "exclude r1, r2 and pc2");
  TAP_OK(rest->nodes->len == 2 && nl_lab_find_node(rest, "pc1") && nl_lab_find_node(rest, "mon"),
         "pc1 and mon are left (%u nodes)", rest->nodes->len);
  check_strings(rest->lans, (const char *const[]){"A", NULL}, "and only pc1's LAN");
  TAP_OK(!nl_lab_select(bad, (const char *const[]){"r1", "r9", NULL}, NULL, &error) &&
             g_error_matches(error, NL_ERROR, NL_ERROR_INPUT) && strstr(error->message, "'r9'"),
         "an unknown node is an input error naming it (%s)", error ? error->message : "");
  TAP_OK(bad->nodes->len == 5, "and the lab is left whole");
}

static void test_good_hosts(void) {
  g_autoptr(NlLab) lab = load_good("good-hosts");

  if (!lab) return;
  TAP_OK(lab->hosts->len == 2, "LAB_HOSTS: two lines, two hosts");
  const NlHost *h3 = nl_lab_find_host(lab, "h3");
  TAP_STREQ(h3 ? h3->uri : NULL, "qemu+unix:///system?socket=/run/h3/libvirt-sock",
            "LAB_HOSTS: the URI as written");
  TAP_OK(nl_lab_find_node(lab, "r1")->host == NULL, "a node without host runs where up runs");
  TAP_STREQ(nl_lab_find_node(lab, "r2")->host, "h2", "r2[host]");
  TAP_OK(lab->underlay.mtu == 9000 && lab->underlay.ttl == 2 && lab->underlay.port == 14789,
         "LAB_UNDERLAY: mtu, ttl given, port default");
  TAP_OK(nl_span_mtu(&lab->underlay) == 1500,
         "a spanning LAN's MTU: a switch's 1500, under the underlay's 9000 less VXLAN's 50");
  NlUnderlay small = {.mtu = 1400};
  TAP_OK(nl_span_mtu(&small) == 1350, "under an underlay MTU of 1400: 1350");
  g_autofree char *a = nl_span_url("m1", lab->dir, "A", 0, &lab->underlay);
  g_autofree char *a2 = nl_span_url("m1", lab->dir, "A", 0, &lab->underlay);
  g_autofree char *b = nl_span_url("m1", lab->dir, "B", 0, &lab->underlay);
  g_autofree char *other = nl_span_url("m2", lab->dir, "A", 0, &lab->underlay);
  TAP_OK(g_regex_match_simple("^vxvde://239\\.[0-9]+\\.[0-9]+\\.[0-9]+/v4/port=14789/"
                              "vni=[0-9]+/ttl=2/if=nlu1$",
                              a, 0, 0),
         "a spanning LAN's URL: %s", a);
  TAP_STREQ(a, a2, "the same LAN of the same lab: the same URL");
  TAP_OK(strcmp(a, b) != 0, "another LAN: another group");
  TAP_OK(strcmp(a, other) != 0, "the same path on another machine: another group");

  TAP_OK(nl_lan_here(lab, "A") && nl_lan_vxvde(lab, "A"),
         "A, here and on h2 and h3, spans: a switch here joined to its vxvde network");
  TAP_OK(nl_lan_here(lab, "L") && !nl_lan_vxvde(lab, "L"), "L, all here, is a switch only");
  TAP_OK(!nl_lan_here(lab, "R") && nl_lan_vxvde(lab, "R"), "R, all on h2, is a vxvde network only");
  const char *const r1[] = {"r1", NULL};
  g_autoptr(NlLab) part = load_good("good-hosts");
  TAP_OK(part && nl_lab_select(part, r1, NULL, NULL) && nl_lan_vxvde(part, "A") &&
             nl_lan_here(part, "A"),
         "with r1 alone selected, A still spans: its switch gets its vde_plug");
  g_autofree char *a_id = nl_span_id(a);
  g_autofree char *a_vni = g_strdup_printf("/%s", strstr(a, "vni=") + 4);
  *strchr(a_vni, '/') = '\0';
  TAP_OK(a_id && g_regex_match_simple("^239\\.[0-9]+\\.[0-9]+\\.[0-9]+/[0-9]+$", a_id, 0, 0) &&
             g_str_has_suffix(a_id, a_vni),
         "a URL's group and VNI: %s", a_id);
  TAP_OK(!nl_span_id("ptp:///x") && !nl_span_id(NULL), "no group and VNI in anything else");
  g_autoptr(GHashTable) taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *first = nl_span_pick("m1", lab->dir, "A", &lab->underlay, taken);
  TAP_STREQ(first, a, "nothing taken: the first choice");
  g_hash_table_add(taken, g_strdup(a_id));
  g_autofree char *second = nl_span_pick("m1", lab->dir, "A", &lab->underlay, taken);
  g_autofree char *second_id = nl_span_id(second);
  g_autofree char *salted = nl_span_url("m1", lab->dir, "A", 1, &lab->underlay);
  TAP_OK(strcmp(second_id, a_id) != 0 && g_str_equal(second, salted),
         "its group and VNI taken (another lab's): the next salt's, %s", second);
  g_autoptr(GError) here = NULL;
  TAP_OK(nl_nic_here(nl_lab_find_node(lab, "r1"), "capture", NULL) &&
             !nl_nic_here(nl_lab_find_node(lab, "r2"), "capture", &here) &&
             strstr(here->message, "'r2' runs on host 'h2'"),
         "a NIC of r2 (h2) has no wirefilter or switch: %s", here ? here->message : "");
  g_autoptr(GPtrArray) notes = nl_span_notes(lab);
  g_autofree char *link_note = g_strdup_printf(
      "%s:9: 'r2' runs on host 'h2', where netlab runs no wirefilter: the "
      "impairment of its eth0 is not applied",
      lab->conf_path);
  TAP_OK(notes->len == 2, "two notes");
  if (notes->len == 2) {
    TAP_STREQ(notes->pdata[0], link_note, "r2[link] on a vxvde NIC: said, with its line");
    TAP_STREQ(notes->pdata[1],
              "nodes on other hosts (r2, r3, r5): /hostlab is a copy of the lab made at `up`, not "
              "shared",
              "the remote nodes named once");
  }
}

static void test_good_warnings(void) {
  g_autoptr(NlLab) lab = load_good("good-warnings");

  if (lab) TAP_OK(nl_lab_find_node(lab, "r1")->mem_mib == 256, "the last mem wins");
  const NlNode *r1 = lab ? nl_lab_find_node(lab, "r1") : NULL;
  if (r1)
    TAP_OK(r1->bridged && r1->ports->len == 1 && !g_array_index(r1->ports, NlPort, 0).udp,
           "a udp port is not forwarded (a warning), the tcp one is, the node bridged");
}

static void test_bad_lab(const char *name) {
  g_autofree char *dir = lab_path(name);
  g_autofree char *want = read_expected(dir, "expected");
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(NlLab) lab = nl_lab_load(dir, warnings, &error);

  TAP_OK(want != NULL, "%s has an 'expected' file", name);
  TAP_OK(lab == NULL && g_error_matches(error, NL_ERROR, NL_ERROR_INPUT),
         "%s fails with NL_ERROR_INPUT", name);
  TAP_STREQ(error ? error->message : NULL, want, "%s: message", name);
}

/* g_ptr_array_sort() passes pointers to the elements. */
static int compare_names(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_labs(void) {
  g_autoptr(GDir) dir = g_dir_open(labs_dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  while (dir && (name = g_dir_read_name(dir)))
    if (g_str_has_prefix(name, "bad-")) g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_names);
  TAP_OK(names->len >= 14, "found %u bad labs", names->len);
  for (guint i = 0; i < names->len; i++) test_bad_lab(g_ptr_array_index(names, i));
}

static void test_not_a_lab_dir(void) {
  g_autofree char *missing = lab_path("no-such-lab");
  g_autofree char *file = g_build_filename(labs_dir, "good-kathara", "lab.conf", NULL);
  g_autofree char *want_missing = g_strdup_printf("%s: no such directory", missing);
  g_autofree char *want_file = g_strdup_printf("%s: not a directory", file);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;

  TAP_OK(nl_lab_load(missing, NULL, &error) == NULL, "missing dir fails");
  TAP_STREQ(error ? error->message : NULL, want_missing, "missing dir: message");
  TAP_OK(nl_lab_load(file, NULL, &error2) == NULL, "a file as dir fails");
  TAP_STREQ(error2 ? error2->message : NULL, want_file, "file as dir: message");
}

/* Last: it changes the working directory. */
static void test_relative_dir(void) {
  g_autofree char *want = lab_path("good-minimal");
  g_autoptr(NlLab) lab = NULL;

  TAP_OK(g_chdir(labs_dir) == 0, "chdir to the labs");
  lab = nl_lab_load("./good-minimal/", NULL, NULL);
  TAP_STREQ(lab ? lab->dir : NULL, want, "a relative dir is made absolute");
}

static void test_util(const char *tmp) {
  g_autofree char *path = g_build_filename(tmp, "state", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *cache = NULL;
  g_autofree char *want_cache = g_build_filename(tmp, "cache", "netlab", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autofree char *resolved = NULL;
  struct stat st;

  TAP_OK(nl_write_file(path, "one", -1, 0600, NULL), "write_file");
  TAP_OK(nl_write_file(path, "two\n", 4, 0600, NULL), "write_file replaces");
  TAP_OK(g_file_get_contents(path, &contents, NULL, NULL) && g_str_equal(contents, "two\n"),
         "write_file: contents");
  TAP_OK(g_stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "write_file: mode");
  TAP_OK(!nl_write_file("/nonexistent/netlab/x", "", 0, 0600, &error) &&
             g_error_matches(error, NL_ERROR, NL_ERROR_FAILED),
         "write_file: NL_ERROR_FAILED");

  resolved = nl_realpath(tmp, NULL);
  TAP_STREQ(resolved, tmp, "realpath");
  TAP_OK(nl_realpath("/nonexistent/x", &error2) == NULL, "realpath fails");
  TAP_STREQ(error2 ? error2->message : NULL,
            "cannot resolve '/nonexistent/x': No such file or directory", "realpath: message");

  cache = nl_cache_dir(NULL);
  TAP_STREQ(cache, want_cache, "cache dir under XDG_CACHE_HOME");
  TAP_OK(g_stat(want_cache, &st) == 0 && (st.st_mode & 0777) == 0700, "cache dir created 0700");

  g_remove(path);
  g_rmdir(want_cache);
}

/* LAB_KERNEL=<name>: a kernel `netlab kernel build` made, found in the cache,
 * unless the lab has a file of that name. */
static void test_built_kernel(const char *tmp) {
  g_autofree char *lab = g_build_filename(tmp, "built", NULL);
  g_autofree char *conf = g_build_filename(lab, "lab.conf", NULL);
  g_autofree char *kdir = g_build_filename(tmp, "cache", "netlab", "kernels", "mini", NULL);
  g_autofree char *vmlinux = g_build_filename(kdir, "vmlinux", NULL);
  g_autofree char *local = g_build_filename(lab, "mini", NULL);
  g_autofree char *want_missing = g_strdup_printf(
      "%s:1: kernel '%s/nope' does not exist, nor does a built kernel 'nope' (see `netlab "
      "kernel list`)",
      conf, lab);
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents(lab, 0755);
  g_mkdir_with_parents(kdir, 0755);
  g_file_set_contents(vmlinux, "", 0, NULL);
  g_file_set_contents(conf, "LAB_KERNEL=mini\nr1[0]=A\n", -1, NULL);
  g_autoptr(NlLab) built = nl_lab_load(lab, NULL, NULL);
  TAP_STREQ(built ? built->kernel : NULL, vmlinux, "LAB_KERNEL=<name>: the built kernel's vmlinux");
  g_file_set_contents(local, "", 0, NULL);
  g_autoptr(NlLab) file = nl_lab_load(lab, NULL, NULL);
  TAP_STREQ(file ? file->kernel : NULL, local, "LAB_KERNEL=<name>: a file in the lab wins");
  g_file_set_contents(conf, "LAB_KERNEL=nope\nr1[0]=A\n", -1, NULL);
  TAP_OK(nl_lab_load(lab, NULL, &error) == NULL, "LAB_KERNEL=<unknown name> fails");
  TAP_STREQ(error ? error->message : NULL, want_missing, "LAB_KERNEL=<unknown name>: message");

  g_remove(local);
  g_remove(conf);
  g_rmdir(lab);
  g_remove(vmlinux);
  for (int i = 0; i < 3; i++) {
    char *up = g_path_get_dirname(kdir);
    g_rmdir(kdir);
    g_free(kdir);
    kdir = up;
  }
}

/* A lab directory under TMP whose lab.conf and lab.dep are given. */
static char *make_lab(const char *tmp, const char *name, const char *conf, gssize conf_len,
                      const char *dep) {
  char *dir = g_build_filename(tmp, name, NULL);
  g_autofree char *conf_path = g_build_filename(dir, "lab.conf", NULL);
  g_autofree char *dep_path = g_build_filename(dir, "lab.dep", NULL);

  g_mkdir(dir, 0700);
  g_file_set_contents(conf_path, conf, conf_len, NULL);
  if (dep) g_file_set_contents(dep_path, dep, -1, NULL);
  return dir;
}

static void remove_lab(const char *dir) {
  g_autofree char *conf = g_build_filename(dir, "lab.conf", NULL);
  g_autofree char *dep = g_build_filename(dir, "lab.dep", NULL);
  g_autofree char *kernel = g_build_filename(dir, "k", NULL);

  g_remove(conf);
  g_remove(dep);
  g_remove(kernel);
  g_rmdir(dir);
}

typedef struct {
  const char *dir;
  NlLab *lab;
  GError *error;
} LoadJob;

static void *load_thread(void *data) {
  LoadJob *job = data;

  job->lab = nl_lab_load(job->dir, NULL, &job->error);
  return NULL;
}

/* Loads DIR on a thread with a 256 KiB stack: enough for the parser, not for
 * a recursion as deep as a lab's dependency chain. */
static NlLab *load_small_stack(const char *dir, GError **error) {
  LoadJob job = {dir, NULL, NULL};
  pthread_attr_t attr;
  pthread_t thread;

  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_create(&thread, &attr, load_thread, &job);
  pthread_join(thread, NULL);
  pthread_attr_destroy(&attr);
  if (job.error) g_propagate_error(error, job.error);
  return job.lab;
}

/* n0 waits for n1, which waits for n2 ...: a chain of N. */
static void test_dep_chain(const char *tmp, guint n, gboolean cycle) {
  g_autoptr(GString) conf = g_string_new(NULL);
  g_autoptr(GString) dep = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(NlLab) lab = NULL;

  for (guint i = 0; i < n; i++) {
    g_string_append_printf(conf, "n%u[0]=A\n", i);
    if (i + 1 < n) g_string_append_printf(dep, "n%u: n%u\n", i, i + 1);
  }
  if (cycle) g_string_append_printf(dep, "n%u: n0\n", n - 1);
  dir = make_lab(tmp, "chain", conf->str, -1, dep->str);
  lab = load_small_stack(dir, &error);
  if (cycle) {
    TAP_OK(!lab && error && strstr(error->message, "dependency cycle: n0 -> n1 -> ") &&
               g_str_has_suffix(error->message, " -> n0"),
           "a cycle through %u nodes is reported, on a small stack", n);
  } else {
    TAP_OK(lab && lab->nodes->len == n, "a lab.dep chain of %u nodes loads on a small stack", n);
    if (error) printf("#   %s\n", error->message);
  }
  remove_lab(dir);
}

/* 100,000 nodes took more than 300 s with a linear node lookup; meson's
 * timeout (30 s) fails this test if the lookup is slow again. */
static void test_many_nodes(const char *tmp) {
  g_autoptr(GString) conf = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(NlLab) lab = NULL;
  gint64 t0 = g_get_monotonic_time();

  for (guint i = 0; i < 100000; i++) g_string_append_printf(conf, "n%u[0]=lan%u\n", i, i % 1000);
  dir = make_lab(tmp, "many", conf->str, -1, NULL);
  lab = nl_lab_load(dir, NULL, &error);
  TAP_OK(lab && lab->nodes->len == 100000 && nl_lab_find_node(lab, "n99999"),
         "a 100,000-node lab.conf loads (%.1f s)", (g_get_monotonic_time() - t0) / 1e6);
  remove_lab(dir);
}

static void test_file_limits(const char *tmp) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(GError) error3 = NULL;
  g_autofree char *dir = make_lab(tmp, "limits", "r1[0]=A\nLAB_KERNEL=k\n", -1, NULL);
  g_autofree char *conf = g_build_filename(dir, "lab.conf", NULL);
  g_autofree char *kernel = g_build_filename(dir, "k", NULL);
  g_autofree char *want = NULL;
  NlLab *lab;

  mkfifo(kernel, 0600);
  lab = nl_lab_load(dir, NULL, &error);
  want = g_strdup_printf("%s:2: kernel '%s' is not a regular file", conf, kernel);
  TAP_STREQ(error ? error->message : NULL, want, "a FIFO as the kernel is refused");
  g_clear_pointer(&lab, nl_lab_free);

  g_remove(conf);
  mkfifo(conf, 0600);
  lab = nl_lab_load(dir, NULL, &error2);
  g_free(want);
  want = g_strdup_printf("%s: not a regular file", conf);
  TAP_STREQ(error2 ? error2->message : NULL, want, "a FIFO as lab.conf is refused at once");
  g_clear_pointer(&lab, nl_lab_free);

  /* Sparse: 17 MiB of NULs that take no disk. */
  g_remove(conf);
  g_file_set_contents(conf, "r1[0]=A\n", -1, NULL);
  TAP_OK(truncate(conf, 17 << 20) == 0, "a 17 MiB lab.conf made");
  lab = nl_lab_load(dir, NULL, &error3);
  g_free(want);
  want = g_strdup_printf("%s: too large (17825792 bytes; netlab reads at most 16 MiB of it)", conf);
  TAP_STREQ(error3 ? error3->message : NULL, want, "a lab.conf over 16 MiB is refused");
  g_clear_pointer(&lab, nl_lab_free);
  remove_lab(dir);
}

int main(void) {
  const char *data = g_getenv("NETLAB_TEST_DATA");
  g_autofree char *tmp_made = g_dir_make_tmp("netlab-test-lab-XXXXXX", NULL);
  g_autofree char *tmp = tmp_made ? nl_realpath(tmp_made, NULL) : NULL;
  g_autofree char *cache_home = tmp ? g_build_filename(tmp, "cache", NULL) : NULL;
  g_autofree char *labs = NULL;

  if (!data || !tmp) {
    printf("Bail out! NETLAB_TEST_DATA unset or no temporary directory\n");
    return 1;
  }
  /* Before anything asks GLib for the cache dir: it reads this only once. */
  g_setenv("XDG_CACHE_HOME", cache_home, TRUE);
  labs = g_build_filename(data, "lab", NULL);
  labs_dir = nl_realpath(labs, NULL);
  if (!labs_dir) {
    printf("Bail out! no %s\n", labs);
    return 1;
  }

  test_good_kathara();
  test_good_minimal();
  test_good_warnings();
  test_select();
  test_good_disk();
  test_good_hosts();
  test_bad_labs();
  test_not_a_lab_dir();
  test_util(tmp);
  test_built_kernel(tmp);
  test_relative_dir();
  test_dep_chain(tmp, 3000, FALSE);
  test_dep_chain(tmp, 20000, FALSE);
  test_dep_chain(tmp, 3000, TRUE);
  test_many_nodes(tmp);
  test_file_limits(tmp);

  g_rmdir(cache_home);
  g_rmdir(tmp);
  g_free(labs_dir);
  return tap_done();
}
