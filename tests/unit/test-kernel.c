/* The trimming of an extracted vmlinux's all-zero segment tails. */
#include <elf.h>
#include <glib.h>

#include "kernel.h"
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

static Image *image(guint8 last_byte) {
  Image *im = g_new0(Image, 1);
  memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
  im->eh.e_ident[EI_CLASS] = ELFCLASS64;
  im->eh.e_phoff = offsetof(Image, ph);
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
  TAP_OK(nl_elf_trim_zeros((guint8 *)full, sizeof *full) == 0 &&
             full->ph.p_filesz == END - TEXT && full->sh[3].sh_type == SHT_PROGBITS,
         "a segment whose last section has a non-zero byte is left alone, zeros before it too");

  guint8 junk[200] = "not an ELF";
  TAP_OK(nl_elf_trim_zeros(junk, sizeof junk) == 0, "something else is left alone");
  g_autofree Image *cut = image(0);
  TAP_OK(nl_elf_trim_zeros((guint8 *)cut, offsetof(Image, sh)) == 0 &&
             cut->ph.p_filesz == END - TEXT,
         "an image cut short of its section headers is left alone");

  return tap_done();
}
