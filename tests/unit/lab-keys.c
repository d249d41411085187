/* Prints the parser's lab.conf key table, one key a line, for
 * tests/unit/docs.sh to check netlab-lab.conf(5) against:
 *   node|lab TAB NAME TAB used|ignored TAB list|single TAB DEFAULT TAB HELP */
#include <stdio.h>

#include "lab.h"

static void print_key(const char *kind, const NlLabKey *k, gboolean used) {
  printf("%s\t%s\t%s\t%s\t%s\t%s\n", kind, k->name, used ? "used" : "ignored",
         k->list ? "list" : "single", k->def ? k->def : "", k->help);
}

int main(void) {
  const NlLabKey *k;
  for (guint i = 0; (k = nl_lab_node_key(i)); i++) print_key("node", k, nl_lab_node_key_used(i));
  for (guint i = 0; (k = nl_lab_lab_key(i)); i++) print_key("lab", k, TRUE);
  return 0;
}
