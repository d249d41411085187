/* libFuzzer: the lab parser (lab.conf, then lab.dep after a line "%%"),
 * through nl_lab_load() on files in a private directory, as `up` reads
 * them. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "lab.h"

static char *dir, *conf, *dep;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  dir = g_dir_make_tmp("netlab-fuzz-lab.XXXXXX", NULL);
  conf = g_build_filename(dir, "lab.conf", NULL);
  dep = g_build_filename(dir, "lab.dep", NULL);
  /* Kernel names may be looked up in the cache: a private one. */
  g_autofree char *cache = g_build_filename(dir, "cache", NULL);
  g_setenv("XDG_CACHE_HOME", cache, TRUE);
  return 0;
}

/* Not g_file_set_contents(): it syncs to disk, a thousand times slower. */
static void put(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len) __builtin_trap();
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *sep = g_strstr_len(text, size, "\n%%\n");
  gsize conf_len = sep ? (gsize)(sep - text) : size;
  put(conf, text, conf_len);
  if (sep)
    put(dep, sep + 4, size - conf_len - 4);
  else
    g_remove(dep);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(NlLab) lab = nl_lab_load(dir, warnings, &error);
  /* Every node the model holds is found by its name. */
  for (guint i = 0; lab && i < lab->nodes->len; i++) {
    NlNode *node = g_ptr_array_index(lab->nodes, i);
    if (nl_lab_find_node(lab, node->name) != node) __builtin_trap();
  }
  if (!lab && !error) __builtin_trap();
  return 0;
}
