#include "attach.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "kernel.h"
#include "lab.h"
#include "sandbox.h"
#include "layout.h"
#include "logkeep.h"
#include "util.h"

/* As lab.conf allows: also keeps a name from walking out of the state
 * directory. */
static gboolean valid_node(const char *s) {
  gsize n = strlen(s);
  if (n == 0 || n > 30) return FALSE;
  for (; *s; s++)
    if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '_') return FALSE;
  return TRUE;
}

static gboolean check_node(const char *node, GError **error) {
  if (valid_node(node)) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "'%s' is not a VM name", node);
  return FALSE;
}

GPtrArray *nl_vm_names(const NlState *st) {
  g_autofree char *dir = nl_layout_vms(st->dir);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (d && (n = g_dir_read_name(d)))
    if (valid_node(n)) g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, nl_strv_cmp);
  return names;
}

void nl_vm_free(NlVm *vm) {
  if (!vm) return;
  g_free(vm->labdir);
  g_free(vm->node);
  nl_state_free(vm->st);
  nl_layout_vm_clear(&vm->paths);
  g_free(vm);
}

NlVm *nl_vm_find(const char *labdir, const char *node, GError **error) {
  if (!check_node(node, error)) return NULL;
  g_autoptr(NlState) st = nl_state_for(labdir, error);
  if (!st) return NULL;
  if (!nl_state_exists(st)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", labdir);
    return NULL;
  }
  g_autoptr(NlVm) vm = g_new0(NlVm, 1);
  vm->labdir = g_strdup(labdir);
  vm->node = g_strdup(node);
  nl_layout_vm(&vm->paths, st->dir, labdir, node);
  if (!g_file_test(vm->paths.dir, G_FILE_TEST_IS_DIR)) {
    g_autoptr(GPtrArray) names = nl_vm_names(st);
    g_ptr_array_add(names, NULL);
    g_autofree char *list = g_strjoinv(", ", (char **)names->pdata);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' has no VM '%s' (its VMs: %s)", labdir,
                node, *list ? list : "none");
    return NULL;
  }
  vm->st = g_steal_pointer(&st);
  return g_steal_pointer(&vm);
}

/* How long a console taken over with --force has to let go, after SIGTERM
 * and again after SIGKILL, and how often to look. */
#define TAKEOVER_MS 2000
#define TAKEOVER_POLL_MS 10

static gboolean lock_taken(gpointer fd) { return flock(*(int *)fd, LOCK_EX | LOCK_NB) == 0; }

/* QEMU's socket chardev serves one client; a second connection waits
 * silently in the listen queue. So attached consoles hold a lock, which
 * holds their pid for a clear refusal or for --force to stop them. */
static int console_lock(const NlVm *vm, gboolean force, GError **error) {
  g_autofree char *path = g_strdup(vm->paths.console_lock);
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot open '%s': %s", path, g_strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    int pid = atoi(text);
    if (!force) {
      close(fd);
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "the console of '%s' is in use by another netlab console (pid %d): "
                  "detach that one, or take over with --force",
                  vm->node, pid);
      return -1;
    }
    if (pid > 0) kill(pid, SIGTERM);
    /* It restores its terminal and exits at once, unless it is stuck. */
    gboolean got = nl_wait_until(lock_taken, &fd, TAKEOVER_MS, TAKEOVER_POLL_MS);
    if (!got && pid > 0) {
      kill(pid, SIGKILL);
      got = nl_wait_until(lock_taken, &fd, TAKEOVER_MS, TAKEOVER_POLL_MS);
    }
    if (!got) {
      close(fd);
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "cannot take over the console of '%s' from pid %d", vm->node, pid);
      return -1;
    }
  }
  g_autofree char *me = g_strdup_printf("%d\n", (int)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me, strlen(me), 0) < 0) {
    /* Only informative: the lock holds without it. */
  }
  return fd;
}

/* After stdin ends, console output is read until it is quiet this long,
 * or for DRAIN_MAX_US at most (a command piped in may print forever). */
#define QUIET_US (500 * 1000)
#define DRAIN_MAX_US (5 * 1000 * 1000)
/* A guest that takes no console input for this long is not going to. */
#define STUCK_US (10 * 1000 * 1000)
/* Input not yet taken by QEMU, which reads only as fast as the guest's UART
 * drains; past this much, stdin waits. */
#define TOSOCK_MAX (64 * 1024)
#define ESCAPE 0x1d /* Ctrl-] */

typedef enum { END_ESCAPE, END_INPUT, END_CLOSED, END_SIGNAL, END_OUTPUT } End;

typedef struct {
  const char *node;
  int sock, sigfd;
  gboolean tty;
  struct signalfd_siginfo sig;
} Relay;

static End relay(Relay *r, GError **error) {
  g_autoptr(GByteArray) tosock = g_byte_array_new();
  gboolean in_open = TRUE, escaped = FALSE;
  gint64 drain_start = 0, last_out = 0, stuck_since = 0;
  int last_unread = 0;
  char buf[8192];
  for (;;) {
    int timeout = -1, unread = 0;
    gint64 now = g_get_monotonic_time();
    /* QEMU drops what it has not read yet when the client goes, and reads
     * only as fast as the guest drains its UART: the drain starts once
     * the socket is empty. */
    if (!in_open && tosock->len == 0 && ioctl(r->sock, SIOCOUTQ, &unread) == 0 && unread > 0) {
      if (unread != last_unread) stuck_since = now;
      last_unread = unread;
      if (now - stuck_since > STUCK_US) {
        g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                    "'%s' has not read its console input for %d s (is it paused?)", r->node,
                    STUCK_US / 1000000);
        return END_CLOSED;
      }
      timeout = 20;
    } else if (!in_open && tosock->len == 0) {
      if (!drain_start) drain_start = last_out = now;
      gint64 left = MIN(last_out + QUIET_US, drain_start + DRAIN_MAX_US) - now;
      if (left <= 0) return END_INPUT;
      timeout = (int)(left / 1000) + 1;
    }
    struct pollfd p[3] = {
        {r->sock, POLLIN | (tosock->len ? POLLOUT : 0), 0},
        {r->sigfd, POLLIN, 0},
        {in_open && tosock->len < TOSOCK_MAX ? STDIN_FILENO : -1, POLLIN, 0},
    };
    if (poll(p, G_N_ELEMENTS(p), timeout) < 0) {
      if (errno == EINTR) continue;
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "poll: %s", g_strerror(errno));
      return END_CLOSED;
    }
    if (p[1].revents & POLLIN) {
      if (read(r->sigfd, &r->sig, sizeof r->sig) == sizeof r->sig && r->sig.ssi_signo != SIGWINCH)
        return END_SIGNAL;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(r->sock, buf, sizeof buf);
      if (n > 0) {
        if (!nl_write_all(STDOUT_FILENO, buf, n)) return END_OUTPUT;
        last_out = g_get_monotonic_time();
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return END_CLOSED;
      }
    }
    if ((p[0].revents & POLLOUT) && tosock->len) {
      ssize_t n = write(r->sock, tosock->data, tosock->len);
      if (n > 0)
        g_byte_array_remove_range(tosock, 0, n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        return END_CLOSED;
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        const char *esc = r->tty ? memchr(buf, ESCAPE, n) : NULL;
        if (esc) {
          n = esc - buf;
          escaped = TRUE;
        }
        g_byte_array_append(tosock, (guint8 *)buf, n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_open = FALSE;
        /* A terminal that hangs up is gone: nothing to wait for. */
        if (r->tty) return END_INPUT;
      }
    }
    if (escaped) {
      /* What was typed before the escape still goes, if QEMU takes it now. */
      if (tosock->len && write(r->sock, tosock->data, tosock->len) < 0) {
        /* Detaching anyway. */
      }
      return END_ESCAPE;
    }
  }
}

gboolean nl_console_attach(const NlVm *vm, gboolean force, const NlProgress *say, GError **error) {
  int lock = console_lock(vm, force, error);
  if (lock < 0) return FALSE;
  g_autoptr(GError) local = NULL;
  int sock = nl_qemu_connect(vm->paths.console, &local);
  if (sock < 0) {
    gboolean down = errno == ECONNREFUSED || errno == ENOENT;
    close(lock);
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot attach to the console of '%s': %s%s",
                vm->node, local->message, down ? " (is the VM running?)" : "");
    return FALSE;
  }
  /* Only the socket is non-blocking: stdin and stdout may share their file
   * description with the shell, which must not find it changed. */
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);

  /* Signals arrive as data, so the terminal is always put back. */
  sigset_t mask, old;
  sigemptyset(&mask);
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
  for (gsize i = 0; i < G_N_ELEMENTS(sigs); i++) sigaddset(&mask, sigs[i]);
  sigprocmask(SIG_BLOCK, &mask, &old);
  Relay r = {.node = vm->node, .sock = sock, .sigfd = signalfd(-1, &mask, SFD_CLOEXEC)};

  struct termios saved;
  r.tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (r.tty) {
    nl_say(say, NL_SAY_PROGRESS, "Connected to %s (escape character is ^])", vm->node);
    struct termios raw = saved;
    cfmakeraw(&raw);
    tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
  }
  End end = relay(&r, error);
  if (r.tty) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);

  close(r.sigfd);
  close(sock);
  close(lock);
  sigprocmask(SIG_SETMASK, &old, NULL);
  switch (end) {
    case END_ESCAPE: nl_say(say, NL_SAY_PROGRESS, "%s", ""); break;
    case END_CLOSED:
      if (error && *error) return FALSE;
      /* A raw terminal's cursor may be anywhere on its line. */
      if (r.tty) nl_say(say, NL_SAY_PROGRESS, "%s", "");
      nl_say(say, NL_SAY_NOTICE, "the console of '%s' closed: the VM stopped", vm->node);
      break;
    case END_SIGNAL:
      if (r.sig.ssi_signo != SIGTERM) break;
      if (r.tty) nl_say(say, NL_SAY_PROGRESS, "%s", "");
      nl_say(say, NL_SAY_NOTICE, "detached from '%s' by pid %u (another console took over?)",
             vm->node, r.sig.ssi_pid);
      break;
    case END_INPUT:
    case END_OUTPUT: break;
  }
  return TRUE;
}

/* The files of the console log LOG in the order they were written: its
 * head, then the two parts of its tail, the older first (logkeep.h). */
typedef struct {
  char *path[3];
} LogParts;

static void log_parts(const char *log, LogParts *l) {
  l->path[0] = g_strdup(log);
  char *a = nl_layout_console_part(log, 1), *b = nl_layout_console_part(log, 2);
  struct stat sa, sb;
  gboolean a_first =
      stat(b, &sb) != 0 ||
      (stat(a, &sa) == 0 &&
       (sa.st_mtim.tv_sec < sb.st_mtim.tv_sec ||
        (sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec <= sb.st_mtim.tv_nsec)));
  l->path[1] = a_first ? a : b;
  l->path[2] = a_first ? b : a;
}

static void log_parts_clear(LogParts *l) {
  for (int i = 0; i < 3; i++) g_free(l->path[i]);
}

guint64 nl_console_log_cut(const char *log) {
  g_autofree char *path = nl_layout_console_cut(log);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL)) return 0;
  return g_ascii_strtoull(text, NULL, 10);
}

/* Copies FD from POS to its end to OUT; FALSE when OUT is closed. */
static gboolean copy_from(int fd, off_t *pos, int out) {
  char buf[65536];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, *pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return TRUE;
    /* A closed stdout (`| head`) just ends the listing. */
    if (!nl_write_all(out, buf, n)) return FALSE;
    *pos += n;
  }
}

static char *cut_mark(guint64 cut) {
  return g_strdup_printf("\n[netlab: %" G_GUINT64_FORMAT
                         " bytes of this console were cut here, to keep its log within "
                         "%u MiB]\n",
                         cut, (NL_LOG_HEAD + 2 * NL_LOG_TAIL) >> 20);
}

gboolean nl_console_log_write(const char *log, int out) {
  LogParts l;
  log_parts(log, &l);
  gboolean ok = TRUE;
  guint64 cut = nl_console_log_cut(log);
  for (int i = 0; ok && i < 3; i++) {
    int fd = open(l.path[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    off_t pos = 0;
    ok = copy_from(fd, &pos, out);
    close(fd);
    if (ok && i == 0 && cut) {
      g_autofree char *mark = cut_mark(cut);
      ok = nl_write_all(out, mark, strlen(mark));
    }
  }
  log_parts_clear(&l);
  return ok;
}

gboolean nl_console_log(const char *labdir, const char *node, gboolean follow, GError **error) {
  if (!check_node(node, error)) return FALSE;
  g_autofree char *path = nl_layout_console_log(labdir, node);
  struct stat head;
  if (stat(path, &head) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "no console log of '%s' in '%s' (was the lab ever up?): %s", node, labdir,
                g_strerror(errno));
    return FALSE;
  }
  if (!nl_console_log_write(path, STDOUT_FILENO) || !follow) return TRUE;
  /* Followed by file: what was printed of each (by inode), printed on as
   * each grows; a part emptied for reuse, or a file a new `up` made,
   * starts over. Polling is simple and survives files being replaced. */
  struct {
    ino_t ino;
    off_t pos;
  } seen[3] = {{0}};
  gboolean first = TRUE;
  for (;;) {
    LogParts l;
    log_parts(path, &l);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < 3; i++) {
      int fd = open(l.path[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      struct stat st;
      if (fd < 0) continue;
      if (fstat(fd, &st) == 0) {
        /* Slots by file name, whatever the order of the tail's parts. */
        int slot = i == 0 ? 0 : g_str_has_suffix(l.path[i], ".1") ? 1 : 2;
        if (seen[slot].ino != st.st_ino || st.st_size < seen[slot].pos) {
          seen[slot].ino = st.st_ino;
          seen[slot].pos = first ? st.st_size : 0;
        }
        ok = copy_from(fd, &seen[slot].pos, STDOUT_FILENO);
      }
      close(fd);
    }
    log_parts_clear(&l);
    if (!ok) return TRUE;
    first = FALSE;
    g_usleep(200 * 1000);
  }
}

/* ---- kernel symbols ---- */

void nl_kernel_syms_free(NlKernelSyms *k) {
  if (!k) return;
  g_free(k->kernel);
  g_free(k->version);
  g_free(k->vmlinux);
  g_free(k->scripts);
  g_free(k);
}

/* The command line of the QEMU that serves the GDB socket SOCK, or NULL. */
typedef struct {
  gboolean elf;
  gboolean symtab; /* has a non-empty .symtab */
  char *build_id;  /* hex, or NULL */
} ElfInfo;

static void elf_info_clear(ElfInfo *e) { g_free(e->build_id); }
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ElfInfo, elf_info_clear)

static char *note_build_id(const guint8 *d, gsize len) {
  gsize off = 0;
  while (off + sizeof(Elf64_Nhdr) <= len) {
    const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(d + off);
    gsize name = off + sizeof *nh;
    gsize desc = name + ((nh->n_namesz + 3) & ~3u);
    gsize next = desc + ((nh->n_descsz + 3) & ~3u);
    if (next > len || next <= off) break;
    if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(d + name, "GNU", 4) == 0) {
      GString *hex = g_string_new(NULL);
      for (guint i = 0; i < nh->n_descsz; i++) g_string_append_printf(hex, "%02x", d[desc + i]);
      return g_string_free(hex, FALSE);
    }
    off = next;
  }
  return NULL;
}

/* Reads only the headers: a vmlinux with debug info is hundreds of MB. */
static void elf_info(const char *path, ElfInfo *e) {
  memset(e, 0, sizeof *e);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof eh, 0) == sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_shentsize == sizeof(Elf64_Shdr) &&
      eh.e_shnum > 0) {
    e->elf = TRUE;
    g_autofree Elf64_Shdr *sh = g_new(Elf64_Shdr, eh.e_shnum);
    gsize size = (gsize)eh.e_shnum * sizeof *sh;
    if (pread(fd, sh, size, eh.e_shoff) == (ssize_t)size) {
      for (guint i = 0; i < eh.e_shnum; i++) {
        if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_size > sizeof(Elf64_Sym)) e->symtab = TRUE;
        if (sh[i].sh_type == SHT_NOTE && !e->build_id && sh[i].sh_size < (1 << 20)) {
          g_autofree guint8 *notes = g_malloc(sh[i].sh_size);
          if (pread(fd, notes, sh[i].sh_size, sh[i].sh_offset) == (ssize_t)sh[i].sh_size)
            e->build_id = note_build_id(notes, sh[i].sh_size);
        }
      }
    }
  }
  close(fd);
}

/* The version in the kernel's banner ("Linux version 6.1.0-56-amd64 (...)"),
 * or, for a bzImage, in its boot header. */
static char *kernel_version(const char *path) {
  g_autoptr(GMappedFile) m = g_mapped_file_new(path, FALSE, NULL);
  if (!m) return NULL;
  const char *d = g_mapped_file_get_contents(m);
  gsize len = g_mapped_file_get_length(m);
  if (len > 0x210 && memcmp(d + 0x202, "HdrS", 4) == 0)
    return nl_kernel_bzimage_version((const guint8 *)d, len);
  static const char tag[] = "Linux version ";
  for (const char *p = d; (p = memmem(p, len - (p - d), tag, sizeof tag - 1));
       p += sizeof tag - 1) {
    const char *v = p + sizeof tag - 1, *end = d + len;
    if (v >= end || !g_ascii_isdigit(*v)) continue;
    const char *e = v;
    while (e < end && e - v < 64 && *e > ' ' && *e < 127) e++;
    return g_strndup(v, e - v);
  }
  return NULL;
}

/* The kernel image the lab names for NODE (node's, else the lab's), or NULL
 * for the host's. `up --kernel` is not recorded: that one is not found. */
static char *lab_kernel(const char *labdir, const char *node) {
  g_autoptr(NlLab) lab = nl_lab_load(labdir, NULL, NULL);
  if (!lab) return NULL;
  const NlNode *n = nl_lab_find_node(lab, node);
  return g_strdup(n && n->kernel ? n->kernel : lab->kernel);
}

char *nl_vm_host(const NlVm *vm) {
  g_autofree char *key = g_strconcat("host.", vm->node, NULL);
  char *host = nl_state_get(vm->st, key);
  return host ? g_strchomp(host) : NULL;
}

NlKernelSyms *nl_kernel_syms(const NlVm *vm, GError **error) {
  /* What up recorded, never what a process's arguments say: any local user
   * can start a process that names this VM's sockets. */
  g_autofree char *key = g_strconcat("kernel.", vm->node, NULL);
  g_autofree char *host = nl_vm_host(vm);
  if (!host && !nl_proc_alive(vm->st, "qemu", vm->node)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "VM '%s' of lab '%s' is not running (its QEMU is gone)", vm->node, vm->labdir);
    return NULL;
  }
  g_autoptr(NlKernelSyms) k = g_new0(NlKernelSyms, 1);
  k->kernel = nl_state_get(vm->st, key);
  if (!k->kernel) return g_steal_pointer(&k);
  k->version = kernel_version(k->kernel);
  g_auto(ElfInfo) boot;
  elf_info(k->kernel, &boot);

  g_autoptr(GPtrArray) cand = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(cand, g_strdup(k->kernel));
  /* A built tree: its vmlinux is next to the image or a few levels up
   * (arch/x86/boot/bzImage). */
  g_autofree char *named = lab_kernel(vm->labdir, vm->node);
  if (named) {
    g_ptr_array_add(cand, g_strdup(named));
    g_autofree char *dir = g_path_get_dirname(named);
    for (int up = 0; up < 4; up++) {
      g_ptr_array_add(cand, g_build_filename(dir, "vmlinux", NULL));
      char *parent = g_path_get_dirname(dir);
      g_free(dir);
      dir = parent;
    }
  }
  if (boot.build_id && strlen(boot.build_id) > 2) {
    g_autofree char *file = g_strconcat(boot.build_id + 2, ".debug", NULL);
    g_autofree char *sub = g_strndup(boot.build_id, 2);
    g_ptr_array_add(cand, g_build_filename("/usr/lib/debug/.build-id", sub, file, NULL));
  }
  if (k->version) {
    g_autofree char *file = g_strconcat("vmlinux-", k->version, NULL);
    g_ptr_array_add(cand, g_build_filename("/usr/lib/debug/boot", file, NULL));
    g_ptr_array_add(cand,
                    g_build_filename("/usr/lib/debug/lib/modules", k->version, "vmlinux", NULL));
  }

  for (guint i = 0; i < cand->len && !k->vmlinux; i++) {
    const char *c = cand->pdata[i];
    g_auto(ElfInfo) e;
    elf_info(c, &e);
    /* Symbols of another build would name the wrong functions. */
    if (e.symtab && (!boot.build_id || !e.build_id || strcmp(boot.build_id, e.build_id) == 0))
      k->vmlinux = g_strdup(c);
  }
  if (k->vmlinux) {
    g_autofree char *dir = g_path_get_dirname(k->vmlinux);
    /* The tree's vmlinux-gdb.py (a link to scripts/gdb/ made by the build)
     * brings lx-dmesg, lx-ps, lx-symbols... */
    g_autofree char *top = g_build_filename(dir, "vmlinux-gdb.py", NULL);
    g_autofree char *src = g_build_filename(dir, "scripts", "gdb", "vmlinux-gdb.py", NULL);
    if (g_file_test(top, G_FILE_TEST_EXISTS))
      k->scripts = g_steal_pointer(&top);
    else if (g_file_test(src, G_FILE_TEST_EXISTS))
      k->scripts = g_steal_pointer(&src);
  }
  return g_steal_pointer(&k);
}

gboolean nl_tmux(const char *const *argv, GError **error) {
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_strv_builder_add(b, "tmux");
  g_strv_builder_addv(b, (const char **)argv);
  g_auto(GStrv) full = g_strv_builder_end(b);
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;
  if (!g_spawn_sync(NULL, full, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                    NULL, &err, &status, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot run tmux: %s", local->message);
    return FALSE;
  }
  if (g_spawn_check_wait_status(status, NULL)) return TRUE;
  g_strstrip(err);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "tmux %s: %s", argv[0], *err ? err : "failed");
  return FALSE;
}

gboolean nl_tmux_open(const char *labdir, const NlState *st, const NlProgress *say,
                      GError **error) {
  g_autoptr(GPtrArray) vms = nl_vm_names(st);
  if (!nl_state_exists(st) || vms->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "lab '%s' is not up", labdir);
    return FALSE;
  }
  /* tmux takes '.' and ':' in a target as window and pane separators; the
   * lab id has neither. */
  g_autofree char *session = g_strconcat("netlab-", st->id, NULL);
  g_autofree char *exact = g_strconcat("=", session, NULL);
  if (!nl_tmux((const char *[]){"has-session", "-t", exact, NULL}, NULL)) {
    /* The windows run this very netlab, wherever it was started from. */
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *qself = g_shell_quote(self ? self : "netlab");
    g_autofree char *qlab = g_shell_quote(labdir);
    g_autofree char *next = g_strconcat(session, ":", NULL);
    /* Kathará's num_terms and shell, from the lab as it is now. */
    g_autoptr(NlLab) lab = nl_lab_load(labdir, NULL, NULL);
    gboolean created = FALSE;
    for (guint i = 0; i < vms->len; i++) {
      const char *vm = vms->pdata[i];
      const NlNode *node = lab ? nl_lab_find_node(lab, vm) : NULL;
      int terms = node && node->num_terms >= 0 ? node->num_terms : 1;
      for (int t = 0; t < terms; t++) {
        /* A refused attach (another console has the VM) stays readable.
         * The console is one client at a time: the other terminals are
         * shells through the agent. */
        g_autofree char *cmd =
            t == 0 ? g_strdup_printf("%s console -d %s %s", qself, qlab, vm)
                   : g_strdup_printf("%s exec -t --dir %s %s -- %s", qself, qlab, vm,
                                     node && node->shell ? node->shell : "bash");
        g_autofree char *shown =
            g_strconcat(cmd, " || read -r -p 'netlab: press Enter to close' _", NULL);
        g_autofree char *name = t == 0 ? g_strdup(vm) : g_strdup_printf("%s-%d", vm, t + 1);
        const char *create[] = {"new-session", "-d", "-s", session, "-n", name, shown, NULL};
        const char *add[] = {"new-window", "-d", "-t", next, "-n", name, shown, NULL};
        if (!nl_tmux(created ? add : create, error)) return FALSE;
        created = TRUE;
      }
    }
    if (!created) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                  "every node of '%s' has num_terms=0: no terminal to open", labdir);
      return FALSE;
    }
  }
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    nl_say(say, NL_SAY_PROGRESS, "tmux session '%s' has a window per VM: tmux attach -t %s",
           session, session);
    return TRUE;
  }
  fflush(stdout);
  const char *attach[] = {"tmux", g_getenv("TMUX") ? "switch-client" : "attach-session", "-t",
                          exact, NULL};
  execvp(attach[0], (char **)attach);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot run tmux: %s", g_strerror(errno));
  return FALSE;
}

/* The last TAIL_READ bytes of the log LOG, across its parts. */
#define TAIL_READ 16384

char *nl_log_tail(const char *path, guint lines) {
  LogParts l;
  log_parts(path, &l);
  GString *text = g_string_new(NULL);
  for (int i = 0; i < 3; i++) {
    int fd = open(l.path[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) continue;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
      off_t from = st.st_size > TAIL_READ ? st.st_size - TAIL_READ : 0;
      char buf[TAIL_READ];
      ssize_t n = pread(fd, buf, sizeof buf, from);
      if (n > 0) g_string_append_len(text, buf, n);
    }
    close(fd);
  }
  log_parts_clear(&l);
  if (text->len > TAIL_READ) g_string_erase(text, 0, text->len - TAIL_READ);
  /* The log is the guest's output: only its end is read, without what a
   * terminal would act upon. */
  for (gsize i = 0; i < text->len; i++)
    if (!text->str[i]) text->str[i] = ' ';
  g_auto(GStrv) all = g_strsplit(text->str, "\n", -1);
  g_string_free(text, TRUE);
  guint n = g_strv_length(all);
  while (n > 0 && !*g_strstrip(all[n - 1])) n--;
  GString *s = g_string_new(NULL);
  for (guint i = n > lines ? n - lines : 0; i < n; i++) {
    for (char *c = all[i]; *c; c++)
      if ((guchar)*c < ' ' || *c == 0x7f) *c = ' ';
    g_string_append_printf(s, "%s%s", s->len ? "\n" : "", all[i]);
  }
  return g_string_free(s, FALSE);
}

char *nl_vm_why_stopped(const NlState *st, const char *domain, const char *log) {
  g_autofree char *tail = nl_log_tail(log, 40);
  const char *panic = strstr(tail, "Kernel panic");
  if (panic) {
    const char *end = strchr(panic, '\n');
    return g_strdup_printf("kernel panic (%.*s)", (int)(end ? end - panic : 120), panic);
  }
  /* libvirt notes how each QEMU ended in the domain's log. */
  g_autofree char *qlog = nl_layout_qemu_log(st->dir, domain);
  g_autofree char *text = NULL;
  g_file_get_contents(qlog, &text, NULL, NULL);
  const char *r = NULL;
  for (const char *p = text; p && (p = strstr(p, "shutting down, reason=")); p++)
    r = p + strlen("shutting down, reason=");
  if (r && g_str_has_prefix(r, "shutdown")) return g_strdup("the guest powered off");
  if (r && g_str_has_prefix(r, "destroyed")) return g_strdup("destroyed");
  if (r && g_str_has_prefix(r, "failed")) return g_strdup("its QEMU failed to start");
  /* "crashed", "unknown", or libvirt has not noticed yet. */
  return g_strdup("its QEMU ended unexpectedly (killed, or crashed)");
}
