/* netlab monitor: QEMU's human monitor of a VM, through libvirt: one
 * command given on the command line, or a prompt. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "cmd.h"
#include "util.h"
#include "virt.h"

/* The lab's lock, and libvirt's embedded driver, which stays with this
 * process until it ends: a prompt runs each of its commands in a child. */
static char *hmp(const NlVm *vm, const char *command, GError **error) {
  g_autoptr(NlState) st = nl_state_for(vm->labdir, error);
  if (!st || !nl_state_lock(st, FALSE, error)) return NULL;
  g_autofree char *uri = nl_state_get(st, "uri");
  g_autoptr(NlVirt) virt = nl_virt_open(uri, st->dir, error);
  if (!virt) return NULL;
  g_autofree char *domain = nl_domain_name(virt, st->id, vm->node);
  return nl_virt_hmp(virt, domain, command, error);
}

/* HMP answers with CRLF line ends. */
static void print_reply(const char *text) {
  g_auto(GStrv) parts = g_strsplit(text, "\r\n", -1);
  g_autofree char *out = g_strjoinv("\n", parts);
  fputs(out, stdout);
  if (*out && !g_str_has_suffix(out, "\n")) fputc('\n', stdout);
  fflush(stdout);
}

static int prompt(const NlVm *vm) {
  gboolean tty = isatty(STDIN_FILENO);
  if (tty)
    fprintf(stderr,
            "QEMU monitor of %s: 'help' lists commands; 'exit' or Ctrl-D leaves "
            "(and 'quit' stops the VM)\n",
            vm->node);
  int rc = 0;
  g_autofree char *line = NULL;
  size_t cap = 0;
  for (;;) {
    if (tty) {
      fputs("(qemu) ", stdout);
      fflush(stdout);
    }
    if (getline(&line, &cap, stdin) < 0) break;
    g_strstrip(line);
    if (!*line) continue;
    if (strcmp(line, "exit") == 0) break;
    /* Each in a child of its own (util.h), which prints its reply or
     * error: an open prompt keeps no other command of the lab out. */
    if (!nl_monitor_child(vm->labdir, vm->node, line, NULL, NULL)) rc = 1;
  }
  if (tty) fputc('\n', stdout);
  return rc;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g, "VM [COMMAND...]: QEMU's monitor of a VM", entries, &argc, &argv, &t, error))
    return -1;
  if (argc < 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "monitor: usage: netlab monitor [-d LABDIR] VM [[--] COMMAND...]");
    return -1;
  }
  NlVm *vm = t.vm;

  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (int i = 2; i < argc; i++) g_strv_builder_add(b, argv[i]);
  for (char **w = t.rest; *w; w++) g_strv_builder_add(b, *w);
  g_auto(GStrv) words = g_strv_builder_end(b);
  if (!*words) return prompt(vm);

  g_autofree char *command = g_strjoinv(" ", words);
  g_autofree char *reply = hmp(vm, command, error);
  if (!reply) return -1;
  print_reply(reply);
  return 0;
}

const NlCmd nl_cmd_monitor = {"monitor",
                              NULL,
                              "QEMU's monitor of a VM: one command or a prompt",
                              .target = NL_TARGET_VM,
                              .dashes = TRUE,
                              .run = run};
