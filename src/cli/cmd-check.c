/* netlab check (Kathará's `check`): read and validate a lab and print what
 * `up` would start, starting nothing. */
#include <stdio.h>

#include "cmd.h"
#include "ext.h"
#include "image.h"
#include "kbuild.h"
#include "lab.h"

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "check a lab", entries, &argc, &argv, &t, error)) return -1;
  const char *labdir = t.labdir;
  g_autoptr(NlLab) lab = nl_cmd_load_lab(labdir, error);
  if (!lab || !nl_ext_check(lab, error)) return -1;

  printf("lab %s: %u VMs, %u LANs; nothing started\n", lab->dir, lab->nodes->len, lab->lans->len);
  /* What `up` boots when the lab names no kernel (kernel.h). */
  g_autofree char *built = nl_kbuild_default_vmlinux();
  const char *fallback = built ? built : "Debian's newest";
  g_autofree char *cache = nl_image_cache_dir();
  for (guint i = 0; i < lab->nodes->len; i++) {
    const NlNode *n = lab->nodes->pdata[i];
    const char *kernel = n->kernel ? n->kernel : lab->kernel ? lab->kernel : fallback;
    printf("%-12s %u MiB, %u CPU, IPv6 %s, kernel %s\n", n->name,
           n->mem_mib ? n->mem_mib : NL_DEFAULT_MEM_MIB, n->cpus ? n->cpus : NL_DEFAULT_CPUS,
           n->ipv6 ? "on" : "off", kernel);
    if (n->image) {
      const char *host = nl_image_host_equivalent(n->image);
      g_autofree char *digest = NULL;
      g_autofree char *rootfs = host ? NULL : nl_image_find(cache, n->image, &digest);
      if (host)
        printf("%-12s   root: the host's, for image %s (%s)\n", "", n->image, host);
      else if (rootfs)
        printf("%-12s   root: image %s, in the cache (%.19s)\n", "", n->image, digest);
      else
        printf("%-12s   root: image %s, not in the cache%s\n", "", n->image,
               lab->pull == NL_PULL_NEVER ? ", and LAB_PULL_IMAGES=never" : ": `up` pulls it");
    } else {
      printf("%-12s   root: the host's\n", "");
    }
    for (guint k = 0; k < n->nics->len; k++) {
      const NlNic *nic = n->nics->pdata[k];
      char mac[18];
      nl_mac_format(nic->mac, mac);
      printf("%-12s   eth%u on %s (%s)\n", "", nic->index, nic->lan, mac);
    }
    if (n->bridged) {
      char mac[18];
      nl_mac_format(n->uplink_mac, mac);
      printf("%-12s   eth%u on the uplink, NAT'd by passt (%s)", "", n->nics->len, mac);
      for (guint k = 0; k < n->ports->len; k++) {
        const NlPort *p = &g_array_index(n->ports, NlPort, k);
        printf("%s %s%s%s:%u->%u/%s", k ? "," : "; ports", strchr(p->addr, ':') ? "[" : "", p->addr,
               strchr(p->addr, ':') ? "]" : "", p->host, p->guest, p->udp ? "udp" : "tcp");
      }
      printf("\n");
    }
  }
  for (guint i = 0; i < lab->ext->len; i++) {
    g_autofree char *what = nl_ext_describe(lab->ext->pdata[i]);
    printf("%-12s %s\n", "lab.ext", what);
  }
  nl_cmd_print_needs(lab, stdout, "");
  return 0;
}

const NlCmd nl_cmd_check = {"check", NULL, "validate a lab and show what up would start",
                            .target = NL_TARGET_LAB, .run = run};
