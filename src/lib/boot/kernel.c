#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kbuild.h"
#include "util.h"

void nl_kernel_free(NlKernel *k) {
  if (!k) return;
  g_free(k->path);
  g_free(k->version);
  g_free(k->boot);
  g_free(k->moddir);
  g_free(k);
}

static int version_cmp(gconstpointer a, gconstpointer b) {
  return -strverscmp(*(char *const *)a, *(char *const *)b);
}

static char *newest_boot_kernel(GError **error) {
  g_autoptr(GDir) dir = g_dir_open("/boot", 0, NULL);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (dir && (n = g_dir_read_name(dir)))
    if (g_str_has_prefix(n, "vmlinuz-")) g_ptr_array_add(found, g_strdup(n));
  if (found->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "no kernel in /boot (install linux-image-amd64, or name one "
                "with LAB_KERNEL= or --kernel)");
    return NULL;
  }
  g_ptr_array_sort(found, version_cmp);
  return g_build_filename("/boot", found->pdata[0], NULL);
}

char *nl_kernel_built_dir(const char *name, GError **error) {
  g_autofree char *cache = nl_cache_dir(error);
  return cache ? g_build_filename(cache, "kernels", name, NULL) : NULL;
}

char *nl_kernel_resolve(const char *value, const char *base) {
  g_autofree char *path = g_canonicalize_filename(value, base);
  if (strchr(value, '/') || g_file_test(path, G_FILE_TEST_EXISTS)) return g_steal_pointer(&path);
  g_autofree char *dir = nl_kernel_built_dir(value, NULL);
  g_autofree char *vmlinux = dir ? g_build_filename(dir, "vmlinux", NULL) : NULL;
  if (vmlinux && g_file_test(vmlinux, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&vmlinux);
  return g_steal_pointer(&path);
}

/* The ELF image DATA through elfutils' libelf, which checks every offset
 * and count of a header against LEN: the image may be any file a lab names.
 * NULL unless it is a 64-bit ELF. */
static Elf *elf_open(const guint8 *data, gsize len) {
  static gsize init;
  if (g_once_init_enter(&init)) g_once_init_leave(&init, elf_version(EV_CURRENT) + 1);
  /* Read only: libelf does not write to an image it did not allocate. */
  Elf *e = elf_memory((char *)data, len);
  if (e && (elf_kind(e) != ELF_K_ELF || gelf_getclass(e) != ELFCLASS64)) {
    elf_end(e);
    return NULL;
  }
  return e;
}

/* [OFF, OFF+SIZE) inside [0, LEN), written so that nothing wraps. */
static gboolean in_bounds(guint64 off, guint64 size, guint64 len) {
  return !(off > len || size > len - off);
}

/* [A, A+ASIZE) inside [B, B+BSIZE), with no sum that could wrap. */
static gboolean within(guint64 a, guint64 asize, guint64 b, guint64 bsize) {
  return a >= b && in_bounds(a - b, asize, bsize);
}

gboolean nl_elf_has_pvh(const guint8 *data, gsize len) {
  Elf *e = elf_open(data, len);
  size_t n = 0;
  gboolean found = FALSE;
  if (!e || elf_getphdrnum(e, &n) != 0) n = 0;
  for (size_t i = 0; i < n && !found; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(e, i, &ph) || ph.p_type != PT_NOTE) continue;
    Elf_Data *d = elf_getdata_rawchunk(e, ph.p_offset, ph.p_filesz,
                                       ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
    GElf_Nhdr nh;
    size_t off = 0, name, desc;
    while (d && !found && (off = gelf_getnote(d, off, &nh, &name, &desc)) > 0)
      /* XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit entry point QEMU uses for PVH. */
      found = nh.n_type == 18 && nh.n_namesz == 4 &&
              memcmp((const char *)d->d_buf + name, "Xen", 4) == 0;
  }
  if (e) elf_end(e);
  return found;
}

static gboolean all_zero(const guint8 *p, gsize n) {
  for (gsize i = 0; i < n; i++)
    if (p[i]) return FALSE;
  return TRUE;
}

static int compare_offsets(gconstpointer a, gconstpointer b) {
  const GElf_Phdr *x = *(GElf_Phdr *const *)a, *y = *(GElf_Phdr *const *)b;
  return (x->p_offset > y->p_offset) - (x->p_offset < y->p_offset);
}

/* Whether two loadable segments share file bytes: no kernel's do, and
 * trimming one would cut what the other loads (fuzzing found such images
 * counted twice). */
static gboolean loads_overlap(GElf_Phdr *ph, size_t n) {
  g_autoptr(GPtrArray) loads = g_ptr_array_new();
  for (size_t i = 0; i < n; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_filesz) g_ptr_array_add(loads, &ph[i]);
  g_ptr_array_sort(loads, compare_offsets);
  for (guint i = 1; i < loads->len; i++) {
    const GElf_Phdr *a = loads->pdata[i - 1], *b = loads->pdata[i];
    if (b->p_offset - a->p_offset < a->p_filesz) return TRUE;
  }
  return FALSE;
}

/* libelf reads the headers; the changes are written into DATA itself, at
 * the places of the tables libelf found in bounds. */
gsize nl_elf_trim_zeros(guint8 *data, gsize len) {
  Elf *e = elf_open(data, len);
  GElf_Ehdr eh;
  size_t nph = 0, nsh = 0;
  if (!e || !gelf_getehdr(e, &eh) || elf_getphdrnum(e, &nph) != 0 || elf_getshdrnum(e, &nsh) != 0 ||
      eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      nph > len / sizeof(Elf64_Phdr) || nsh > len / sizeof(Elf64_Shdr) ||
      !in_bounds(eh.e_phoff, nph * sizeof(Elf64_Phdr), len) ||
      !in_bounds(eh.e_shoff, nsh * sizeof(Elf64_Shdr), len)) {
    if (e) elf_end(e);
    return 0;
  }
  g_autofree GElf_Shdr *sh = g_new0(GElf_Shdr, nsh);
  for (size_t j = 0; j < nsh; j++)
    if (!gelf_getshdr(elf_getscn(e, j), &sh[j])) sh[j].sh_type = SHT_NULL;
  g_autofree GElf_Phdr *ph = g_new0(GElf_Phdr, nph);
  for (size_t i = 0; i < nph; i++)
    if (!gelf_getphdr(e, i, &ph[i])) ph[i].p_type = PT_NULL;
  elf_end(e);
  if (loads_overlap(ph, nph)) return 0;

  gsize saved = 0;
  for (size_t i = 0; i < nph; i++) {
    GElf_Phdr *seg = &ph[i];
    if (seg->p_type != PT_LOAD || !in_bounds(seg->p_offset, seg->p_filesz, len)) continue;
    /* The segment's file bytes must hold everything up to the end of its
     * last section with content. */
    guint64 keep = 0;
    for (size_t j = 0; j < nsh; j++) {
      const GElf_Shdr *s = &sh[j];
      if (!(s->sh_flags & SHF_ALLOC) || s->sh_type == SHT_NOBITS ||
          !within(s->sh_addr, s->sh_size, seg->p_vaddr, seg->p_filesz) ||
          !in_bounds(s->sh_offset, s->sh_size, len))
        continue;
      if (!all_zero(data + s->sh_offset, s->sh_size))
        keep = MAX(keep, s->sh_addr - seg->p_vaddr + s->sh_size);
    }
    /* Bytes between sections (alignment padding) count: keep them unless
     * they are zeros at the very end. */
    if (keep >= seg->p_filesz || !all_zero(data + seg->p_offset + keep, seg->p_filesz - keep))
      continue;
    for (size_t j = 0; j < nsh; j++) {
      const GElf_Shdr *s = &sh[j];
      if ((s->sh_flags & SHF_ALLOC) && s->sh_type != SHT_NOBITS &&
          within(s->sh_addr, s->sh_size, seg->p_vaddr + keep, seg->p_filesz - keep)) {
        Elf64_Word nobits = SHT_NOBITS;
        memcpy(data + eh.e_shoff + j * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_type), &nobits,
               sizeof nobits);
      }
    }
    saved += seg->p_filesz - keep;
    Elf64_Xword filesz = keep;
    memcpy(data + eh.e_phoff + i * sizeof(Elf64_Phdr) + offsetof(Elf64_Phdr, p_filesz), &filesz,
           sizeof filesz);
  }
  return saved;
}

char *nl_kernel_bzimage_version(const guint8 *d, gsize len) {
  if (len < 0x210 || memcmp(d + 0x202, "HdrS", 4) != 0) return NULL;
  gsize off = 0x200 + (d[0x20e] | d[0x20f] << 8);
  gsize end = off;
  while (end < len && end - off < 256 && d[end] > ' ' && d[end] < 127) end++;
  return end > off ? g_strndup((const char *)d + off, end - off) : NULL;
}

/* Decompresses the payload of a bzImage into an ELF vmlinux, as the kernel's
 * scripts/extract-vmlinux does: find the compressor's magic, feed everything
 * from there to the decompressor, keep the output if it is an ELF. Under TCG
 * the kernel's own decompression costs seconds on every boot. */
static GBytes *extract_vmlinux(const char *path, const guint8 *d, gsize len) {
  static const struct {
    const char *magic;
    gsize mlen;
    const char *cmd;
  } fmts[] = {
      {"\xfd"
       "7zXZ\0",
       6, "xz"},
      {"\x28\xb5\x2f\xfd", 4, "zstd"},
      {"\x1f\x8b\x08", 3, "gzip"},
  };
  for (gsize f = 0; f < G_N_ELEMENTS(fmts); f++) {
    const guint8 *at = memmem(d, len, fmts[f].magic, fmts[f].mlen);
    if (!at) continue;
    /* The decompressor reads the image from the payload on and stops at its
     * end, leaving the rest unread: a file, not a pipe we would have to fill. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || lseek(fd, at - d, SEEK_SET) < 0) {
      if (fd >= 0) close(fd);
      return NULL;
    }
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_subprocess_launcher_take_stdin_fd(l, fd);
    g_autoptr(GSubprocess) p = g_subprocess_launcher_spawn(l, NULL, fmts[f].cmd, "-dc", NULL);
    if (!p) continue;
    g_autoptr(GBytes) out = NULL;
    /* Trailing data after the compressed stream makes the tools exit non-zero
     * although the output is whole: judge by the output. */
    g_subprocess_communicate(p, NULL, NULL, &out, NULL, NULL);
    if (out && nl_elf_has_pvh(g_bytes_get_data(out, NULL), g_bytes_get_size(out)))
      return g_steal_pointer(&out);
  }
  return NULL;
}

/* Mapped, not read: a vmlinux with debug info is hundreds of MB, of which
 * only the headers are looked at. */
static GMappedFile *map_kernel(const char *path, GError **error) {
  g_autoptr(GError) local = NULL;
  struct stat st;
  int fd = nl_open_regular(path, 0, &st, "cannot read kernel", error);
  if (fd < 0) return NULL;
  GMappedFile *map = g_mapped_file_new_from_fd(fd, FALSE, &local);
  close(fd);
  if (!map)
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read kernel '%s': %s", path,
                local->message);
  return map;
}

/* The modules of K's release, if they are installed. */
static void find_moddir(NlKernel *k) {
  g_autofree char *moddir = g_build_filename("/lib/modules", k->version, NULL);
  if (g_file_test(moddir, G_FILE_TEST_IS_DIR)) k->moddir = g_steal_pointer(&moddir);
}

/* A built tree's vmlinux: the tree says its release, and its modules are
 * installed under that name, if at all. */
static gboolean from_vmlinux(NlKernel *k, GError **error) {
  k->boot = g_strdup(k->path);
  g_autofree char *dir = g_path_get_dirname(k->path);
  g_autofree char *rel = g_build_filename(dir, "include", "config", "kernel.release", NULL);
  gsize rlen = 0;
  if (!nl_read_file_max(rel, 4096, &k->version, &rlen, NULL)) {
    k->version = g_path_get_basename(k->path);
    return TRUE;
  }
  g_strchomp(k->version);
  /* It names a directory of /lib/modules that root packs from. */
  if (!nl_name_ok(k->version)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "%s:1: '%s' is not a kernel release (one plain name, no '/', not '..')", rel,
                k->version);
    return FALSE;
  }
  find_moddir(k);
  return TRUE;
}

/* What a bzImage boots: the ELF vmlinux inside it, extracted once into the
 * cache, or the bzImage itself when it has none. */
static gboolean boot_bzimage(NlKernel *k, const guint8 *d, gsize len, GError **error) {
  g_autofree char *cache = nl_cache_dir(error);
  if (!cache) return FALSE;
  struct stat st;
  if (stat(k->path, &st) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot stat '%s': %s", k->path,
                g_strerror(errno));
    return FALSE;
  }
  /* The last part changes with what netlab does to the image, so that an
   * older netlab's copy is not booted. */
  g_autofree char *name = g_strdup_printf("vmlinux-%s-%lld-%lld-2", k->version,
                                          (long long)st.st_size, (long long)st.st_mtime);
  g_autofree char *dir = g_build_filename(cache, "kernels", NULL);
  g_autofree char *elf = g_build_filename(dir, name, NULL);
  if (g_file_test(elf, G_FILE_TEST_EXISTS)) {
    k->boot = g_steal_pointer(&elf);
    return TRUE;
  }
  g_autoptr(GBytes) out = extract_vmlinux(k->path, d, len);
  if (!out) {
    /* No PVH entry or no decompressor: boot the bzImage, only slower. */
    k->boot = g_strdup(k->path);
    return TRUE;
  }
  gsize size = 0;
  g_autofree guint8 *image = g_bytes_unref_to_data(g_steal_pointer(&out), &size);
  nl_elf_trim_zeros(image, size);
  if (!nl_mkdir(dir, 0700, error) || !nl_write_file(elf, (const char *)image, size, 0644, error))
    return FALSE;
  k->boot = g_steal_pointer(&elf);
  return TRUE;
}

/* A bzImage: its setup header says its release. */
static gboolean from_bzimage(NlKernel *k, const guint8 *d, gsize len, GError **error) {
  k->version = nl_kernel_bzimage_version(d, len);
  if (!k->version) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is neither a bzImage nor an ELF kernel with a PVH entry", k->path);
    return FALSE;
  }
  if (!nl_name_ok(k->version)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "'%s': its version string '%s' is not a kernel release (one plain name)", k->path,
                k->version);
    return FALSE;
  }
  find_moddir(k);
  return boot_bzimage(k, d, len, error);
}

NlKernel *nl_kernel_find(const char *path, GError **error) {
  g_autoptr(NlKernel) k = g_new0(NlKernel, 1);
  k->path = path ? g_strdup(path) : nl_kbuild_default_vmlinux();
  if (!k->path) {
    k->path = newest_boot_kernel(error);
    if (!k->path) return NULL;
    k->distro = TRUE;
  }
  g_autoptr(GMappedFile) map = map_kernel(k->path, error);
  if (!map) return NULL;
  const guint8 *d = (const guint8 *)g_mapped_file_get_contents(map);
  gsize len = g_mapped_file_get_length(map);
  gboolean ok = nl_elf_has_pvh(d, len) ? from_vmlinux(k, error) : from_bzimage(k, d, len, error);
  return ok ? g_steal_pointer(&k) : NULL;
}

char *nl_kernel_config_lacks(const char *config, const char *const *options) {
  g_autoptr(GString) lacks = g_string_new(NULL);
  for (const char *const *o = options; *o; o++) {
    g_autofree char *want = g_strconcat(*o, "=y", NULL);
    gboolean have = FALSE;
    for (const char *l = config; l && *l && !have; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
      have = g_str_has_prefix(l, want) && (l[strlen(want)] == '\n' || !l[strlen(want)]);
    if (!have) g_string_append_printf(lacks, "%s%s", lacks->len ? ", " : "", *o);
  }
  return lacks->len ? g_string_free(g_steal_pointer(&lacks), FALSE) : NULL;
}

/* The GNU build ID among the notes D holds, in hex, or NULL. */
static char *note_build_id(Elf_Data *d) {
  GElf_Nhdr nh;
  size_t off = 0, name, desc;
  while ((off = gelf_getnote(d, off, &nh, &name, &desc)) > 0) {
    if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
        memcmp((const char *)d->d_buf + name, "GNU", 4) != 0)
      continue;
    GString *hex = g_string_new(NULL);
    for (guint i = 0; i < nh.n_descsz; i++)
      g_string_append_printf(hex, "%02x", ((const guint8 *)d->d_buf)[desc + i]);
    return g_string_free(hex, FALSE);
  }
  return NULL;
}

gboolean nl_elf_file_info(const char *path, gboolean *symtab, char **build_id) {
  static gsize init;
  if (g_once_init_enter(&init)) g_once_init_leave(&init, elf_version(EV_CURRENT) + 1);
  *symtab = FALSE;
  *build_id = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FALSE;
  /* ELF_C_READ reads what is asked for, when it is asked for: a vmlinux
   * with debug info is hundreds of MB, of which only the section headers
   * and the notes are read. */
  Elf *e = elf_begin(fd, ELF_C_READ, NULL);
  gboolean elf = e && elf_kind(e) == ELF_K_ELF && gelf_getclass(e) == ELFCLASS64;
  for (Elf_Scn *scn = NULL; elf && (scn = elf_nextscn(e, scn));) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    if (sh.sh_type == SHT_SYMTAB && sh.sh_size > sizeof(Elf64_Sym)) *symtab = TRUE;
    Elf_Data *d = NULL;
    if (sh.sh_type == SHT_NOTE && !*build_id && sh.sh_size < (1 << 20) &&
        (d = elf_getdata(scn, NULL)))
      *build_id = note_build_id(d);
  }
  if (e) elf_end(e);
  close(fd);
  return elf;
}
