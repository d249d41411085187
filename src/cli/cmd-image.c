/* netlab image ls|pull|rm|prune: the cache of container images nodes boot
 * on (image.h). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "image.h"

/* GLib's size, with a plain space: one a script can match. */
static char *size_text(guint64 bytes) {
  g_autofree char *s = g_format_size(bytes);
  g_auto(GStrv) parts = g_strsplit(s, "\u00a0", -1);
  return g_strjoinv(" ", parts);
}

static int image_ls(const char *cache, GError **error) {
  g_autoptr(GPtrArray) all = nl_image_list(cache, error);
  if (!all) return -1;
  if (all->len) printf("%-50s %-19s %s\n", "IMAGE", "DIGEST", "SIZE");
  for (guint i = 0; i < all->len; i++) {
    const NlImageEntry *e = all->pdata[i];
    g_autofree char *size = size_text(e->bytes);
    printf("%-50s %.19s %s\n", e->ref, e->digest, size);
  }
  return 0;
}

static int run(int argc, char **argv, const NlGlobal *g, GError **error) {
  g_auto(NlTarget) t = {0};
  const GOptionEntry entries[] = {{NULL}};
  if (!nl_cmd_parse(g,
                    "ls | pull REF... | rm REF... | prune: the cache of the images nodes boot on",
                    entries, &argc, &argv, &t, error))
    return -1;
  const char *verb = argc > 1 ? argv[1] : "ls";
  g_autofree char *cache = nl_image_cache_dir();
  gboolean refs = strcmp(verb, "pull") == 0 || strcmp(verb, "rm") == 0;
  if (refs ? argc < 3 : argc > 2) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                refs ? "image %s: which image?" : "image %s: unexpected argument", verb);
    return -1;
  }
  if (strcmp(verb, "ls") == 0) return image_ls(cache, error);
  if (strcmp(verb, "prune") == 0) {
    guint64 freed = 0;
    if (!nl_image_prune(cache, &freed, &nl_cmd_say, error)) return -1;
    g_autofree char *size = size_text(freed);
    printf("%s freed\n", size);
    return 0;
  }
  if (!refs) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "image: unknown command '%s' (ls, pull, rm or prune)", verb);
    return -1;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(verb, "rm") == 0) {
      if (!nl_image_remove(cache, argv[i], error)) return -1;
      continue;
    }
    g_autofree char *rootfs = nl_image_pull(cache, argv[i], &nl_cmd_say, error);
    if (!rootfs) return -1;
    printf("%s\n", rootfs);
  }
  return 0;
}

const NlCmd nl_cmd_image = {"image", NULL, "list, pull and remove the images nodes boot on",
                            .target = NL_TARGET_NONE, .run = run};
