/* The lab's picture as text: DOT, Mermaid and JSON from the lab model, and
 * the addresses `ip -j addr` reports. */
#include <string.h>

#include <json-glib/json-glib.h>

#include "graph.h"
#include "tap.h"

static const char ip_json[] =
    "[{\"ifindex\":1,\"ifname\":\"lo\",\"addr_info\":[{\"family\":\"inet\",\"local\":"
    "\"127.0.0.1\",\"prefixlen\":8,\"scope\":\"host\"}]},"
    "{\"ifindex\":2,\"ifname\":\"eth0\",\"addr_info\":[{\"family\":\"inet\",\"local\":"
    "\"10.0.0.1\",\"prefixlen\":24,\"scope\":\"global\"},{\"family\":\"inet6\",\"local\":"
    "\"fd00::1\",\"prefixlen\":64,\"scope\":\"global\"},{\"family\":\"inet6\",\"local\":"
    "\"fe80::1\",\"prefixlen\":64,\"scope\":\"link\"}]}]";

int main(void) {
  g_autofree char *dir = g_build_filename(g_getenv("NETLAB_TEST_DATA"), "domxml", "two&lab", NULL);
  g_autoptr(NlLab) lab = nl_lab_load(dir, NULL, NULL);
  TAP_OK(lab != NULL, "the test lab loads");
  if (!lab) return tap_done();

  g_autofree char *dot = nl_graph_dot(lab, NULL);
  TAP_OK(g_str_has_prefix(dot, "graph \""), "DOT: an undirected graph");
  TAP_OK(strstr(dot, "\"node:r1\" -- \"lan:A\" [label=\"eth0\"];") != NULL,
         "DOT: an edge per interface, labelled with its name");
  TAP_OK(strstr(dot, "\"lan:A\" [label=\"A\", shape=ellipse") != NULL, "DOT: LANs are ellipses");

  g_autoptr(GHashTable) addrs = nl_graph_addrs_new();
  TAP_OK(nl_graph_add_ip_json(addrs, "r1", ip_json), "ip -j addr parses");
  GPtrArray *eth0 = g_hash_table_lookup(addrs, "r1:eth0");
  TAP_OK(eth0 && eth0->len == 2 && strcmp(eth0->pdata[0], "10.0.0.1/24") == 0 &&
             strcmp(eth0->pdata[1], "fd00::1/64") == 0,
         "global addresses kept, link-local dropped");
  GPtrArray *lo = g_hash_table_lookup(addrs, "r1:lo");
  TAP_OK(lo && lo->len == 0, "loopback addresses dropped");
  TAP_OK(!nl_graph_add_ip_json(addrs, "r1", "not json"), "garbage does not parse");

  g_autofree char *dot2 = nl_graph_dot(lab, addrs);
  TAP_OK(strstr(dot2, "[label=\"eth0\\n10.0.0.1/24\\nfd00::1/64\"]") != NULL,
         "DOT: addresses under the interface name");
  g_autofree char *mm = nl_graph_mermaid(lab, addrs);
  TAP_OK(g_str_has_prefix(mm, "graph LR\n") &&
             strstr(mm, "n_r1 ---|\"eth0<br>10.0.0.1/24<br>fd00::1/64\"| l_A") != NULL,
         "Mermaid: the same edge");

  g_autofree char *json = nl_graph_json(lab, addrs);
  g_autoptr(JsonParser) p = json_parser_new();
  TAP_OK(json_parser_load_from_data(p, json, -1, NULL), "JSON parses");
  JsonObject *root = json_node_get_object(json_parser_get_root(p));
  JsonArray *nodes = json_object_get_array_member(root, "nodes");
  JsonObject *r1 = json_array_get_object_element(nodes, 0);
  JsonObject *if0 =
      json_array_get_object_element(json_object_get_array_member(r1, "interfaces"), 0);
  TAP_STREQ(json_object_get_string_member(if0, "lan"), "A", "JSON: r1's eth0 is on A");
  TAP_STREQ(json_array_get_string_element(json_object_get_array_member(if0, "addresses"), 0),
            "10.0.0.1/24", "JSON: with its address");
  return tap_done();
}
