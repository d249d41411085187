/* Post-mortem artifacts of nodes (see postmortem.h). /var/log is kept as a
 * tar archive, never unpacked on the host: its names and links are the
 * guest's. */
#include "postmortem.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "nodefile.h"
#include "util.h"

static int create(const char *dir, const char *node, const char *name, char **path) {
  g_autofree char *sub = g_build_filename(dir, node, NULL);
  g_mkdir_with_parents(sub, 0700);
  *path = g_build_filename(sub, name, NULL);
  return open(*path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
}

gboolean nl_postmortem(const char *labdir, char **nodes, const char *dir, GString *index,
                       GError **error) {
  g_autoptr(GPtrArray) files = nl_node_files_open_all(labdir, nodes, FALSE, error);
  if (!files) return FALSE;
  for (guint i = 0; i < files->len; i++) {
    NlNodeFiles *f = files->pdata[i];
    const char *node = nodes[i];
    if (!nl_node_files_usable(f)) {
      g_string_append_printf(index,
                             "%s/: nothing of its filesystem: its VM does not answer "
                             "and it has no disk\n",
                             node);
      continue;
    }
    const char *via = nl_node_files_via(f);
    g_autoptr(GError) e = NULL;
    g_autoptr(GPtrArray) changes = nl_node_files_changes(f, &e);
    g_autofree char *list = NULL;
    int fd = create(dir, node, "changes.txt", &list);
    if (fd < 0) continue;
    for (guint k = 0; changes && k < changes->len; k++) {
      NlChange *c = changes->pdata[k];
      dprintf(fd, "%c %s%s\n", c->kind, c->path, c->type == 'd' ? "/" : "");
    }
    if (!changes) dprintf(fd, "netlab: %s\n", e->message);
    close(fd);
    g_string_append_printf(index,
                           "%s/changes.txt: what the node changed against the host's "
                           "root (A added, M modified, D deleted), read through %s\n",
                           node, via);
    g_autofree char *tar = NULL;
    fd = create(dir, node, "var-log.tar.gz", &tar);
    if (fd < 0) continue;
    g_clear_error(&e);
    /* The upper layer's /var/log: what the node wrote, not the host's logs
     * it sees too. */
    gboolean ok = nl_node_files_tar_upper(f, "/var/log", fd, &e);
    close(fd);
    if (ok) {
      g_string_append_printf(index,
                             "%s/var-log.tar.gz: /var/log as the node wrote it (its "
                             "upper layer), read through %s\n",
                             node, via);
    } else {
      g_unlink(tar);
      g_string_append_printf(index, "%s/: no /var/log: %s\n", node, e->message);
    }
  }
  return TRUE;
}
