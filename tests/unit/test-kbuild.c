/* The check that a kernel's final .config honours its config fragments. */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "kbuild.h"
#include "tap.h"

static char *joined(GPtrArray *a) {
  g_ptr_array_add(a, NULL);
  char *s = g_strjoinv("|", (char **)a->pdata);
  g_ptr_array_remove_index(a, a->len - 1);
  return s;
}

/* A kernel in the fake cache: NAME with build KEY, its vmlinux AGE seconds old. */
static void fake_kernel(const char *cache, const char *name, const char *key, int age) {
  g_autofree char *dir = g_build_filename(cache, "netlab", "kernels", name, NULL);
  g_mkdir_with_parents(dir, 0755);
  g_autofree char *stamp = g_build_filename(dir, "netlab-kernel", NULL);
  g_autofree char *text = g_strdup_printf("key=%s\nbase=tinyconfig\n", key);
  g_file_set_contents(stamp, text, -1, NULL);
  g_autofree char *vmlinux = g_build_filename(dir, "vmlinux", NULL);
  g_file_set_contents(vmlinux, "ELF", -1, NULL);
  struct utimbuf t = {time(NULL) - age, time(NULL) - age};
  utime(vmlinux, &t);
}

/* Which built kernel `up` boots when the lab names none. */
static void default_kernel(void) {
  g_autofree char *cache = g_dir_make_tmp("netlab-kbuild-XXXXXX", NULL);
  g_setenv("XDG_CACHE_HOME", cache, TRUE);
  g_autofree char *tarball = NULL;
  g_autoptr(GDir) d = g_dir_open("/usr/src", 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d)))
    if (g_str_has_prefix(n, "linux-source-") && g_str_has_suffix(n, ".tar.xz"))
      tarball = g_build_filename("/usr/src", n, NULL);
  if (!tarball) {
    printf("ok %d - the default kernel # SKIP no linux-source in /usr/src\n", ++tap_n);
    return;
  }
  TAP_OK(nl_kbuild_default_key() == NULL && nl_kbuild_default_vmlinux() == NULL,
         "no default kernel while the source was never unpacked");
  /* The source as `netlab kernel build` leaves it unpacked. */
  g_autofree char *top = g_path_get_basename(tarball);
  top[strlen(top) - strlen(".tar.xz")] = '\0';
  g_autofree char *tree = g_build_filename(cache, "netlab", "src", top, NULL);
  g_mkdir_with_parents(tree, 0755);
  g_autofree char *mk = g_build_filename(tree, "Makefile", NULL);
  g_file_set_contents(mk, "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 99\n", -1, NULL);
  struct stat st;
  stat(tarball, &st);
  g_autofree char *origin =
      g_strdup_printf("%s %lld %lld\n", tarball, (long long)st.st_size, (long long)st.st_mtime);
  g_autofree char *stamp = g_strconcat(tree, ".stamp", NULL);
  g_file_set_contents(stamp, origin, -1, NULL);
  g_autofree char *key = nl_kbuild_default_key();
  TAP_OK(key != NULL, "the default build's key, once the source is unpacked");
  if (!key) return;
  fake_kernel(cache, "old-default", key, 3600);
  fake_kernel(cache, "new-default", key, 60);
  fake_kernel(cache, "newest-debug", "another key", 0);
  g_autofree char *got = nl_kbuild_default_vmlinux();
  g_autofree char *want =
      g_build_filename(cache, "netlab", "kernels", "new-default", "vmlinux", NULL);
  TAP_STREQ(got, want, "up's default: the newest kernel built with the default fragments");
  /* What `kernel list` shows of a build: its wall and CPU time, or "-". */
  g_autofree char *timed =
      g_build_filename(cache, "netlab", "kernels", "new-default", "netlab-kernel", NULL);
  g_autofree char *text =
      g_strdup_printf("key=%s\nbuild_seconds=300\nbuild_cpu_seconds=555\n", key);
  g_file_set_contents(timed, text, -1, NULL);
  g_autoptr(GPtrArray) ks = nl_kbuild_list(NULL);
  gint64 wall = 0, cpu = 0, old_cpu = 0;
  for (guint i = 0; ks && i < ks->len; i++) {
    const NlKbuildKernel *k = ks->pdata[i];
    if (strcmp(k->name, "new-default") == 0) wall = k->build_s, cpu = k->build_cpu_s;
    if (strcmp(k->name, "old-default") == 0) old_cpu = k->build_cpu_s;
  }
  TAP_OK(wall == 300 && cpu == 555, "a build's wall and CPU time, from its stamp");
  TAP_OK(old_cpu == -1, "no CPU time in an older stamp: unknown (-1)");
  g_autofree char *rm = g_strdup_printf("rm -rf '%s'", cache);
  g_spawn_command_line_sync(rm, NULL, NULL, NULL, NULL);
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
    const char *texts[] = {
        "# a comment naming CONFIG_64BIT\n"
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
    const char *texts[] = {
        "CONFIG_VXLAN=y\nCONFIG_GENEVE=y\nCONFIG_NR_CPUS=8\n"
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
    const char *texts[] = {"CONFIG_VXLAN=y\nCONFIG_SLUB=y\n", "# CONFIG_VXLAN is not set\n", NULL};
    g_autoptr(GPtrArray) bad = nl_kbuild_check(config, names, texts);
    g_autofree char *got = joined(bad);
    TAP_STREQ(got, "", "a later fragment overrides an earlier one, as merge_config.sh does");
  }
  default_kernel();
  return tap_done();
}
