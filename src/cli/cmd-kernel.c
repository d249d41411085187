/* netlab kernel build|list: build a kernel for the VMs from Debian's kernel
 * source (or a tree of one's own) and config fragments, and list the built
 * ones, which labs boot with LAB_KERNEL=<name> or `netlab up --kernel <name>`. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "kbuild.h"
#include "util.h"

static void say(const char *message, gpointer data) { fprintf(stderr, "netlab: %s\n", message); }

static char *human_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? g_format_size(st.st_size) : g_strdup("-");
}

static char *duration(gint64 s) {
  if (s < 0) return g_strdup("-");
  return g_strdup_printf("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", s / 60, s % 60);
}

static int build(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  g_autofree char *source = NULL, *base = NULL, *name = NULL;
  g_auto(GStrv) frags = NULL;
  int jobs = 0;
  const GOptionEntry entries[] = {
      {"source", 's', 0, G_OPTION_ARG_FILENAME, &source,
       "Kernel tree (default: Debian's linux-source, unpacked into the cache)", "DIR"},
      {"config", 'c', 0, G_OPTION_ARG_FILENAME_ARRAY, &frags,
       "Config fragment merged over base.config: a path, or a name in kernel-config/ "
       "(net, debug, kasan); repeatable (default: net)",
       "FRAGMENT"},
      {"base", 0, 0, G_OPTION_ARG_STRING, &base, "tinyconfig (default) or defconfig", "B"},
      {"name", 'n', 0, G_OPTION_ARG_STRING, &name,
       "Name in the cache (default: <version>-<fragments>)", "NAME"},
      {"jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Parallel jobs (default: one per CPU)", "N"},
      {NULL}};
  if (!nl_cmd_parse(g, "build: configure and build a kernel for netlab's VMs", entries, &argc,
                    &argv, &t, error))
    return -1;
  if (argc > 1) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "kernel build: unexpected argument '%s'", argv[1]);
    return -1;
  }
  NlKbuildOptions o = {
      .source = source,
      .base = base,
      .fragments = (const char *const *)frags,
      .name = name,
      .jobs = jobs,
      .progress = say,
  };
  g_autoptr(NlKbuildKernel) k = nl_kbuild_build(&o, error);
  if (!k) return -1;
  g_autofree char *vsize = human_size(k->vmlinux);
  g_autofree char *took = duration(k->build_s);
  g_autofree char *cpu = duration(k->build_cpu_s);
  printf("kernel '%s' (%s) %s: %s\n  vmlinux %s, built in %s (%s of CPU)\n", k->name,
         k->release ? k->release : "?", k->fresh ? "built" : "is up to date", k->dir, vsize, took,
         cpu);
  printf("boot it with LAB_KERNEL=\"%s\" in lab.conf, or `netlab up --kernel %s`\n", k->name,
         k->name);
  return 0;
}

static int list(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "list: the kernels built by `netlab kernel build`", entries, &argc, &argv,
                    &t, error))
    return -1;
  if (argc > 1) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "kernel list: unexpected argument '%s'", argv[1]);
    return -1;
  }
  g_autoptr(GPtrArray) ks = nl_kbuild_list(error);
  if (!ks) return -1;
  if (ks->len == 0) {
    printf("no kernels built yet: `netlab kernel build` makes one\n");
    return 0;
  }
  printf("%-24s %-12s %-9s %-8s %-8s %s\n", "NAME", "RELEASE", "VMLINUX", "BUILD", "CPU",
         "FRAGMENTS");
  for (guint i = 0; i < ks->len; i++) {
    const NlKbuildKernel *k = ks->pdata[i];
    g_autofree char *vsize = human_size(k->vmlinux);
    g_autofree char *took = duration(k->build_s);
    g_autofree char *cpu = duration(k->build_cpu_s);
    g_autoptr(GString) frags = g_string_new(k->base ? k->base : "?");
    g_auto(GStrv) paths = g_strsplit(k->fragments ? k->fragments : "", " ", -1);
    for (char **p = paths; *p; p++) {
      if (!**p) continue;
      g_autofree char *b = g_path_get_basename(*p);
      g_string_append_printf(frags, " + %s", b);
    }
    printf("%-24s %-12s %-9s %-8s %-8s %s\n", k->name, k->release ? k->release : "?", vsize, took,
           cpu, frags->str);
  }
  return 0;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  if (argc >= 2 && strcmp(argv[1], "build") == 0) return build(argc - 1, argv + 1, g, error);
  if (argc >= 2 && strcmp(argv[1], "list") == 0) return list(argc - 1, argv + 1, g, error);
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return nl_cmd_help(g, NULL);
  g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
              "kernel: usage: netlab kernel build [--source DIR] [--config FRAGMENT]... "
              "[--base tinyconfig|defconfig] [--name NAME] [-j N] | netlab kernel list");
  return -1;
}

const NlCmd nl_cmd_kernel = {"kernel", NULL, "build kernels for the VMs, list the built ones",
                             .target = NL_TARGET_NONE, .run = run};
