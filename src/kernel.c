#include "kernel.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
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
  if (strchr(value, '/') || g_file_test(path, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&path);
  g_autofree char *dir = nl_kernel_built_dir(value, NULL);
  g_autofree char *vmlinux = dir ? g_build_filename(dir, "vmlinux", NULL) : NULL;
  if (vmlinux && g_file_test(vmlinux, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&vmlinux);
  return g_steal_pointer(&path);
}

gboolean nl_elf_has_pvh(const guint8 *data, gsize len) {
  if (len < sizeof(Elf64_Ehdr) || memcmp(data, ELFMAG, SELFMAG) != 0 ||
      data[EI_CLASS] != ELFCLASS64)
    return FALSE;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
  for (guint i = 0; i < eh->e_phnum; i++) {
    gsize off = eh->e_phoff + (gsize)i * eh->e_phentsize;
    if (off + sizeof(Elf64_Phdr) > len) return FALSE;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + off);
    if (ph->p_type != PT_NOTE || ph->p_offset + ph->p_filesz > len) continue;
    gsize p = ph->p_offset, end = ph->p_offset + ph->p_filesz;
    while (p + sizeof(Elf64_Nhdr) <= end) {
      const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(data + p);
      gsize name = p + sizeof(Elf64_Nhdr);
      gsize desc = name + ((nh->n_namesz + 3) & ~3u);
      /* XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit entry point QEMU uses for PVH. */
      if (nh->n_type == 18 && nh->n_namesz == 4 && name + 4 <= end &&
          memcmp(data + name, "Xen", 4) == 0)
        return TRUE;
      p = desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
  return FALSE;
}

static gboolean all_zero(const guint8 *p, gsize n) {
  for (gsize i = 0; i < n; i++)
    if (p[i]) return FALSE;
  return TRUE;
}

gsize nl_elf_trim_zeros(guint8 *data, gsize len) {
  if (len < sizeof(Elf64_Ehdr) || memcmp(data, ELFMAG, SELFMAG) != 0 ||
      data[EI_CLASS] != ELFCLASS64)
    return 0;
  Elf64_Ehdr *eh = (Elf64_Ehdr *)data;
  if (eh->e_phoff + (gsize)eh->e_phnum * sizeof(Elf64_Phdr) > len ||
      eh->e_shoff + (gsize)eh->e_shnum * sizeof(Elf64_Shdr) > len ||
      eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_shentsize != sizeof(Elf64_Shdr))
    return 0;
  Elf64_Phdr *ph = (Elf64_Phdr *)(data + eh->e_phoff);
  Elf64_Shdr *sh = (Elf64_Shdr *)(data + eh->e_shoff);
  gsize saved = 0;
  for (guint i = 0; i < eh->e_phnum; i++) {
    Elf64_Phdr *seg = &ph[i];
    if (seg->p_type != PT_LOAD || seg->p_offset + seg->p_filesz > len) continue;
    /* The segment's file bytes must hold everything up to the end of its
     * last section with content. */
    guint64 keep = 0;
    for (guint j = 0; j < eh->e_shnum; j++) {
      Elf64_Shdr *s = &sh[j];
      if (!(s->sh_flags & SHF_ALLOC) || s->sh_type == SHT_NOBITS ||
          s->sh_addr < seg->p_vaddr || s->sh_addr + s->sh_size > seg->p_vaddr + seg->p_filesz ||
          s->sh_offset + s->sh_size > len)
        continue;
      if (!all_zero(data + s->sh_offset, s->sh_size))
        keep = MAX(keep, s->sh_addr + s->sh_size - seg->p_vaddr);
    }
    /* Bytes between sections (alignment padding) count: keep them unless
     * they are zeros at the very end. */
    if (keep >= seg->p_filesz ||
        !all_zero(data + seg->p_offset + keep, seg->p_filesz - keep))
      continue;
    for (guint j = 0; j < eh->e_shnum; j++) {
      Elf64_Shdr *s = &sh[j];
      if ((s->sh_flags & SHF_ALLOC) && s->sh_type != SHT_NOBITS &&
          s->sh_addr >= seg->p_vaddr + keep &&
          s->sh_addr + s->sh_size <= seg->p_vaddr + seg->p_filesz)
        s->sh_type = SHT_NOBITS;
    }
    saved += seg->p_filesz - keep;
    seg->p_filesz = keep;
  }
  return saved;
}

/* The version string a bzImage carries in its setup header ("HdrS"). */
static char *bzimage_version(const guint8 *d, gsize len) {
  if (len < 0x210 || memcmp(d + 0x202, "HdrS", 4) != 0) return NULL;
  gsize off = 0x200 + (d[0x20e] | d[0x20f] << 8);
  if (off >= len) return NULL;
  gsize end = off;
  while (end < len && end - off < 256 && d[end] && d[end] != ' ') end++;
  return g_strndup((const char *)d + off, end - off);
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
      {"\xfd" "7zXZ\0", 6, "xz"},
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
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
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

NlKernel *nl_kernel_find(const char *path, GError **error) {
  g_autoptr(NlKernel) k = g_new0(NlKernel, 1);
  k->path = path ? g_strdup(path) : nl_kbuild_default_vmlinux();
  if (!k->path) {
    k->path = newest_boot_kernel(error);
    if (!k->path) return NULL;
    k->distro = TRUE;
  }

  /* Mapped, not read: a vmlinux with debug info is hundreds of MB, of which
   * only the headers are looked at. */
  g_autoptr(GError) local = NULL;
  g_autoptr(GMappedFile) map = g_mapped_file_new(k->path, FALSE, &local);
  if (!map) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read kernel '%s': %s",
                k->path, local->message);
    return NULL;
  }
  const guint8 *d = (const guint8 *)g_mapped_file_get_contents(map);
  gsize len = g_mapped_file_get_length(map);

  if (nl_elf_has_pvh(d, len)) {
    /* A built tree's vmlinux: the tree says its release, and its modules
     * are installed under that name, if at all. */
    k->boot = g_strdup(k->path);
    g_autofree char *dir = g_path_get_dirname(k->path);
    g_autofree char *rel = g_build_filename(dir, "include", "config", "kernel.release", NULL);
    if (g_file_get_contents(rel, &k->version, NULL, NULL)) {
      g_strchomp(k->version);
      g_autofree char *moddir = g_build_filename("/lib/modules", k->version, NULL);
      if (g_file_test(moddir, G_FILE_TEST_IS_DIR)) k->moddir = g_steal_pointer(&moddir);
    } else {
      k->version = g_path_get_basename(k->path);
    }
    return g_steal_pointer(&k);
  }

  k->version = bzimage_version(d, len);
  if (!k->version) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "'%s' is neither a bzImage nor an ELF kernel with a PVH entry",
                k->path);
    return NULL;
  }
  g_autofree char *moddir = g_build_filename("/lib/modules", k->version, NULL);
  if (g_file_test(moddir, G_FILE_TEST_IS_DIR)) k->moddir = g_steal_pointer(&moddir);

  g_autofree char *cache = nl_cache_dir(error);
  if (!cache) return NULL;
  struct stat st;
  if (stat(k->path, &st) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot stat '%s': %s", k->path,
                g_strerror(errno));
    return NULL;
  }
  /* The last part changes with what netlab does to the image, so that an
   * older netlab's copy is not booted. */
  g_autofree char *name = g_strdup_printf("vmlinux-%s-%lld-%lld-2", k->version,
                                          (long long)st.st_size,
                                          (long long)st.st_mtime);
  g_autofree char *dir = g_build_filename(cache, "kernels", NULL);
  g_autofree char *elf = g_build_filename(dir, name, NULL);
  if (g_file_test(elf, G_FILE_TEST_EXISTS)) {
    k->boot = g_steal_pointer(&elf);
    return g_steal_pointer(&k);
  }
  g_autoptr(GBytes) out = extract_vmlinux(k->path, d, len);
  if (!out) {
    /* No PVH entry or no decompressor: boot the bzImage, only slower. */
    k->boot = g_strdup(k->path);
    return g_steal_pointer(&k);
  }
  gsize size = 0;
  guint8 *image = g_bytes_unref_to_data(g_steal_pointer(&out), &size);
  nl_elf_trim_zeros(image, size);
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create '%s': %s", dir,
                g_strerror(errno));
    g_free(image);
    return NULL;
  }
  gboolean ok = nl_write_file(elf, (const char *)image, size, 0644, error);
  g_free(image);
  if (!ok) return NULL;
  k->boot = g_steal_pointer(&elf);
  return g_steal_pointer(&k);
}
