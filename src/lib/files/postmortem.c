/* Post-mortem artifacts of nodes (see postmortem.h). They are read in a
 * child with the QEMU user's rights (nodefile.h), bounded, and written here
 * into files netlab creates. /var/log is kept as a tar archive, never
 * unpacked on the host: its names and links are the guest's. */
#include "postmortem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "nodefile.h"
#include "privdrop.h"
#include "util.h"

/* In the child: 'W' records (NODE/FILE and its content) and 'I' records
 * (a line of the index). */
static gboolean pm_work(NlNodeFiles **files, guint n, int out, gpointer data, GError **error) {
  for (guint i = 0; i < n; i++) {
    NlNodeFiles *f = files[i];
    const char *node = nl_node_files_node(f);
    g_autofree char *line = NULL;
    if (!nl_node_files_usable(f)) {
      line = g_strdup_printf(
          "%s/: nothing of its filesystem: its VM does not answer "
          "and it has no disk\n",
          node);
      if (!nl_record_put(out, 'I', 0, "", line, strlen(line), error)) return FALSE;
      continue;
    }
    const char *via = nl_node_files_via(f);
    g_autoptr(GError) e = NULL;
    g_autoptr(GPtrArray) changes = nl_node_files_changes(f, &e);
    GString *list = g_string_new(NULL);
    for (guint k = 0; changes && k < changes->len; k++) {
      NlChange *c = changes->pdata[k];
      g_string_append_printf(list, "%c %s%s\n", c->kind, c->path, c->type == 'd' ? "/" : "");
    }
    if (!changes) g_string_append_printf(list, "netlab: %s\n", e->message);
    g_autofree char *name = g_strdup_printf("%s/changes.txt", node);
    gboolean ok = nl_record_put(out, 'W', 0, name, list->str, list->len, error);
    g_string_free(list, TRUE);
    if (!ok) return FALSE;
    line = g_strdup_printf(
        "%s/changes.txt: what the node changed against the host's "
        "root (A added, M modified, D deleted), read through %s\n",
        node, via);
    if (!nl_record_put(out, 'I', 0, "", line, strlen(line), error)) return FALSE;
    g_clear_pointer(&line, g_free);
    g_clear_error(&e);
    int tar = memfd_create("netlab-var-log", MFD_CLOEXEC);
    if (tar < 0) return nl_set_errno(error, errno, "memfd_create");
    /* The upper layer's /var/log: what the node wrote, not the host's logs
     * it sees too. */
    g_autofree char *tname = g_strdup_printf("%s/var-log.tar.gz", node);
    if (nl_node_files_tar_upper(f, "/var/log", tar, &e)) {
      ok = nl_record_put_fd(out, 'W', 0, tname, tar, error);
      line = g_strdup_printf(
          "%s/var-log.tar.gz: /var/log as the node wrote it (its "
          "upper layer), read through %s\n",
          node, via);
    } else {
      line = g_strdup_printf("%s/: no /var/log: %s\n", node, e->message);
    }
    close(tar);
    if (!ok || !nl_record_put(out, 'I', 0, "", line, strlen(line), error)) return FALSE;
  }
  return TRUE;
}

/* DIR/NODE/FILE, a fresh file netlab creates. */
static gboolean put(const char *dir, char **nodes, const NlRecord *r, GError **error) {
  g_auto(GStrv) parts = g_strsplit(r->name, "/", -1);
  gboolean known =
      g_strv_length(parts) == 2 && g_strv_contains((const char *const *)nodes, parts[0]) &&
      (strcmp(parts[1], "changes.txt") == 0 || strcmp(parts[1], "var-log.tar.gz") == 0);
  if (!known) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "unexpected artifact '%s'", r->name);
    return FALSE;
  }
  g_autofree char *sub = g_build_filename(dir, parts[0], NULL);
  /* Artifacts of root's labs are nobody else's to read. */
  if (mkdir(sub, 0700) != 0 && errno != EEXIST)
    return nl_set_errno(error, errno, "cannot create '%s'", sub);
  g_autofree char *path = g_build_filename(sub, parts[1], NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nl_set_errno(error, errno, "cannot create '%s'", path);
  gboolean ok = nl_write_all(fd, r->data, r->len);
  int saved = errno;
  close(fd);
  if (!ok) return nl_set_errno(error, saved, "cannot write '%s'", path);
  return TRUE;
}

gboolean nl_postmortem(const char *labdir, char **nodes, const char *dir, GString *index,
                       GError **error) {
  g_autoptr(GBytes) got =
      nl_node_files_run(labdir, nodes, FALSE, pm_work, NULL, NL_NODE_OP_MAX, NULL, NULL, error);
  if (!got) return FALSE;
  gsize off = 0;
  NlRecord r = {0};
  while (nl_record_next(got, &off, &r, error)) {
    if (r.type == 'I') {
      g_string_append_len(index, (const char *)r.data, r.len);
    } else if (r.type == 'W') {
      g_autoptr(GError) e = NULL;
      if (!put(dir, nodes, &r, &e)) g_string_append_printf(index, "netlab: %s\n", e->message);
    }
  }
  return !(error && *error);
}

/* ---- the probes, through the agent -------------------------------------- */

static const struct {
  const char *file;
  const char *cmd;
} probes[] = {
    {"ip-addr.txt", "ip -d addr"}, {"ip-route.txt", "ip route"}, {"ip6-route.txt", "ip -6 route"},
    {"ip-maddr.txt", "ip maddr"},  {"dmesg.txt", "dmesg"},
};

typedef struct {
  const char *statedir, *node;
  int sock, lock;
} Probe;

/* Before the drop: the node's session port. */
static gboolean probe_claim(gpointer data, GError **error) {
  Probe *p = data;
  g_autoptr(GError) e = NULL;
  p->sock = nl_exec_claim(p->statedir, p->node, &p->lock, &e);
  return TRUE;
}

/* After it: each probe's output (or why it could not run) as a record. */
static gboolean probe_work(int out, gpointer data, GError **error) {
  Probe *p = data;
  for (gsize k = 0; k < G_N_ELEMENTS(probes); k++) {
    int fd = memfd_create("netlab-probe", MFD_CLOEXEC);
    if (fd < 0) return nl_set_errno(error, errno, "memfd_create");
    char *argv[] = {"sh", "-c", (char *)probes[k].cmd, NULL};
    NlExec x = {.statedir = p->statedir,
                .vm = p->node,
                .argv = argv,
                .timeout_s = 20,
                .in_fd = -1,
                .out_fd = fd,
                .err_fd = fd,
                .out_max = NL_EXEC_OUTPUT_MAX,
                .sock = p->sock};
    g_autoptr(GError) e = NULL;
    if (p->sock < 0)
      dprintf(fd, "netlab: VM '%s' is not running\n", p->node);
    else if (nl_exec_run(&x, &e) < 0)
      dprintf(fd, "netlab: %s\n", e->message);
    gboolean ok = nl_record_put_fd(out, 'W', 0, probes[k].file, fd, error);
    close(fd);
    if (!ok) return FALSE;
  }
  return TRUE;
}

void nl_postmortem_probes(const char *statedir, const char *node, const char *vmdir) {
  Probe p = {.statedir = statedir, .node = node, .sock = -1, .lock = -1};
  g_autofree char *what = g_strdup_printf("probing VM '%s'", node);
  NlDrop d = {.what = what,
              .prepare = probe_claim,
              .work = probe_work,
              .data = &p,
              .max = G_N_ELEMENTS(probes) * ((guint64)NL_EXEC_OUTPUT_MAX + 4096)};
  g_autoptr(GError) e = NULL;
  g_autoptr(GBytes) got = nl_drop_run(&d, &e);
  gsize off = 0;
  NlRecord r = {0};
  while (got && nl_record_next(got, &off, &r, NULL)) {
    for (gsize k = 0; k < G_N_ELEMENTS(probes); k++) {
      if (strcmp(r.name, probes[k].file) != 0) continue;
      g_autofree char *path = g_build_filename(vmdir, probes[k].file, NULL);
      /* A fresh file: never written through what a VM may have put there. */
      unlink(path);
      int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) continue;
      nl_write_all(fd, r.data, r.len);
      close(fd);
    }
  }
  if (!got) {
    g_autofree char *path = g_build_filename(vmdir, probes[0].file, NULL);
    g_autofree char *msg = g_strdup_printf("netlab: %s\n", e->message);
    nl_write_file(path, msg, -1, 0600, NULL);
  }
}
