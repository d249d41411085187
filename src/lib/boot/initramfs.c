/* The guest's initramfs: a cpio "newc" writer, a modules.dep resolver, and
 * the cached archive that puts them together with busybox and templates/. */
#include "initramfs.h"

#include <elf.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>
#include <sys/stat.h>

#include "guest-contract.h"
#include "util.h"

/* Part of the cache key: bump it whenever the archive's layout or the module
 * list below changes, so archives built by an older netlab are not reused. */
#define NL_INITRAMFS_FORMAT 2

/* The modules the first stage loads, with their dependencies. The guest runs
 * no udev, so whatever is not loaded here never gets loaded by itself. */
static const char *const initramfs_roots[] = {
    "virtio_pci",     /* the PCI transport every virtio device below sits on */
    "virtio_net",     /* the lab's NICs */
    "virtio_console", /* the agent's virtio-serial port */
    "9pnet_virtio",   /* 9p's virtio transport */
    "9p",             /* the host's root, the node's configuration, /hostlab */
    "overlay",        /* the node's writable root over the read-only 9p one */
    NULL,
};

/* What a node with a disk also loads (listed in /netlab/modules.disk), so
 * that a node without one boots exactly as fast as before. ext4 asks the
 * crypto API for crc32c, which nothing could load on demand here. */
static const char *const disk_roots[] = {"virtio_blk", "crc32c_generic", "ext4", NULL};

/* Must be busybox-static's: the initramfs holds no libc or dynamic loader. */
#define BUSYBOX "/bin/busybox"

/* Busybox's insmod loads only plain .ko files, so compressed modules are
 * decompressed into the archive with the tool that comes with the format. */
static const struct {
  const char *suffix;
  const char *tool;
  const char *package;
} decompressors[] = {
    {".ko.xz", "xz", "xz-utils"},
    {".ko.zst", "zstd", "zstd"},
    {".ko.gz", "gzip", "gzip"},
};

/* ---- cpio newc writer ---- */

struct NlCpio {
  GByteArray *data;
  guint32 next_ino;
};

NlCpio *nl_cpio_new(void) {
  NlCpio *cpio = g_new0(NlCpio, 1);
  cpio->data = g_byte_array_new();
  cpio->next_ino = 1;
  return cpio;
}

void nl_cpio_free(NlCpio *cpio) {
  if (!cpio) return;
  g_byte_array_unref(cpio->data);
  g_free(cpio);
}

/* Every entry starts at offset 0 or after a padded one, so aligning the
 * buffer's length aligns the archive offset as newc requires. */
static void pad4(GByteArray *a) {
  static const guint8 zeros[3];
  g_byte_array_append(a, zeros, (4 - a->len % 4) % 4);
}

static void append_entry(GByteArray *a, guint32 ino, const char *name, guint32 mode, guint32 nlink,
                         guint32 rdevmajor, guint32 rdevminor, const void *data, gsize len) {
  char header[111];
  guint32 namesize = strlen(name) + 1;

  /* uid, gid and mtime are 0 so that the same inputs give the same bytes. */
  g_snprintf(header, sizeof header, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
             ino, mode, 0u, 0u, nlink, 0u, (guint32)len, 0u, 0u, rdevmajor, rdevminor, namesize,
             0u);
  g_byte_array_append(a, (const guint8 *)header, 110);
  g_byte_array_append(a, (const guint8 *)name, namesize);
  pad4(a);
  if (len > 0) {
    g_byte_array_append(a, data, len);
    pad4(a);
  }
}

static void add_entry(NlCpio *cpio, const char *path, guint32 mode, guint32 nlink,
                      guint32 rdevmajor, guint32 rdevminor, const void *data, gsize len) {
  /* Stored relative, as gen_init_cpio and cpio(1) do; the kernel unpacks
   * into / either way, and cpio -i then extracts below the current dir. */
  while (*path == '/') path++;
  g_return_if_fail(*path != '\0');
  g_return_if_fail(len <= G_MAXUINT32);
  append_entry(cpio->data, cpio->next_ino++, path, mode, nlink, rdevmajor, rdevminor, data, len);
}

void nl_cpio_add_dir(NlCpio *cpio, const char *path, guint mode) {
  add_entry(cpio, path, S_IFDIR | (mode & 07777), 2, 0, 0, NULL, 0);
}

void nl_cpio_add_file(NlCpio *cpio, const char *path, guint mode, const void *data, gsize len) {
  add_entry(cpio, path, S_IFREG | (mode & 07777), 1, 0, 0, data, len);
}

void nl_cpio_add_symlink(NlCpio *cpio, const char *path, const char *target) {
  add_entry(cpio, path, S_IFLNK | 0777, 1, 0, 0, target, strlen(target));
}

void nl_cpio_add_chardev(NlCpio *cpio, const char *path, guint mode, guint major, guint minor) {
  add_entry(cpio, path, S_IFCHR | (mode & 07777), 1, major, minor, NULL, 0);
}

GBytes *nl_cpio_finish(NlCpio *cpio) {
  append_entry(cpio->data, 0, "TRAILER!!!", 0, 1, 0, 0, NULL, 0);
  GBytes *bytes = g_byte_array_free_to_bytes(cpio->data);
  /* Leave the writer empty and usable rather than dangling. */
  cpio->data = g_byte_array_new();
  cpio->next_ino = 1;
  return bytes;
}

/* ---- modules.dep ---- */

typedef enum { MOD_NEW, MOD_VISITING, MOD_DONE } ModState;

typedef struct {
  char *path;  /* relative to /lib/modules/<version>, as modules.dep has it */
  char **deps; /* likewise; modprobe loads them last to first */
  ModState state;
} ModDep;

static void mod_dep_free(ModDep *m) {
  g_free(m->path);
  g_strfreev(m->deps);
  g_free(m);
}

static ModDep *mod_dep_new(const char *path, char **deps) {
  ModDep *m = g_new0(ModDep, 1);
  m->path = g_strdup(path);
  m->deps = deps ? deps : g_new0(char *, 1);
  return m;
}

/* The module name as modprobe compares it: the basename up to the first dot
 * (so .ko, .ko.xz, .ko.zst all match), with '-' and '_' the same. */
static char *module_name(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  char *name = g_strndup(base, strcspn(base, "."));
  return g_strdelimit(name, "-", '_');
}

/* Emits M after everything it depends on, each module once. */
static gboolean visit(ModDep *m, GHashTable *by_path, GPtrArray *out, GError **error) {
  if (m->state == MOD_DONE) return TRUE;
  if (m->state == MOD_VISITING) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "modules.dep has a dependency cycle through '%s'",
                m->path);
    return FALSE;
  }
  m->state = MOD_VISITING;
  /* Last to first, as modprobe loads them; recursing makes the order valid
   * even where a list is not complete or not in that order. */
  for (guint i = g_strv_length(m->deps); i-- > 0;) {
    /* What g_strsplit_set leaves between repeated blanks. */
    if (*m->deps[i] == '\0') continue;
    ModDep *dep = g_hash_table_lookup(by_path, m->deps[i]);
    if (!dep) {
      /* A dependency without a line of its own depends on nothing. */
      dep = mod_dep_new(m->deps[i], NULL);
      g_hash_table_insert(by_path, dep->path, dep);
    }
    if (!visit(dep, by_path, out, error)) return FALSE;
  }
  m->state = MOD_DONE;
  g_ptr_array_add(out, g_strdup(m->path));
  return TRUE;
}

GPtrArray *nl_modules_resolve(const char *modules_dep, const char *builtin,
                              const char *const *roots, GError **error) {
  g_autoptr(GHashTable) by_path =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)mod_dep_free);
  g_autoptr(GHashTable) by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) builtins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);

  g_auto(GStrv) lines = g_strsplit(modules_dep, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    char *colon = strchr(lines[i], ':');
    if (!colon) continue;
    *colon = '\0';
    char *path = g_strstrip(lines[i]);
    if (*path == '\0') continue;
    char **deps = g_strsplit_set(g_strstrip(colon + 1), " \t", -1);
    /* The paths name files under the module tree, which root then packs
     * into the initramfs: none may leave it. */
    const char *bad = nl_rel_path_ok(path) ? NULL : path;
    for (char **d = deps; !bad && *d; d++)
      if (**d && !nl_rel_path_ok(*d)) bad = *d;
    if (bad) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "modules.dep:%u: '%s' is not a path inside the module tree", i + 1, bad);
      g_strfreev(deps);
      return NULL;
    }
    if (g_hash_table_contains(by_path, path)) {
      g_strfreev(deps);
      continue;
    }
    ModDep *m = mod_dep_new(path, deps);
    g_hash_table_insert(by_path, m->path, m);
    /* The first one wins on a clash, as with modprobe. */
    char *name = module_name(m->path);
    if (!g_hash_table_contains(by_name, name))
      g_hash_table_insert(by_name, name, m);
    else
      g_free(name);
  }

  if (builtin) {
    g_auto(GStrv) blines = g_strsplit(builtin, "\n", -1);
    for (guint i = 0; blines[i]; i++) {
      char *path = g_strstrip(blines[i]);
      if (*path) g_hash_table_add(builtins, module_name(path));
    }
  }

  for (guint i = 0; roots[i]; i++) {
    g_autofree char *name = module_name(roots[i]);
    ModDep *m = g_hash_table_lookup(by_name, name);
    if (m) {
      if (!visit(m, by_path, out, error)) return NULL;
    } else if (!g_hash_table_contains(builtins, name)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "module '%s' is neither in modules.dep nor built into the "
                  "kernel",
                  roots[i]);
      return NULL;
    }
  }
  return g_steal_pointer(&out);
}

/* ---- the initramfs ---- */

typedef struct {
  char *name;
  GBytes *content;
  gboolean executable;
} Template;

static void template_free(Template *t) {
  g_free(t->name);
  g_bytes_unref(t->content);
  g_free(t);
}

static gboolean read_bytes(const char *path, GBytes **out, GError **error) {
  g_autoptr(GError) local = NULL;
  char *data;
  gsize len;
  if (!g_file_get_contents(path, &data, &len, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read '%s': %s", path, local->message);
    return FALSE;
  }
  *out = g_bytes_new_take(data, len);
  return TRUE;
}

/* The regular files at the top of DIR, sorted so that the cache key and the
 * archive do not depend on readdir's order. Dot files (editor leftovers) are
 * not part of the guest's boot. */
static GPtrArray *read_templates(const char *dir, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open(dir, 0, &local);
  if (!d) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read the templates directory '%s': %s",
                dir, local->message);
    return NULL;
  }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)))
    if (name[0] != '.') g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, nl_strv_cmp);

  g_autoptr(GPtrArray) templates = g_ptr_array_new_with_free_func((GDestroyNotify)template_free);
  gboolean have_init = FALSE;
  for (guint i = 0; i < names->len; i++) {
    const char *n = names->pdata[i];
    g_autofree char *path = g_build_filename(dir, n, NULL);
    GStatBuf st;
    if (g_stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (strcmp(n, "modules") == 0 || strcmp(n, "modules.disk") == 0 || strcmp(n, "contract") == 0) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "template '%s' clashes with netlab's own /netlab/%s", path, n);
      return NULL;
    }
    GBytes *content = NULL;
    if (!read_bytes(path, &content, error)) return NULL;
    Template *t = g_new0(Template, 1);
    t->name = g_strdup(n);
    t->content = content;
    t->executable = (st.st_mode & S_IXUSR) != 0;
    g_ptr_array_add(templates, t);
    have_init = have_init || strcmp(n, "init") == 0;
  }
  if (!have_init) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "template '%s/init' not found", dir);
    return NULL;
  }
  /* The names the scripts share with the host (guest-contract.h), as shell. */
  char *contract = nl_guest_contract();
  Template *t = g_new0(Template, 1);
  t->name = g_strdup("contract");
  t->content = g_bytes_new_take(contract, strlen(contract));
  g_ptr_array_add(templates, t);
  return g_steal_pointer(&templates);
}

/* A dynamically linked busybox would need the host's libc and loader in the
 * initramfs; a static executable has no PT_INTERP program header. */
static gboolean check_static(const char *path, GBytes *bytes, GError **error) {
  gsize len;
  const guint8 *p = g_bytes_get_data(bytes, &len);
  guint8 host_order = G_BYTE_ORDER == G_LITTLE_ENDIAN ? ELFDATA2LSB : ELFDATA2MSB;
  guint64 phoff = 0;
  guint phentsize = 0, phnum = 0;

  if (len >= EI_NIDENT && memcmp(p, ELFMAG, SELFMAG) == 0 && p[EI_DATA] == host_order) {
    if (p[EI_CLASS] == ELFCLASS64 && len >= sizeof(Elf64_Ehdr)) {
      Elf64_Ehdr eh;
      memcpy(&eh, p, sizeof eh);
      phoff = eh.e_phoff;
      phentsize = eh.e_phentsize;
      phnum = eh.e_phnum;
    } else if (p[EI_CLASS] == ELFCLASS32 && len >= sizeof(Elf32_Ehdr)) {
      Elf32_Ehdr eh;
      memcpy(&eh, p, sizeof eh);
      phoff = eh.e_phoff;
      phentsize = eh.e_phentsize;
      phnum = eh.e_phnum;
    }
  }
  if (phnum == 0 || phentsize < sizeof(guint32) || phoff > len) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is not an executable for this machine (install the "
                "busybox-static package)",
                path);
    return FALSE;
  }
  for (guint i = 0; i < phnum; i++) {
    guint64 off = phoff + (guint64)i * phentsize;
    guint32 type;
    if (off > len - sizeof type) break;
    memcpy(&type, p + off, sizeof type);
    if (type == PT_INTERP) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "'%s' is dynamically linked and cannot run in the initramfs "
                  "(install the busybox-static package)",
                  path);
      return FALSE;
    }
  }
  return TRUE;
}

static GBytes *decompress(const char *path, const char *tool, const char *package, GError **error) {
  const char *argv[] = {tool, "-dc", "--", path, NULL};
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GSubprocess) proc = g_subprocess_newv(
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &local);
  if (!proc || !g_subprocess_communicate(proc, NULL, NULL, &out, &err, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot decompress '%s' with %s (install the %s package): %s", path, tool, package,
                local->message);
    return NULL;
  }
  if (!g_subprocess_get_successful(proc)) {
    gsize n;
    const char *msg = g_bytes_get_data(err, &n);
    g_autofree char *text = g_strndup(msg, n);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot decompress '%s': %s", path,
                *g_strstrip(text) ? text : "decompressor failed");
    return NULL;
  }
  return g_steal_pointer(&out);
}

/* Reads module REL of MODDIR as a plain .ko; *STORED is the path it gets in
 * the archive, relative to /lib/modules/<version>. */
static GBytes *read_module(const char *moddir, const char *rel, char **stored, GError **error) {
  g_autofree char *path = g_build_filename(moddir, rel, NULL);
  /* Resolved, it must still be in the tree (a link may point out of it). */
  g_autofree char *real_dir = nl_realpath(moddir, error);
  g_autofree char *real = real_dir ? nl_realpath(path, error) : NULL;
  if (!real) return NULL;
  if (!g_str_has_prefix(real, real_dir) || real[strlen(real_dir)] != '/') {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "module '%s' resolves to '%s', outside '%s'", rel,
                real, moddir);
    return NULL;
  }
  for (guint i = 0; i < G_N_ELEMENTS(decompressors); i++) {
    if (!g_str_has_suffix(rel, decompressors[i].suffix)) continue;
    GBytes *plain = decompress(path, decompressors[i].tool, decompressors[i].package, error);
    if (plain) {
      g_autofree char *stem = g_strndup(rel, strlen(rel) - strlen(decompressors[i].suffix));
      *stored = g_strconcat(stem, ".ko", NULL);
    }
    return plain;
  }
  GBytes *bytes = NULL;
  if (!read_bytes(path, &bytes, error)) return NULL;
  *stored = g_strdup(rel);
  return bytes;
}

/* Length-prefixed, so that no two different inputs hash the same bytes. */
static void hash_field(GChecksum *sum, const void *data, gsize len) {
  g_autofree char *prefix = g_strdup_printf("%" G_GSIZE_FORMAT ":", len);
  g_checksum_update(sum, (const guchar *)prefix, strlen(prefix));
  g_checksum_update(sum, data, len);
}

static void hash_string(GChecksum *sum, const char *s) { hash_field(sum, s, strlen(s)); }

/* Everything the archive is made of, cheaply: busybox by its size and mtime,
 * the modules by modules.dep (a new kernel build changes it). */
static char *cache_key(const char *version, const char *modules_dep, const GStatBuf *busybox,
                       GPtrArray *templates) {
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_autofree char *format = g_strdup_printf("%d", NL_INITRAMFS_FORMAT);
  g_autofree char *bb = g_strdup_printf("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
                                        (gint64)busybox->st_size, (gint64)busybox->st_mtime);
  hash_string(sum, format);
  hash_string(sum, version);
  hash_string(sum, modules_dep);
  hash_string(sum, bb);
  for (guint i = 0; i < templates->len; i++) {
    Template *t = templates->pdata[i];
    gsize len;
    const void *data = g_bytes_get_data(t->content, &len);
    hash_string(sum, t->name);
    hash_field(sum, data, len);
  }
  return g_strdup(g_checksum_get_string(sum));
}

/* Adds the directories leading to module REL below BASE, each only once. */
static void add_module_dirs(NlCpio *cpio, GHashTable *seen, const char *base, const char *rel) {
  for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
    g_autofree char *sub = g_strndup(rel, slash - rel);
    char *dir = g_build_filename(base, sub, NULL);
    if (g_hash_table_add(seen, dir)) nl_cpio_add_dir(cpio, dir, 0755);
  }
}

/* MODULES[0..N_BASE) are always loaded, the rest only by a node with a
 * disk. */
static GBytes *build_archive(const char *moddir, const char *version, GPtrArray *modules,
                             guint n_base, GBytes *busybox, GPtrArray *templates, GError **error) {
  static const char *const dirs[] = {
      "/bin", "/dev", "/proc", "/sys", "/mnt",         "/newroot",
      "/run", "/tmp", "/etc",  "/lib", "/lib/modules", "/netlab",
  };
  g_autoptr(NlCpio) cpio = nl_cpio_new();
  g_autofree char *base = g_build_filename("/lib/modules", version, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) contents = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  g_autoptr(GString) list = g_string_new(NULL);
  g_autoptr(GString) disk_list = g_string_new(NULL);

  /* Modules first: an unreadable one fails before anything else is done. */
  for (guint i = 0; i < modules->len; i++) {
    char *rel = NULL;
    GBytes *bytes = read_module(moddir, modules->pdata[i], &rel, error);
    if (!bytes) return NULL;
    g_ptr_array_add(stored, rel);
    g_ptr_array_add(contents, bytes);
  }

  for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) nl_cpio_add_dir(cpio, dirs[i], 0755);
  nl_cpio_add_dir(cpio, base, 0755);
  for (guint i = 0; i < stored->len; i++) add_module_dirs(cpio, seen, base, stored->pdata[i]);

  /* The kernel opens it for init's stdin/out/err before devtmpfs is up. */
  nl_cpio_add_chardev(cpio, "/dev/console", 0600, 5, 1);
  gsize len;
  const void *data = g_bytes_get_data(busybox, &len);
  nl_cpio_add_file(cpio, "/bin/busybox", 0755, data, len);
  /* The kernel runs /init through its #! line before busybox --install. */
  nl_cpio_add_symlink(cpio, "/bin/sh", "busybox");

  for (guint i = 0; i < templates->len; i++) {
    Template *t = templates->pdata[i];
    gboolean init = strcmp(t->name, "init") == 0;
    g_autofree char *path = init ? g_strdup("/init") : g_build_filename("/netlab", t->name, NULL);
    data = g_bytes_get_data(t->content, &len);
    nl_cpio_add_file(cpio, path, init || t->executable ? 0755 : 0644, data, len);
  }

  for (guint i = 0; i < stored->len; i++) {
    g_autofree char *path = g_build_filename(base, stored->pdata[i], NULL);
    data = g_bytes_get_data(contents->pdata[i], &len);
    nl_cpio_add_file(cpio, path, 0644, data, len);
    g_string_append_printf(i < n_base ? list : disk_list, "%s\n", path);
  }
  nl_cpio_add_file(cpio, "/netlab/modules", 0644, list->str, list->len);
  nl_cpio_add_file(cpio, "/netlab/modules.disk", 0644, disk_list->str, disk_list->len);
  return nl_cpio_finish(cpio);
}

/* Whether NAME is an archive this module wrote for VERSION:
 * <version>-<16 hex digits>.cpio, and not one of a longer version string. */
static gboolean is_archive_of(const char *name, const char *version) {
  gsize vlen = strlen(version);
  if (strncmp(name, version, vlen) != 0 || name[vlen] != '-') return FALSE;
  const char *hex = name + vlen + 1;
  for (int i = 0; i < 16; i++)
    if (!g_ascii_isxdigit(hex[i])) return FALSE;
  return strcmp(hex + 16, ".cpio") == 0;
}

/* Another archive for this kernel is another netlab's (templates differ
 * between checkouts) or an older one's. Each use touches an archive, and
 * one unused for a day goes: removing it sooner would pull it from under
 * an `up` of another checkout that is about to boot it. Best effort: one
 * left behind only costs disk space. */
#define STALE_AFTER_S (24 * 3600)

static void remove_stale(const char *dir, const char *version, const char *keep) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (!d) return;
  const char *name;
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  while ((name = g_dir_read_name(d))) {
    if (strcmp(name, keep) == 0 || !is_archive_of(name, version)) continue;
    g_autofree char *path = g_build_filename(dir, name, NULL);
    GStatBuf st;
    if (g_stat(path, &st) == 0 && now - st.st_mtime > STALE_AFTER_S) g_unlink(path);
  }
}

char *nl_initramfs_get(const char *moddir, const char *templates, GError **error) {
  /* One archive serves every kernel without modules. */
  g_autofree char *version = moddir ? g_path_get_basename(moddir) : g_strdup("nomodules");
  if (moddir && !g_file_test(moddir, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "kernel modules for '%s' not found in %s (install the matching "
                "linux-image package)",
                version, moddir);
    return NULL;
  }
  g_autoptr(GBytes) dep_bytes = NULL;
  if (moddir) {
    g_autofree char *dep_path = g_build_filename(moddir, "modules.dep", NULL);
    if (!read_bytes(dep_path, &dep_bytes, error)) return NULL;
  }
  /* g_file_get_contents NUL-terminates what it reads. */
  const char *modules_dep = dep_bytes ? g_bytes_get_data(dep_bytes, NULL) : "";

  GStatBuf bb;
  if (g_stat(BUSYBOX, &bb) != 0) {
    int saved = errno;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot use '%s': %s (install the busybox-static package)", BUSYBOX,
                g_strerror(saved));
    return NULL;
  }
  g_autoptr(GPtrArray) tmpl = read_templates(templates, error);
  if (!tmpl) return NULL;

  g_autofree char *key = cache_key(version, modules_dep, &bb, tmpl);
  g_autofree char *cache = nl_cache_dir(error);
  if (!cache) return NULL;
  g_autofree char *dir = g_build_filename(cache, "initramfs", NULL);
  if (!nl_mkdir(dir, 0700, error)) return NULL;
  g_autofree char *name = g_strdup_printf("%s-%.16s.cpio", version, key);
  g_autofree char *path = g_build_filename(dir, name, NULL);
  if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
    utime(path, NULL);
    remove_stale(dir, version, name);
    return g_steal_pointer(&path);
  }

  g_autoptr(GPtrArray) modules = NULL;
  guint n_base = 0;
  if (moddir) {
    g_autofree char *builtin_path = g_build_filename(moddir, "modules.builtin", NULL);
    g_autofree char *builtin = NULL;
    /* Without modules.builtin every root must be a module, which is checked. */
    g_file_get_contents(builtin_path, &builtin, NULL, NULL);
    modules = nl_modules_resolve(modules_dep, builtin, initramfs_roots, error);
    if (!modules && error && *error && (*error)->code == NL_ERROR_INPUT) {
      g_prefix_error(error, "%s/", moddir);
      return NULL;
    }
    if (!modules) {
      g_prefix_error(error, "cannot build the initramfs for '%s': ", version);
      return NULL;
    }
    /* A kernel without them boots nodes without disks all the same; a node
     * with one fails to mount it and says so. */
    g_autoptr(GPtrArray) disk = nl_modules_resolve(modules_dep, builtin, disk_roots, NULL);
    if (!disk) disk = g_ptr_array_new_with_free_func(g_free);
    n_base = modules->len;
    for (guint i = 0; i < disk->len; i++)
      if (!g_ptr_array_find_with_equal_func(modules, disk->pdata[i], g_str_equal, NULL))
        g_ptr_array_add(modules, g_strdup(disk->pdata[i]));
  } else {
    modules = g_ptr_array_new_with_free_func(g_free);
  }

  g_autoptr(GBytes) busybox = NULL;
  if (!read_bytes(BUSYBOX, &busybox, error) || !check_static(BUSYBOX, busybox, error)) return NULL;
  g_autoptr(GBytes) archive = build_archive(moddir, version, modules, n_base, busybox, tmpl, error);
  if (!archive) return NULL;
  gsize len;
  const char *data = g_bytes_get_data(archive, &len);
  if (!nl_write_file(path, data, len, 0644, error)) return NULL;
  remove_stale(dir, version, name);
  return g_steal_pointer(&path);
}
