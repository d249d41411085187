/* Unit tests of the initramfs module: the cpio writer checked against GNU
 * cpio, modules.dep resolution on lines taken from Debian's 6.1 kernel, and
 * the cached archive built from a fake kernel and from an installed one. */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "initramfs.h"
#include "tap.h"
#include "util.h"

static char *tmp_root;

/* Runs a NULL-terminated command in CWD (or ours) and returns its stdout;
 * *STATUS is its wait status, 0 on success. */
static char *run(const char *cwd, int *status, const char *argv0, ...) {
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  va_list ap;
  va_start(ap, argv0);
  for (const char *a = argv0; a; a = va_arg(ap, const char *)) g_ptr_array_add(argv, (char *)a);
  va_end(ap);
  g_ptr_array_add(argv, NULL);

  g_autoptr(GError) error = NULL;
  char *out = NULL;
  if (!g_spawn_sync(cwd, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
                    status, &error)) {
    printf("# cannot run %s: %s\n", argv0, error->message);
    *status = -1;
    return g_strdup("");
  }
  return out;
}

static char *cpio_list(const char *archive) {
  int status;
  char *out = run(NULL, &status, "cpio", "--quiet", "-t", "-F", archive, NULL);
  if (status != 0) printf("# cpio -t '%s' failed\n", archive);
  return out;
}

static char *cpio_cat(const char *archive, const char *member) {
  int status;
  char *out =
      run(NULL, &status, "cpio", "--quiet", "-i", "--to-stdout", "-F", archive, member, NULL);
  if (status != 0) printf("# cpio -i '%s' '%s' failed\n", archive, member);
  return out;
}

static char *read_text(const char *path) {
  char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL)) {
    printf("# cannot read %s\n", path);
    return g_strdup("");
  }
  return text;
}

static char *data_path(const char *name) {
  const char *dir = g_getenv("NETLAB_TEST_DATA");
  return g_build_filename(dir ? dir : "tests/data", "initramfs", name, NULL);
}

static char *join_paths(GPtrArray *paths) {
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; paths && i < paths->len; i++)
    g_string_append_printf(s, "%s\n", (char *)paths->pdata[i]);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* A second, independent reader of newc headers, for what `cpio -t` does not
 * show: inode and device numbers, modes. Finds NAME's 13 header fields and,
 * if DATA is not NULL, where its content starts. */
static gboolean find_header(GBytes *archive, const char *name, guint32 *fields, const char **data) {
  gsize len;
  const char *p = g_bytes_get_data(archive, &len);
  gsize off = 0;
  while (off + 110 <= len && memcmp(p + off, "070701", 6) == 0) {
    for (int i = 0; i < 13; i++) {
      char hex[9] = {0};
      memcpy(hex, p + off + 6 + 8 * i, 8);
      fields[i] = strtoul(hex, NULL, 16);
    }
    const char *entry = p + off + 110;
    off = (off + 110 + fields[11] + 3) & ~(gsize)3;
    if (strcmp(entry, name) == 0) {
      if (data) *data = p + off;
      return off + fields[6] <= len;
    }
    off = (off + fields[6] + 3) & ~(gsize)3;
  }
  return FALSE;
}

static GBytes *sample_archive(void) {
  g_autoptr(NlCpio) cpio = nl_cpio_new();
  nl_cpio_add_dir(cpio, "/etc", 0755);
  nl_cpio_add_file(cpio, "/etc/hello", 0644, "hello, world\n", 13);
  nl_cpio_add_file(cpio, "/etc/empty", 0600, "", 0);
  nl_cpio_add_symlink(cpio, "/etc/link", "hello");
  nl_cpio_add_dir(cpio, "dev", 0755);
  nl_cpio_add_chardev(cpio, "/dev/console", 0600, 5, 1);
  return nl_cpio_finish(cpio);
}

static void test_cpio(void) {
  g_autoptr(GBytes) archive = sample_archive();
  g_autoptr(GBytes) again = sample_archive();
  gsize len;
  const char *data = g_bytes_get_data(archive, &len);
  g_autofree char *path = g_build_filename(tmp_root, "sample.cpio", NULL);
  g_file_set_contents(path, data, len, NULL);

  TAP_OK(len % 4 == 0, "cpio: length %zu is a multiple of 4", len);
  /* The trailer's header and name take 121 bytes, padded to 124. */
  TAP_OK(len >= 124 && memcmp(data + len - 124, "070701", 6) == 0 &&
             memcmp(data + len - 14, "TRAILER!!!\0\0\0", 14) == 0,
         "cpio: ends with the trailer");
  TAP_OK(g_bytes_equal(archive, again), "cpio: the same entries give the same bytes");

  g_autofree char *list = cpio_list(path);
  TAP_STREQ(list, "etc\netc/hello\netc/empty\netc/link\ndev\ndev/console\n",
            "cpio: cpio -t lists every entry in order, without a leading /");

  guint32 h[13] = {0};
  TAP_OK(find_header(archive, "dev/console", h, NULL) && h[0] == 6 && h[1] == (S_IFCHR | 0600) &&
             h[9] == 5 && h[10] == 1,
         "cpio: dev/console is inode 6, a 0600 char device 5,1");
  TAP_OK(find_header(archive, "etc", h, NULL) && h[0] == 1 && h[1] == (S_IFDIR | 0755) &&
             h[4] == 2 && h[5] == 0,
         "cpio: etc is inode 1, a directory with 2 links and mtime 0");

  g_autofree char *dir = g_build_filename(tmp_root, "extract", NULL);
  g_mkdir(dir, 0700);
  int status;
  g_free(run(dir, &status, "cpio", "--quiet", "-i", "-d", "-F", path, "etc/hello", "etc/link",
             "etc/empty", NULL));
  TAP_OK(status == 0, "cpio: cpio -i extracts the archive");
  g_autofree char *hello_path = g_build_filename(dir, "etc/hello", NULL);
  g_autofree char *hello = read_text(hello_path);
  TAP_STREQ(hello, "hello, world\n", "cpio: file content survives");
  g_autofree char *link_path = g_build_filename(dir, "etc/link", NULL);
  g_autofree char *target = g_file_read_link(link_path, NULL);
  TAP_STREQ(target, "hello", "cpio: symlink target survives");
  g_autofree char *empty_path = g_build_filename(dir, "etc/empty", NULL);
  GStatBuf st;
  TAP_OK(g_stat(empty_path, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0600,
         "cpio: an empty file keeps its mode");
}

static void test_resolve(void) {
  g_autofree char *dep_path = data_path("modules.dep");
  g_autofree char *builtin_path = data_path("modules.builtin");
  g_autofree char *expected_path = data_path("modules.expected");
  g_autofree char *dep = read_text(dep_path);
  g_autofree char *builtin = read_text(builtin_path);
  g_autofree char *expected = read_text(expected_path);

  static const char *const roots[] = {
      "virtio_pci", "virtio_net", "virtio_console", "9pnet_virtio", "9p", "overlay", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) mods = nl_modules_resolve(dep, builtin, roots, &error);
  g_autofree char *got = join_paths(mods);
  TAP_STREQ(got, expected, "resolve: Debian 6.1's modules in load order, once each");

  static const char *const with_builtin[] = {"unix", "overlay", "amd_uncore", NULL};
  g_autoptr(GPtrArray) mods2 = nl_modules_resolve(dep, builtin, with_builtin, NULL);
  g_autofree char *got2 = join_paths(mods2);
  TAP_STREQ(got2, "kernel/fs/overlayfs/overlay.ko\n",
            "resolve: built-in roots (amd-uncore as amd_uncore) are skipped");

  static const char *const dashed[] = {"virtio-net", NULL};
  g_autoptr(GPtrArray) mods3 = nl_modules_resolve(dep, NULL, dashed, NULL);
  g_autofree char *got3 = join_paths(mods3);
  TAP_STREQ(got3,
            "kernel/drivers/virtio/virtio_ring.ko\n"
            "kernel/drivers/virtio/virtio.ko\n"
            "kernel/net/core/failover.ko\n"
            "kernel/drivers/net/net_failover.ko\n"
            "kernel/drivers/net/virtio_net.ko\n",
            "resolve: virtio-net finds virtio_net.ko");

  static const char *const missing[] = {"overlay", "nosuchmod", NULL};
  g_autoptr(GError) error4 = NULL;
  g_autoptr(GPtrArray) mods4 = nl_modules_resolve(dep, builtin, missing, &error4);
  TAP_OK(mods4 == NULL, "resolve: a missing root fails");
  TAP_STREQ(error4 ? error4->message : NULL,
            "module 'nosuchmod' is neither in modules.dep nor built into the kernel",
            "resolve: a missing root's error");

  static const char *const builtin_only[] = {"unix", NULL};
  g_autoptr(GError) error5 = NULL;
  g_autoptr(GPtrArray) mods5 = nl_modules_resolve(dep, NULL, builtin_only, &error5);
  TAP_OK(mods5 == NULL && error5, "resolve: without modules.builtin a built-in root is missing");

  static const char *const foo[] = {"foo_bar", NULL};
  g_autoptr(GPtrArray) mods6 = nl_modules_resolve(
      "kernel/a/foo-bar.ko.xz: kernel/b/baz.ko.zst  kernel/c/qux.ko.gz\n"
      "kernel/b/baz.ko.zst:\n"
      "kernel/c/qux.ko.gz:\n",
      NULL, foo, NULL);
  g_autofree char *got6 = join_paths(mods6);
  TAP_STREQ(got6, "kernel/c/qux.ko.gz\nkernel/b/baz.ko.zst\nkernel/a/foo-bar.ko.xz\n",
            "resolve: compressed modules, foo_bar finds foo-bar.ko.xz");

  /* a's list has c before b, yet b needs c: c must still come first. */
  static const char *const a[] = {"a", NULL};
  g_autoptr(GPtrArray) mods7 = nl_modules_resolve(
      "kernel/a.ko: kernel/c.ko kernel/b.ko\nkernel/b.ko: kernel/c.ko\n"
      "kernel/c.ko:\n",
      NULL, a, NULL);
  g_autofree char *got7 = join_paths(mods7);
  TAP_STREQ(got7, "kernel/c.ko\nkernel/b.ko\nkernel/a.ko\n",
            "resolve: dependencies of dependencies come first");

  g_autoptr(GError) error8 = NULL;
  g_autoptr(GPtrArray) mods8 =
      nl_modules_resolve("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", NULL, a, &error8);
  TAP_OK(mods8 == NULL && error8 && strstr(error8->message, "cycle"),
         "resolve: a dependency cycle is an error");

  /* Root packs what modules.dep names: nothing outside the tree. */
  g_autoptr(GError) error9 = NULL;
  g_autoptr(GPtrArray) mods9 = nl_modules_resolve(
      "kernel/a.ko: kernel/b.ko\nkernel/b.ko: ../../../../root/secret\n", NULL, a, &error9);
  TAP_STREQ(mods9 ? "resolved" : error9->message,
            "modules.dep:2: '../../../../root/secret' is not a path inside the module tree",
            "resolve: a '..' dependency is an error naming the line");
  g_autoptr(GError) error10 = NULL;
  g_autoptr(GPtrArray) mods10 = nl_modules_resolve("/etc/shadow:\n", NULL, a, &error10);
  TAP_STREQ(mods10 ? "resolved" : error10->message,
            "modules.dep:1: '/etc/shadow' is not a path inside the module tree",
            "resolve: an absolute module path is an error naming the line");
}

static void write_file(const char *dir, const char *name, const char *text, int mode) {
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_mkdir_with_parents(parent, 0755);
  g_file_set_contents(path, text, -1, NULL);
  g_chmod(path, mode);
}

static char *make_templates(const char *name, const char *init) {
  char *dir = g_build_filename(tmp_root, name, NULL);
  g_mkdir(dir, 0755);
  write_file(dir, "init", init, 0755);
  write_file(dir, "stage2", "#!/bin/sh\necho stage2\n", 0755);
  write_file(dir, "mounts", "shared\n", 0644);
  write_file(dir, ".init.swp", "editor junk", 0644);
  return dir;
}

/* A kernel made up here: compressed modules of every kind, overlay built in,
 * so that the whole archive can be compared with an expected listing. */
static void test_fake_kernel(char **archive_out) {
  g_autofree char *moddir = g_build_filename(tmp_root, "lib/modules/9.9.9-test", NULL);
  write_file(moddir, "modules.dep",
             "kernel/drivers/virtio/virtio_pci.ko.xz: "
             "kernel/drivers/virtio/virtio.ko.zst\n"
             "kernel/drivers/virtio/virtio.ko.zst:\n"
             "kernel/drivers/net/virtio_net.ko.gz: "
             "kernel/drivers/virtio/virtio.ko.zst\n"
             "kernel/drivers/char/virtio_console.ko: "
             "kernel/drivers/virtio/virtio.ko.zst\n"
             "kernel/net/9p/9pnet_virtio.ko: kernel/drivers/virtio/virtio.ko.zst\n"
             "kernel/fs/9p/9p.ko:\n"
             "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko.zst\n",
             0644);
  /* virtio_blk is a module, loaded only for a node with a disk. */
  write_file(moddir, "modules.builtin",
             "kernel/fs/overlayfs/overlay.ko\nkernel/crypto/crc32c_generic.ko\n"
             "kernel/fs/ext4/ext4.ko\n",
             0644);
  static const struct {
    const char *path, *compress;
  } mods[] = {
      {"kernel/drivers/virtio/virtio_pci.ko", "xz"},
      {"kernel/drivers/virtio/virtio.ko", "zstd"},
      {"kernel/drivers/net/virtio_net.ko", "gzip"},
      {"kernel/drivers/char/virtio_console.ko", NULL},
      {"kernel/net/9p/9pnet_virtio.ko", NULL},
      {"kernel/fs/9p/9p.ko", NULL},
      {"kernel/drivers/block/virtio_blk.ko", NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(mods); i++) {
    g_autofree char *text = g_strdup_printf("fake %s\n", mods[i].path);
    write_file(moddir, mods[i].path, text, 0644);
    if (!mods[i].compress) continue;
    g_autofree char *path = g_build_filename(moddir, mods[i].path, NULL);
    int status;
    g_free(run(NULL, &status, mods[i].compress, "-q", path, NULL));
    if (status != 0) printf("# cannot compress %s\n", path);
    /* zstd keeps its input unless told otherwise. */
    g_unlink(path);
  }
  g_autofree char *templates = make_templates("templates-fake", "#!/bin/sh\necho fake\n");

  g_autoptr(GError) error = NULL;
  g_autofree char *path = nl_initramfs_get(moddir, templates, &error);
  TAP_OK(path != NULL, "fake kernel: archive built (%s)", error ? error->message : "no error");
  if (!path) return;
  g_autofree char *list = cpio_list(path);
  g_autofree char *expected_path = data_path("fake-kernel.list");
  g_autofree char *expected = read_text(expected_path);
  TAP_STREQ(list, expected, "fake kernel: the archive's layout");

  g_autofree char *modules = cpio_cat(path, "netlab/modules");
  TAP_STREQ(modules,
            "/lib/modules/9.9.9-test/kernel/drivers/virtio/virtio.ko\n"
            "/lib/modules/9.9.9-test/kernel/drivers/virtio/virtio_pci.ko\n"
            "/lib/modules/9.9.9-test/kernel/drivers/net/virtio_net.ko\n"
            "/lib/modules/9.9.9-test/kernel/drivers/char/virtio_console.ko\n"
            "/lib/modules/9.9.9-test/kernel/net/9p/9pnet_virtio.ko\n"
            "/lib/modules/9.9.9-test/kernel/fs/9p/9p.ko\n",
            "fake kernel: netlab/modules in load order, decompressed names");
  static const char *const members[] = {
      "lib/modules/9.9.9-test/kernel/drivers/virtio/virtio_pci.ko",
      "lib/modules/9.9.9-test/kernel/drivers/virtio/virtio.ko",
      "lib/modules/9.9.9-test/kernel/drivers/net/virtio_net.ko",
  };
  for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
    g_autofree char *content = cpio_cat(path, members[i]);
    g_autofree char *want =
        g_strdup_printf("fake %s\n", members[i] + strlen("lib/modules/9.9.9-test/"));
    TAP_STREQ(content, want, "fake kernel: %s is decompressed", members[i]);
  }

  g_autofree char *init = cpio_cat(path, "init");
  TAP_STREQ(init, "#!/bin/sh\necho fake\n", "fake kernel: /init is templates/init");
  g_autoptr(GBytes) bytes = NULL;
  {
    char *data;
    gsize len;
    if (g_file_get_contents(path, &data, &len, NULL)) bytes = g_bytes_new_take(data, len);
  }
  guint32 h[13] = {0};
  TAP_OK(bytes && find_header(bytes, "init", h, NULL) && h[1] == (S_IFREG | 0755) &&
             find_header(bytes, "netlab/mounts", h, NULL) && h[1] == (S_IFREG | 0644) &&
             find_header(bytes, "netlab/stage2", h, NULL) && h[1] == (S_IFREG | 0755),
         "fake kernel: template modes");

  /* 9p missing from modules.dep and not built in. */
  g_autofree char *broken = g_build_filename(tmp_root, "lib/modules/9.9.8-broken", NULL);
  write_file(broken, "modules.dep", "kernel/fs/overlayfs/overlay.ko:\n", 0644);
  g_autoptr(GError) error2 = NULL;
  g_autofree char *none = nl_initramfs_get(broken, templates, &error2);
  TAP_OK(!none, "errors: no initramfs for a kernel without virtio_pci");
  TAP_STREQ(error2 ? error2->message : NULL,
            "cannot build the initramfs for '9.9.8-broken': module 'virtio_pci' "
            "is neither in modules.dep nor built into the kernel",
            "fake kernel: a missing module is reported");

  *archive_out = g_steal_pointer(&path);
}

static void test_errors(void) {
  g_autofree char *templates = make_templates("templates-err", "#!/bin/sh\n");
  g_autoptr(GError) error = NULL;
  g_autofree char *path = nl_initramfs_get("/lib/modules/0.0.0-nonexistent", templates, &error);
  TAP_OK(!path, "errors: no initramfs without the kernel's modules");
  TAP_STREQ(error ? error->message : NULL,
            "kernel modules for '0.0.0-nonexistent' not found in "
            "/lib/modules/0.0.0-nonexistent (install the matching linux-image "
            "package)",
            "errors: a kernel without modules");

  g_autofree char *moddir = g_build_filename(tmp_root, "lib/modules/9.9.9-test", NULL);
  g_autofree char *no_init = g_build_filename(tmp_root, "templates-none", NULL);
  g_mkdir(no_init, 0755);
  g_autoptr(GError) error2 = NULL;
  g_autofree char *path2 = nl_initramfs_get(moddir, no_init, &error2);
  TAP_OK(!path2, "errors: no initramfs without an init template");
  g_autofree char *want = g_strdup_printf("template '%s/init' not found", no_init);
  TAP_STREQ(error2 ? error2->message : NULL, want, "errors: templates without init");
}

static char *newest_kernel(void) {
  g_autoptr(GDir) d = g_dir_open("/lib/modules", 0, NULL);
  g_autofree char *best = NULL;
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    g_autofree char *dep = g_build_filename("/lib/modules", name, "modules.dep", NULL);
    if (g_file_test(dep, G_FILE_TEST_IS_REGULAR) && (!best || strverscmp(name, best) > 0)) {
      g_free(best);
      best = g_strdup(name);
    }
  }
  return best ? g_build_filename("/lib/modules", best, NULL) : NULL;
}

/* The same file, not written again: an archive is written whole into a new
 * file renamed over the old one, so a rewrite is a new inode. A use
 * touches its times (utime), which changes its ctime as well: a time tells
 * nothing here. */
static gboolean same_file(const GStatBuf *a, const GStatBuf *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size;
}

/* The kernel installed here (the newest one: the running kernel may not be a
 * distribution's): real modules.dep, real modules, the host's busybox. */
static void test_real_kernel(const char *fake_archive) {
  g_autofree char *moddir = newest_kernel();
  if (!moddir) {
    printf("ok %d # SKIP no kernel modules installed\n", ++tap_n);
    return;
  }
  g_autofree char *version = g_path_get_basename(moddir);
  g_autofree char *templates = make_templates("templates-real", "#!/bin/sh\necho one\n");

  g_autoptr(GError) error = NULL;
  g_autofree char *path = nl_initramfs_get(moddir, templates, &error);
  TAP_OK(path != NULL, "%s: archive built (%s)", version, error ? error->message : "no error");
  if (!path) return;
  g_autofree char *prefix = g_strdup_printf("%s/cache/netlab/initramfs/%s-", tmp_root, version);
  TAP_OK(g_str_has_prefix(path, prefix) && g_str_has_suffix(path, ".cpio"),
         "%s: archive is in the cache (%s)", version, path);

  g_autofree char *list = cpio_list(path);
  g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
  g_auto(GStrv) lines = g_strsplit(list, "\n", -1);
  for (guint i = 0; lines[i]; i++) g_hash_table_add(names, lines[i]);
  static const char *const required[] = {"init",         "bin/busybox",    "bin/sh",
                                         "dev/console",  "netlab/modules", "netlab/stage2",
                                         "netlab/mounts"};
  for (guint i = 0; i < G_N_ELEMENTS(required); i++)
    TAP_OK(g_hash_table_contains(names, required[i]), "%s: archive has %s", version, required[i]);
  TAP_OK(!g_hash_table_contains(names, "netlab/.init.swp"),
         "%s: dot files of templates/ are left out", version);

  g_autofree char *modules = cpio_cat(path, "netlab/modules");
  g_auto(GStrv) mods = g_strsplit(modules, "\n", -1);
  g_autofree char *mod_prefix = g_strdup_printf("/lib/modules/%s/", version);
  guint count = 0, bad = 0;
  for (guint i = 0; mods[i] && *mods[i]; i++, count++) {
    if (!g_str_has_prefix(mods[i], mod_prefix) || !g_str_has_suffix(mods[i], ".ko") ||
        !g_hash_table_contains(names, mods[i] + 1)) {
      printf("# not in the archive as a .ko: %s\n", mods[i]);
      bad++;
    }
  }
  TAP_OK(count > 0 && bad == 0, "%s: all %u modules of netlab/modules are in it", version, count);

  g_autoptr(GMappedFile) archive = g_mapped_file_new(path, FALSE, NULL);
  g_autoptr(GMappedFile) host = g_mapped_file_new("/bin/busybox", FALSE, NULL);
  g_autoptr(GBytes) bytes = archive ? g_mapped_file_get_bytes(archive) : NULL;
  guint32 h[13] = {0};
  const char *busybox = NULL;
  TAP_OK(bytes && host && find_header(bytes, "bin/busybox", h, &busybox) &&
             h[6] == g_mapped_file_get_length(host) &&
             memcmp(busybox, g_mapped_file_get_contents(host), h[6]) == 0,
         "%s: bin/busybox is the host's", version);

  GStatBuf st1, st2;
  g_stat(path, &st1);
  g_autoptr(GError) error2 = NULL;
  g_autofree char *path2 = nl_initramfs_get(moddir, templates, &error2);
  TAP_STREQ(path2, path, "%s: the second call returns the same archive", version);
  TAP_OK(g_stat(path, &st2) == 0 && same_file(&st1, &st2), "%s: ... without rewriting it", version);

  write_file(templates, "init", "#!/bin/sh\necho two\n", 0755);
  g_autoptr(GError) error3 = NULL;
  g_autofree char *path3 = nl_initramfs_get(moddir, templates, &error3);
  TAP_OK(path3 && strcmp(path3, path) != 0 && g_file_test(path3, G_FILE_TEST_EXISTS),
         "%s: a changed template gives a new archive", version);
  TAP_OK(g_file_test(path, G_FILE_TEST_EXISTS),
         "%s: ... and the old one, used today (by another checkout, say), stays", version);
  /* Unused for two days: the next use of another archive removes it. */
  struct utimbuf old = {time(NULL) - 2 * 86400, time(NULL) - 2 * 86400};
  utime(path, &old);
  g_autoptr(GError) error4 = NULL;
  g_free(nl_initramfs_get(moddir, templates, &error4));
  TAP_OK(!g_file_test(path, G_FILE_TEST_EXISTS), "%s: ... but goes once it was unused for a day",
         version);
  TAP_OK(fake_archive && g_file_test(fake_archive, G_FILE_TEST_EXISTS),
         "%s: ... but not another kernel's", version);
}

int main(void) {
  g_autoptr(GError) error = NULL;
  tmp_root = g_dir_make_tmp("netlab-test-initramfs-XXXXXX", &error);
  if (!tmp_root) {
    printf("Bail out! %s\n", error->message);
    return 1;
  }
  /* Before anything asks GLib for the cache directory: it is read once. */
  g_autofree char *cache = g_build_filename(tmp_root, "cache", NULL);
  g_setenv("XDG_CACHE_HOME", cache, TRUE);

  g_autofree char *fake_archive = NULL;
  test_cpio();
  test_resolve();
  test_fake_kernel(&fake_archive);
  test_errors();
  test_real_kernel(fake_archive);

  int status;
  g_free(run(NULL, &status, "rm", "-rf", tmp_root, NULL));
  g_free(tmp_root);
  return tap_done();
}
