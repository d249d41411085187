/* The trimming of an extracted vmlinux's all-zero segment tails, the PVH
 * note finder, and both against crafted images whose offsets and sizes wrap
 * around or point past the end (run under ASan in CI, and fuzzed). */
#include <elf.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "kernel.h"
#include "util.h"
#include "tap.h"

/* An ELF with one loadable segment at 0x1000..0x5000 in the file, holding
 * .text (non-zero), .bss (NOBITS), .zeros (PROGBITS, zero) and .last, whose
 * contents LAST_BYTE decides. */
enum { TEXT = 0x1000, BSS = 0x2000, ZEROS = 0x3000, LAST = 0x4000, END = 0x5000 };
typedef struct {
  Elf64_Ehdr eh;
  Elf64_Phdr ph;
  guint8 pad[TEXT - sizeof(Elf64_Ehdr) - sizeof(Elf64_Phdr)];
  guint8 body[END - TEXT];
  Elf64_Shdr sh[5];
} Image;

static void section(Elf64_Shdr *s, guint32 type, guint64 at) {
  s->sh_type = type;
  s->sh_flags = SHF_ALLOC;
  s->sh_addr = 0xffff0000 + at;
  s->sh_offset = at;
  s->sh_size = 0x1000;
}

/* An x86-64 ELF header whose program headers are at PHOFF. */
static void elf_header(Elf64_Ehdr *eh, size_t phoff) {
  memcpy(eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_ident[EI_DATA] = ELFDATA2LSB;
  eh->e_ident[EI_VERSION] = EV_CURRENT;
  eh->e_version = EV_CURRENT;
  eh->e_ehsize = sizeof(Elf64_Ehdr);
  eh->e_phoff = phoff;
}

static Image *image(guint8 last_byte) {
  Image *im = g_new0(Image, 1);
  elf_header(&im->eh, offsetof(Image, ph));
  im->eh.e_phnum = 1;
  im->eh.e_phentsize = sizeof(Elf64_Phdr);
  im->eh.e_shoff = offsetof(Image, sh);
  im->eh.e_shnum = 5;
  im->eh.e_shentsize = sizeof(Elf64_Shdr);
  im->ph.p_type = PT_LOAD;
  im->ph.p_offset = TEXT;
  im->ph.p_vaddr = 0xffff0000 + TEXT;
  im->ph.p_filesz = END - TEXT;
  im->ph.p_memsz = END - TEXT;
  memset(im->body, 0x90, 0x800); /* .text's first half */
  im->body[END - TEXT - 1] = last_byte;
  section(&im->sh[1], SHT_PROGBITS, TEXT);
  section(&im->sh[2], SHT_NOBITS, BSS);
  section(&im->sh[3], SHT_PROGBITS, ZEROS);
  section(&im->sh[4], SHT_PROGBITS, LAST);
  return im;
}

/* An ELF whose one PT_NOTE segment holds a Xen note of type TYPE. */
typedef struct {
  Elf64_Ehdr eh;
  Elf64_Phdr ph;
  Elf64_Nhdr nh;
  char name[4];
  guint32 desc;
} NoteImage;

static NoteImage *note_image(guint32 type) {
  NoteImage *im = g_new0(NoteImage, 1);
  elf_header(&im->eh, offsetof(NoteImage, ph));
  im->eh.e_phnum = 1;
  im->eh.e_phentsize = sizeof(Elf64_Phdr);
  im->ph.p_type = PT_NOTE;
  im->ph.p_offset = offsetof(NoteImage, nh);
  im->ph.p_filesz = sizeof *im - offsetof(NoteImage, nh);
  im->ph.p_align = 4;
  im->nh.n_namesz = 4;
  im->nh.n_descsz = 4;
  im->nh.n_type = type;
  memcpy(im->name, "Xen", 4);
  return im;
}

static void test_crafted(void) {
  g_autofree NoteImage *pvh = note_image(18);
  TAP_OK(nl_elf_has_pvh((guint8 *)pvh, sizeof *pvh), "a Xen note 18 is a PVH entry");
  g_autofree NoteImage *other = note_image(17);
  TAP_OK(!nl_elf_has_pvh((guint8 *)other, sizeof *other), "another Xen note is not");

  /* p_offset + p_filesz wraps to a small number: the old check passed it
   * and read 2^64 - 16 bytes past the image. */
  g_autofree NoteImage *wrap = note_image(18);
  wrap->ph.p_offset = G_MAXUINT64 - 15;
  wrap->ph.p_filesz = 32;
  TAP_OK(!nl_elf_has_pvh((guint8 *)wrap, sizeof *wrap),
         "a note segment whose end wraps is refused");
  g_autofree NoteImage *past = note_image(18);
  past->ph.p_filesz = 4096;
  TAP_OK(!nl_elf_has_pvh((guint8 *)past, sizeof *past),
         "a note segment past the end of the image is refused");
  g_autofree NoteImage *big = note_image(18);
  big->nh.n_namesz = G_MAXUINT32;
  big->nh.n_descsz = G_MAXUINT32 - 2;
  TAP_OK(!nl_elf_has_pvh((guint8 *)big, sizeof *big), "a note whose sizes wrap is refused");
  g_autofree NoteImage *phwrap = note_image(18);
  phwrap->eh.e_phoff = G_MAXUINT64 - 8;
  phwrap->eh.e_phnum = 0xffff;
  TAP_OK(!nl_elf_has_pvh((guint8 *)phwrap, sizeof *phwrap),
         "a program header table whose end wraps is refused");

  /* The trimmer writes into the image: wrapped tables must stop it. */
  g_autofree Image *tab = image(0);
  tab->eh.e_shoff = G_MAXUINT64 - sizeof(Elf64_Shdr) * 5 + 64;
  TAP_OK(nl_elf_trim_zeros((guint8 *)tab, sizeof *tab) == 0 && tab->ph.p_filesz == END - TEXT,
         "trim: a section table whose end wraps is left alone");
  g_autofree Image *sec = image(0);
  sec->sh[4].sh_offset = G_MAXUINT64 - 0x800;
  sec->sh[4].sh_addr = G_MAXUINT64 - 0x800;
  TAP_OK(nl_elf_trim_zeros((guint8 *)sec, sizeof *sec) == END - TEXT - 0x1000,
         "trim: a section whose offset and address wrap is not read");
  /* Found by fuzz-elf: two loadable segments over the same bytes, each
   * trimmed and counted, "saved" more than the image. */
  g_autofree char *path =
      g_build_filename(g_getenv("NETLAB_TEST_DATA"), "kernel", "overlapping-loads.elf", NULL);
  g_autofree gchar *overlap = NULL;
  gsize olen = 0;
  TAP_OK(g_file_get_contents(path, &overlap, &olen, NULL) &&
             nl_elf_trim_zeros((guint8 *)overlap, olen) == 0,
         "trim: segments that share file bytes are left alone");
  g_autofree Image *seg = image(0);
  seg->ph.p_offset = G_MAXUINT64 - 0x100;
  TAP_OK(nl_elf_trim_zeros((guint8 *)seg, sizeof *seg) == 0,
         "trim: a segment whose end wraps is left alone");
}

static void test_config_lacks(void) {
  static const char *const kgdb[] = {"CONFIG_KGDB", "CONFIG_KGDB_SERIAL_CONSOLE", NULL};
  TAP_OK(!nl_kernel_config_lacks("CONFIG_A=y\nCONFIG_KGDB=y\nCONFIG_KGDB_SERIAL_CONSOLE=y", kgdb),
         "config: both options built in, the last line without a newline");
  g_autofree char *off =
      nl_kernel_config_lacks("# CONFIG_KGDB is not set\nCONFIG_KGDB_SERIAL_CONSOLE=m\n", kgdb);
  TAP_OK(off && g_str_equal(off, "CONFIG_KGDB, CONFIG_KGDB_SERIAL_CONSOLE"),
         "config: unset and modular options are named (%s)", off);
  g_autofree char *prefix = nl_kernel_config_lacks("CONFIG_KGDB_SERIAL_CONSOLE=y\n", kgdb);
  TAP_OK(prefix && g_str_equal(prefix, "CONFIG_KGDB"),
         "config: an option is not found as the prefix of a longer one");
}

/* A tree's kernel.release names a directory of /lib/modules that root
 * packs from: one plain name, never a path out of it. */
static void test_release(void) {
  g_autofree char *dir = g_dir_make_tmp("test-kernel.XXXXXX", NULL);
  g_autofree NoteImage *pvh = note_image(18);
  g_autofree char *vmlinux = g_build_filename(dir, "vmlinux", NULL);
  g_autofree char *conf = g_build_filename(dir, "include", "config", NULL);
  g_autofree char *rel = g_build_filename(conf, "kernel.release", NULL);
  g_file_set_contents(vmlinux, (const char *)pvh, sizeof *pvh, NULL);
  g_mkdir_with_parents(conf, 0755);
  g_file_set_contents(rel, "../../../root\n", -1, NULL);
  g_autoptr(GError) e = NULL;
  NlKernel *k = nl_kernel_find(vmlinux, &e);
  g_autofree char *want = g_strdup_printf("%s:1: '../../../root' is not a kernel release", rel);
  TAP_OK(!k && e && g_str_has_prefix(e->message, want),
         "a kernel.release of '../../../root' is refused, naming the file and line (%s)",
         e ? e->message : "no error");
  if (k) nl_kernel_free(k);
  g_file_set_contents(rel, "6.1.0-netlab\n", -1, NULL);
  g_clear_error(&e);
  k = nl_kernel_find(vmlinux, &e);
  TAP_OK(k != NULL, "a plain release is taken (%s)", e ? e->message : "");
  if (k) nl_kernel_free(k);
  TAP_OK(nl_name_ok("6.1.0-18-amd64") && !nl_name_ok("..") && !nl_name_ok("a/b") &&
             !nl_name_ok("") && !nl_name_ok("a b"),
         "nl_name_ok: one plain name only");
  TAP_OK(nl_rel_path_ok("kernel/net/9p/9pnet.ko") && !nl_rel_path_ok("/etc/shadow") &&
             !nl_rel_path_ok("kernel/../../x") && !nl_rel_path_ok("..") &&
             !nl_rel_path_ok("a//b") && !nl_rel_path_ok(""),
         "nl_rel_path_ok: relative, no '.', '..' or empty component");
  g_unlink(rel);
  g_rmdir(conf);
  g_autofree char *inc = g_path_get_dirname(conf);
  g_rmdir(inc);
  g_unlink(vmlinux);
  g_rmdir(dir);
}

int main(void) {
  g_autofree Image *zero = image(0);
  gsize saved = nl_elf_trim_zeros((guint8 *)zero, sizeof *zero);
  TAP_OK(saved == END - TEXT - 0x1000, "saves the segment's zero tail (%#zx bytes)", saved);
  TAP_OK(zero->ph.p_filesz == 0x1000 && zero->ph.p_memsz == END - TEXT,
         "the segment ends after .text in the file, and keeps its size in memory");
  TAP_OK(zero->sh[3].sh_type == SHT_NOBITS && zero->sh[4].sh_type == SHT_NOBITS,
         "the zero sections after .text become NOBITS");
  TAP_OK(zero->sh[1].sh_type == SHT_PROGBITS, ".text stays PROGBITS");

  g_autofree Image *full = image(1);
  TAP_OK(nl_elf_trim_zeros((guint8 *)full, sizeof *full) == 0 && full->ph.p_filesz == END - TEXT &&
             full->sh[3].sh_type == SHT_PROGBITS,
         "a segment whose last section has a non-zero byte is left alone, zeros before it too");

  guint8 junk[200] = "not an ELF";
  TAP_OK(nl_elf_trim_zeros(junk, sizeof junk) == 0, "something else is left alone");
  g_autofree Image *cut = image(0);
  TAP_OK(
      nl_elf_trim_zeros((guint8 *)cut, offsetof(Image, sh)) == 0 && cut->ph.p_filesz == END - TEXT,
      "an image cut short of its section headers is left alone");

  test_crafted();
  test_release();
  test_config_lacks();
  return tap_done();
}
