#include "vm.h"

#include <string.h>

#include "layout.h"
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

gboolean nl_vm_check_name(const char *node, GError **error) {
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
  if (!nl_vm_check_name(node, error)) return NULL;
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

char *nl_vm_host(const NlVm *vm) {
  g_autofree char *key = g_strconcat("host.", vm->node, NULL);
  char *host = nl_state_get(vm->st, key);
  return host ? g_strchomp(host) : NULL;
}
