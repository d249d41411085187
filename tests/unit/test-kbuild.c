/* The check that a kernel's final .config honours its config fragments. */
#include <glib.h>

#include "kbuild.h"
#include "tap.h"

static char *joined(GPtrArray *a) {
  g_ptr_array_add(a, NULL);
  char *s = g_strjoinv("|", (char **)a->pdata);
  g_ptr_array_remove_index(a, a->len - 1);
  return s;
}

int main(void) {
  const char *config =
      "CONFIG_64BIT=y\n"
      "CONFIG_NR_CPUS=16\n"
      "# CONFIG_MODULES is not set\n"
      "CONFIG_CMDLINE=\"console=ttyS0\"\n"
      "# CONFIG_VXLAN is not set\n"
      "CONFIG_SLUB=y\n";
  {
    const char *names[] = {"base.config", NULL};
    const char *texts[] = {"# a comment naming CONFIG_64BIT\n"
                           "CONFIG_64BIT=y\n"
                           "CONFIG_NR_CPUS=16  \n"
                           "# CONFIG_MODULES is not set\n"
                           "# CONFIG_KASAN is not set\n"
                           "CONFIG_CMDLINE=\"console=ttyS0\"\n",
                           NULL};
    g_autoptr(GPtrArray) bad = nl_kbuild_check(config, names, texts);
    g_autofree char *got = joined(bad);
    TAP_STREQ(got, "",
              "honoured: set, numbers, strings, unset, unset by absence; comments ignored");
  }
  {
    const char *names[] = {"net.config", NULL};
    const char *texts[] = {"CONFIG_VXLAN=y\nCONFIG_GENEVE=y\nCONFIG_NR_CPUS=8\n"
                           "# CONFIG_SLUB is not set\n",
                           NULL};
    g_autoptr(GPtrArray) bad = nl_kbuild_check(config, names, texts);
    g_autofree char *got = joined(bad);
    TAP_STREQ(got,
              "CONFIG_VXLAN=y (net.config:1): got # CONFIG_VXLAN is not set|"
              "CONFIG_GENEVE=y (net.config:2): got nothing (no such option, or its "
              "dependencies are not met)|"
              "CONFIG_NR_CPUS=8 (net.config:3): got CONFIG_NR_CPUS=16|"
              "# CONFIG_SLUB is not set (net.config:4): got CONFIG_SLUB=y",
              "every option not honoured, in order, with file, line and what the .config has");
  }
  {
    const char *names[] = {"base.config", "mine.config", NULL};
    const char *texts[] = {"CONFIG_VXLAN=y\nCONFIG_SLUB=y\n", "# CONFIG_VXLAN is not set\n",
                           NULL};
    g_autoptr(GPtrArray) bad = nl_kbuild_check(config, names, texts);
    g_autofree char *got = joined(bad);
    TAP_STREQ(got, "", "a later fragment overrides an earlier one, as merge_config.sh does");
  }
  return tap_done();
}
