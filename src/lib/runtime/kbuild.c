/* Building kernels for the VMs: source, configuration, check, build, list. */
#include "kbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "kernel.h"
#include "util.h"

/* Part of every kernel's key: bump it when the way kernels are configured or
 * built changes, so that kernels built by an older netlab are rebuilt. */
#define NL_KBUILD_FORMAT 1

/* What a build directory records about its kernel, for list and for the
 * up-to-date check. */
#define STAMP "netlab-kernel"
#define LOG "netlab-build.log"

void nl_kbuild_kernel_free(NlKbuildKernel *k) {
  if (!k) return;
  g_free(k->name);
  g_free(k->dir);
  g_free(k->vmlinux);
  g_free(k->release);
  g_free(k->base);
  g_free(k->fragments);
  g_free(k);
}

static void progress(const NlKbuildOptions *o, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void progress(const NlKbuildOptions *o, const char *fmt, ...) {
  if (!o->progress) return;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  o->progress(msg, o->progress_data);
}

/* ---- checking a configuration against its fragments ---- */

typedef struct {
  char *line; /* as the fragment has it, trailing blanks removed */
  const char *file;
  guint lineno;
  gboolean unset; /* "# CONFIG_X is not set" */
} Request;

static void request_free(Request *r) {
  g_free(r->line);
  g_free(r);
}

/* The option a .config or fragment line sets or unsets, or NULL. */
static char *line_option(const char *line, gboolean *unset) {
  *unset = g_str_has_prefix(line, "# CONFIG_");
  const char *s = *unset ? line + 2 : line;
  if (!g_str_has_prefix(s, "CONFIG_")) return NULL;
  gsize n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
  if (*unset ? strcmp(s + n, " is not set") != 0 : s[n] != '=') return NULL;
  return g_strndup(s, n);
}

GPtrArray *nl_kbuild_check(const char *config, const char *const *names, const char *const *texts) {
  g_autoptr(GHashTable) want =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)request_free);
  g_autoptr(GPtrArray) order = g_ptr_array_new();
  for (gsize f = 0; names[f]; f++) {
    g_auto(GStrv) lines = g_strsplit(texts[f], "\n", -1);
    for (guint i = 0; lines[i]; i++) {
      gboolean unset;
      char *opt = line_option(g_strchomp(lines[i]), &unset);
      if (!opt) continue;
      Request *r = g_new0(Request, 1);
      r->line = g_strdup(lines[i]);
      r->file = names[f];
      r->lineno = i + 1;
      r->unset = unset;
      /* insert() keeps the first key, which ORDER points to. */
      if (!g_hash_table_contains(want, opt)) g_ptr_array_add(order, opt);
      g_hash_table_insert(want, opt, r);
    }
  }

  g_autoptr(GHashTable) got = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit(config, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    gboolean unset;
    char *opt = line_option(g_strchomp(lines[i]), &unset);
    if (opt) g_hash_table_replace(got, opt, g_strdup(lines[i]));
  }

  GPtrArray *bad = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < order->len; i++) {
    const Request *r = g_hash_table_lookup(want, order->pdata[i]);
    const char *have = g_hash_table_lookup(got, order->pdata[i]);
    gboolean have_set = have && !g_str_has_prefix(have, "# ");
    if (r->unset ? !have_set : have && strcmp(have, r->line) == 0) continue;
    g_ptr_array_add(bad, g_strdup_printf("%s (%s:%u): got %s", r->line, r->file, r->lineno,
                                         have ? have
                                              : "nothing (no such option, or its "
                                                "dependencies are not met)"));
  }
  return bad;
}

/* ---- running make and the kernel's scripts ---- */

/* How many files make has compiled so far, from its log. */
static guint compiled(const char *log) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(log, &text, NULL, NULL)) return 0;
  guint n = 0;
  for (const char *p = text; (p = strstr(p, "\n  CC ")); p++) n++;
  return n;
}

typedef struct {
  const NlKbuildOptions *o;
  const char *what; /* the kernel's name */
  const char *log;
  gint64 t0;
  GMainLoop *loop;
} Ticker;

/* A build takes minutes: every 30 s, how far it got. */
static gboolean tick(gpointer data) {
  const Ticker *t = data;
  gint64 s = (g_get_monotonic_time() - t->t0) / G_USEC_PER_SEC;
  progress(t->o, "building '%s': %u files compiled, %" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s",
           t->what, compiled(t->log), s / 60, s % 60);
  return G_SOURCE_CONTINUE;
}

static void exited(GObject *p, GAsyncResult *res, gpointer data) {
  g_main_loop_quit(((Ticker *)data)->loop);
}

/* Runs ARGV in the kernel tree SRC, its output appended to LOG; with TICKER,
 * reporting progress while it runs. */
static gboolean run_logged(const char *src, const char *log, const char *const *argv,
                           Ticker *ticker, GError **error) {
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot open '%s': %s", log, g_strerror(errno));
    return FALSE;
  }
  g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
  dprintf(fd, "+ %s\n", cmd);
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_take_stdout_fd(l, fd);
  g_subprocess_launcher_set_cwd(l, src);
  /* Without it, tinyconfig on an x86_64 host answers no to "64-bit kernel"
   * and everything after is configured for i386. */
  g_subprocess_launcher_setenv(l, "ARCH", "x86_64", TRUE);
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawnv(l, argv, &local);
  if (p && ticker && ticker->o->progress) {
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);
    ticker->loop = loop;
    ticker->t0 = g_get_monotonic_time();
    g_autoptr(GSource) timer = g_timeout_source_new_seconds(30);
    g_source_set_callback(timer, tick, ticker, NULL);
    g_source_attach(timer, ctx);
    g_subprocess_wait_async(p, NULL, exited, ticker);
    g_main_loop_run(loop);
    g_source_destroy(timer);
    g_main_context_pop_thread_default(ctx);
  }
  if (!p || !g_subprocess_wait_check(p, NULL, &local)) {
    g_autofree char *tail = NULL;
    g_autofree char *text = NULL;
    if (g_file_get_contents(log, &text, NULL, NULL)) {
      g_auto(GStrv) lines = g_strsplit(g_strchomp(text), "\n", -1);
      guint n = g_strv_length(lines);
      tail = g_strjoinv("\n  ", lines + (n > 15 ? n - 15 : 0));
    }
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' failed: %s%s%s (whole log: %s)", cmd,
                local->message, tail ? ":\n  " : "", tail ? tail : "", log);
    return FALSE;
  }
  return TRUE;
}

/* ---- the source ---- */

/* "6.1.192" from the tree's top Makefile (what `make kernelversion` says,
 * without running make). */
static char *tree_version(const char *src, GError **error) {
  g_autofree char *path = g_build_filename(src, "Makefile", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "'%s' is not a kernel tree (no Makefile)", src);
    return NULL;
  }
  const char *keys[] = {"VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"};
  char *vals[G_N_ELEMENTS(keys)] = {NULL};
  g_auto(GStrv) lines = g_strsplit(text, "\n", 40);
  for (guint i = 0; lines[i]; i++)
    for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
      gsize n = strlen(keys[k]);
      if (!vals[k] && strncmp(lines[i], keys[k], n) == 0 && lines[i][n] == ' ') {
        const char *eq = strchr(lines[i], '=');
        if (eq) vals[k] = g_strstrip(g_strdup(eq + 1));
      }
    }
  char *v = NULL;
  if (vals[0] && vals[1] && vals[2])
    v = g_strdup_printf("%s.%s.%s%s", vals[0], vals[1], vals[2], vals[3] ? vals[3] : "");
  else
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "'%s' is not a kernel tree (no VERSION in its Makefile)", src);
  for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) g_free(vals[k]);
  return v;
}

/* Debian's kernel source: the newest /usr/src/linux-source-*.tar.xz. */
static char *debian_tarball(GError **error) {
  g_autoptr(GDir) d = g_dir_open("/usr/src", 0, NULL);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (d && (n = g_dir_read_name(d)))
    if (g_str_has_prefix(n, "linux-source-") && g_str_has_suffix(n, ".tar.xz"))
      g_ptr_array_add(found, g_build_filename("/usr/src", n, NULL));
  if (found->len == 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "no kernel source in /usr/src (install the linux-source package, or "
                "give a kernel tree with --source)");
    return NULL;
  }
  char *best = found->pdata[0];
  for (guint i = 1; i < found->len; i++)
    if (strverscmp(found->pdata[i], best) > 0) best = found->pdata[i];
  return g_strdup(best);
}

/* Holds an exclusive lock on PATH until the returned fd is closed: two
 * builds in one tree, or two unpacks of one source, would corrupt it. */
static int lock_build(const NlKbuildOptions *o, const char *path, GError **error) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot open '%s': %s", path, g_strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  progress(o, "waiting for another netlab using '%s'", path);
  if (flock(fd, LOCK_EX) == 0) return fd;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot lock '%s': %s", path, g_strerror(errno));
  close(fd);
  return -1;
}

/* Best effort: what is left only takes disk space. */
static void remove_tree(const char *path) {
  const char *argv[] = {"rm", "-rf", "--", path, NULL};
  g_autoptr(GSubprocess) p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  if (p) g_subprocess_wait(p, NULL, NULL);
}

/* Unpacks TARBALL, whose top directory is TOP, into TREE (in SRCDIR). The
 * tree appears at once, by rename, so that an interrupted unpack never
 * leaves half a tree to build. */
static gboolean unpack(const NlKbuildOptions *o, const char *tarball, const char *srcdir,
                       const char *top, const char *tree, GError **error) {
  g_autofree char *tmp = g_build_filename(srcdir, ".unpack-XXXXXX", NULL);
  if (!g_mkdtemp(tmp)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot create a directory in '%s': %s", srcdir,
                g_strerror(errno));
    return FALSE;
  }
  progress(o, "unpacking %s into %s", tarball, srcdir);
  g_autofree char *log = g_build_filename(srcdir, "unpack.log", NULL);
  g_unlink(log);
  const char *tar[] = {"tar", "-C", tmp, "-xf", tarball, NULL};
  g_autofree char *unpacked = g_build_filename(tmp, top, NULL);
  gboolean ok = run_logged(srcdir, log, tar, NULL, error);
  if (ok && !g_file_test(unpacked, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "'%s' has no top directory '%s'", tarball, top);
    ok = FALSE;
  }
  /* A tree from an older tarball goes: builds from it rebuild anyway, as
   * the tarball is part of their key. */
  if (ok && g_file_test(tree, G_FILE_TEST_EXISTS)) {
    g_autofree char *old = g_build_filename(tmp, "old", NULL);
    ok = g_rename(tree, old) == 0;
    if (!ok)
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot move '%s' away: %s", tree,
                  g_strerror(errno));
  }
  if (ok && g_rename(unpacked, tree) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot rename '%s' to '%s': %s", unpacked, tree,
                g_strerror(errno));
    ok = FALSE;
  }
  remove_tree(tmp);
  return ok;
}

/* Debian's source, unpacked into <cache>/src/ once: a stamp next to the tree
 * says which tarball (path, size, time) it came from, so that a new
 * linux-source package replaces it. *ORIGIN is that stamp. */
static char *debian_source(const NlKbuildOptions *o, char **origin, GError **error) {
  g_autofree char *tarball = debian_tarball(error);
  if (!tarball) return NULL;
  GStatBuf st;
  if (g_stat(tarball, &st) != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot stat '%s': %s", tarball,
                g_strerror(errno));
    return NULL;
  }
  g_autofree char *cache = nl_cache_dir(error);
  if (!cache) return NULL;
  g_autofree char *srcdir = g_build_filename(cache, "src", NULL);
  g_autofree char *top = g_path_get_basename(tarball);
  top[strlen(top) - strlen(".tar.xz")] = '\0';
  g_autofree char *tree = g_build_filename(srcdir, top, NULL);
  g_autofree char *stamp_path = g_strconcat(tree, ".stamp", NULL);
  g_autofree char *stamp =
      g_strdup_printf("%s %lld %lld\n", tarball, (long long)st.st_size, (long long)st.st_mtime);
  *origin = g_strchomp(g_strdup(stamp));
  if (!nl_mkdir(srcdir, 0755, error)) return NULL;

  g_autofree char *lock_path = g_build_filename(srcdir, ".netlab-lock", NULL);
  int lock = lock_build(o, lock_path, error);
  if (lock < 0) return NULL;
  g_autofree char *have = NULL;
  gboolean ok = g_file_get_contents(stamp_path, &have, NULL, NULL) && strcmp(have, stamp) == 0 &&
                g_file_test(tree, G_FILE_TEST_IS_DIR);
  if (!ok)
    ok = unpack(o, tarball, srcdir, top, tree, error) &&
         nl_write_file(stamp_path, stamp, -1, 0644, error);
  close(lock);
  return ok ? g_steal_pointer(&tree) : NULL;
}

/* A fragment named without a '/' is one of netlab's kernel-config/, with or
 * without its .config suffix. */
static char *fragment_path(const char *f, GError **error) {
  g_autofree char *path = NULL;
  if (strchr(f, '/'))
    path = g_canonicalize_filename(f, NULL);
  else
    path = g_strconcat(NETLAB_KERNEL_CONFIG_DIR "/", f,
                       g_str_has_suffix(f, ".config") ? "" : ".config", NULL);
  if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "no config fragment '%s' (%s)", f, path);
    return NULL;
  }
  return g_steal_pointer(&path);
}

static char *fragment_name(const char *path) {
  char *base = g_path_get_basename(path);
  if (g_str_has_suffix(base, ".config")) base[strlen(base) - strlen(".config")] = '\0';
  return base;
}

static gboolean valid_name(const char *name) {
  return *name && *name != '.' && !strchr(name, '/') && strlen(name) <= 64;
}

/* ---- the stamp: key=value lines ---- */

static char *stamp_get(const char *text, const char *key) {
  g_autofree char *prefix = g_strconcat(key, "=", NULL);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix(lines[i], prefix)) return g_strdup(lines[i] + strlen(prefix));
  return NULL;
}

static NlKbuildKernel *kernel_at(const char *dir, const char *name) {
  g_autofree char *stamp_path = g_build_filename(dir, STAMP, NULL);
  g_autofree char *stamp = NULL;
  g_autofree char *vmlinux = g_build_filename(dir, "vmlinux", NULL);
  if (!g_file_get_contents(stamp_path, &stamp, NULL, NULL) ||
      !g_file_test(vmlinux, G_FILE_TEST_IS_REGULAR))
    return NULL;
  NlKbuildKernel *k = g_new0(NlKbuildKernel, 1);
  k->name = g_strdup(name);
  k->dir = g_strdup(dir);
  k->vmlinux = g_steal_pointer(&vmlinux);
  k->base = stamp_get(stamp, "base");
  k->fragments = stamp_get(stamp, "fragments");
  g_autofree char *secs = stamp_get(stamp, "build_seconds");
  k->build_s = secs ? g_ascii_strtoll(secs, NULL, 10) : -1;
  g_autofree char *cpu = stamp_get(stamp, "build_cpu_seconds");
  k->build_cpu_s = cpu ? g_ascii_strtoll(cpu, NULL, 10) : -1;
  g_autofree char *rel_path = g_build_filename(dir, "include", "config", "kernel.release", NULL);
  if (g_file_get_contents(rel_path, &k->release, NULL, NULL)) g_strchomp(k->release);
  return k;
}

/* Everything the kernel is made from: a build with the same key is the same
 * kernel (make would rebuild nothing but its version stamp). Fragments count
 * by name and content, not path, so that another checkout of netlab (a CI
 * run's) finds the kernels built from the same fragments. */
static char *build_key(const char *src, const char *origin, const char *version, const char *base,
                       GPtrArray *frags, GError **error) {
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_autofree char *head = g_strdup_printf("%d\n%s\n%s\n%s\n%s\n", NL_KBUILD_FORMAT, src,
                                          origin ? origin : "", version, base);
  g_checksum_update(sum, (const guchar *)head, strlen(head));
  for (guint i = 0; i < frags->len; i++) {
    g_autofree char *text = NULL;
    gsize len;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(frags->pdata[i], &text, &len, &local)) {
      g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read '%s': %s", (char *)frags->pdata[i],
                  local->message);
      return NULL;
    }
    g_autofree char *name = g_path_get_basename(frags->pdata[i]);
    g_autofree char *sep = g_strdup_printf("\n%s %" G_GSIZE_FORMAT "\n", name, len);
    g_checksum_update(sum, (const guchar *)sep, strlen(sep));
    g_checksum_update(sum, (const guchar *)text, len);
  }
  return g_strdup(g_checksum_get_string(sum));
}

static gboolean configure(const char *src, const char *dir, const char *base, GPtrArray *frags,
                          const char *log, GError **error) {
  g_autofree char *odir = g_strconcat("O=", dir, NULL);
  const char *make_base[] = {"make", odir, base, NULL};
  if (!run_logged(src, log, make_base, NULL, error)) return FALSE;

  /* merge_config.sh merges the fragments into the base (a later one wins),
   * then has Kconfig fill in everything else with its defaults. */
  g_autofree char *config = g_build_filename(dir, ".config", NULL);
  g_autoptr(GPtrArray) merge = g_ptr_array_new();
  g_ptr_array_add(merge, "scripts/kconfig/merge_config.sh");
  g_ptr_array_add(merge, "-O");
  g_ptr_array_add(merge, (char *)dir);
  g_ptr_array_add(merge, config);
  for (guint i = 0; i < frags->len; i++) g_ptr_array_add(merge, frags->pdata[i]);
  g_ptr_array_add(merge, NULL);
  if (!run_logged(src, log, (const char *const *)merge->pdata, NULL, error)) return FALSE;

  /* merge_config.sh only warns, and also about the base's own values that
   * the fragments changed: check exactly what the fragments asked for. */
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(config, &text, NULL, &local)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot read '%s': %s", config, local->message);
    return FALSE;
  }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < frags->len; i++) {
    char *t = NULL;
    if (!g_file_get_contents(frags->pdata[i], &t, NULL, NULL)) t = g_strdup("");
    g_ptr_array_add(names, g_path_get_basename(frags->pdata[i]));
    g_ptr_array_add(texts, t);
  }
  g_ptr_array_add(names, NULL);
  g_ptr_array_add(texts, NULL);
  g_autoptr(GPtrArray) bad =
      nl_kbuild_check(text, (const char *const *)names->pdata, (const char *const *)texts->pdata);
  if (bad->len == 0) return TRUE;
  g_ptr_array_add(bad, NULL);
  g_autofree char *list = g_strjoinv("\n  ", (char **)bad->pdata);
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
              "%u option(s) the fragments ask for are not in %s (`make O=%s menuconfig` "
              "in %s shows what they depend on):\n  %s",
              bad->len - 1, config, dir, src, list);
  return FALSE;
}

/* What a build is made of, once resolved. */
typedef struct {
  const char *base;
  GPtrArray *frags; /* absolute paths, base.config first */
  char *src;
  char *origin; /* the tarball a Debian source came from, or NULL */
  char *version;
  char *name;
  char *dir;
} Plan;

static void plan_clear(Plan *p) {
  if (p->frags) g_ptr_array_unref(p->frags);
  g_free(p->src);
  g_free(p->origin);
  g_free(p->version);
  g_free(p->name);
  g_free(p->dir);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Plan, plan_clear)

static gboolean plan(const NlKbuildOptions *o, Plan *p, GError **error) {
  p->base = o->base ? o->base : "tinyconfig";
  if (strcmp(p->base, "tinyconfig") != 0 && strcmp(p->base, "defconfig") != 0) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "the base configuration is tinyconfig or defconfig, not '%s'", p->base);
    return FALSE;
  }
  p->frags = g_ptr_array_new_with_free_func(g_free);
  char *basefrag = fragment_path("base", error);
  if (!basefrag) return FALSE;
  g_ptr_array_add(p->frags, basefrag);
  static const char *const dflt[] = {"net", NULL};
  const char *const *want = o->fragments && o->fragments[0] ? o->fragments : dflt;
  g_autoptr(GString) suffix = g_string_new(NULL);
  for (gsize i = 0; want[i]; i++) {
    char *f = fragment_path(want[i], error);
    if (!f) return FALSE;
    /* base.config comes first whatever is asked. */
    if (strcmp(f, basefrag) == 0) {
      g_free(f);
      continue;
    }
    g_autofree char *n = fragment_name(f);
    g_string_append_printf(suffix, "-%s", n);
    g_ptr_array_add(p->frags, f);
  }

  if (o->source) {
    p->src = g_canonicalize_filename(o->source, NULL);
    g_autofree char *merge =
        g_build_filename(p->src, "scripts", "kconfig", "merge_config.sh", NULL);
    if (!g_file_test(merge, G_FILE_TEST_IS_REGULAR)) {
      g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                  "'%s' is not a kernel tree (no scripts/kconfig/merge_config.sh)", p->src);
      return FALSE;
    }
  } else {
    p->src = debian_source(o, &p->origin, error);
    if (!p->src) return FALSE;
  }
  p->version = tree_version(p->src, error);
  if (!p->version) return FALSE;

  p->name = o->name ? g_strdup(o->name)
                    : g_strdup_printf("%s%s", p->version, suffix->len ? suffix->str : "-base");
  if (!valid_name(p->name)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "kernel name '%s' must be 1-64 characters, not start with '.', and have "
                "no '/'",
                p->name);
    return FALSE;
  }
  p->dir = nl_kernel_built_dir(p->name, error);
  if (!p->dir) return FALSE;
  if (!nl_mkdir(p->dir, 0755, error)) return FALSE;
  return TRUE;
}

/* Builds P, its tree locked by the caller. */
static NlKbuildKernel *build(const NlKbuildOptions *o, const Plan *p, GError **error) {
  g_autofree char *key = build_key(p->src, p->origin, p->version, p->base, p->frags, error);
  if (!key) return NULL;
  g_autofree char *stamp_path = g_build_filename(p->dir, STAMP, NULL);
  g_autofree char *old = NULL;
  g_autofree char *old_key = NULL;
  if (g_file_get_contents(stamp_path, &old, NULL, NULL)) old_key = stamp_get(old, "key");
  if (old_key && strcmp(old_key, key) == 0) {
    NlKbuildKernel *k = kernel_at(p->dir, p->name);
    if (k) return k;
  }
  /* A half-built tree must not pass for a built one if this build fails. */
  g_unlink(stamp_path);

  g_autofree char *log = g_build_filename(p->dir, LOG, NULL);
  g_unlink(log);
  progress(o, "configuring '%s': %s + %u fragment(s), from %s", p->name, p->base, p->frags->len,
           p->src);
  if (!configure(p->src, p->dir, p->base, p->frags, log, error)) return NULL;
  int jobs = o->jobs > 0 ? o->jobs : (int)g_get_num_processors();
  g_autofree char *jarg = g_strdup_printf("-j%d", jobs);
  g_autofree char *odir = g_strconcat("O=", p->dir, NULL);
  progress(o, "building '%s' with %d jobs (log: %s)", p->name, jobs, log);
  gint64 t0 = g_get_monotonic_time();
  struct rusage ru0;
  getrusage(RUSAGE_CHILDREN, &ru0);
  /* vmlinux, which QEMU boots, and not make's default target, which also
   * builds and compresses a bzImage nobody boots; the gdb helpers
   * (scripts/gdb, vmlinux-gdb.py) when the fragments ask for them. */
  g_autofree char *config_path = g_build_filename(p->dir, ".config", NULL);
  g_autofree char *config = NULL;
  gboolean gdb = g_file_get_contents(config_path, &config, NULL, NULL) &&
                 strstr(config, "\nCONFIG_GDB_SCRIPTS=y\n");
  const char *make[] = {"make", odir, jarg, "vmlinux", gdb ? "scripts_gdb" : NULL, NULL};
  Ticker ticker = {.o = o, .what = p->name, .log = log};
  if (!run_logged(p->src, log, make, &ticker, error)) return NULL;
  gint64 secs = (g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
  struct rusage ru1;
  getrusage(RUSAGE_CHILDREN, &ru1);
  gint64 cpu =
      ru1.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_utime.tv_sec - ru0.ru_stime.tv_sec;

  g_autoptr(GPtrArray) paths = g_ptr_array_new();
  for (guint i = 0; i < p->frags->len; i++) g_ptr_array_add(paths, p->frags->pdata[i]);
  g_ptr_array_add(paths, NULL);
  g_autofree char *fraglist = g_strjoinv(" ", (char **)paths->pdata);
  g_autofree char *stamp = g_strdup_printf(
      "key=%s\nsource=%s\norigin=%s\nbase=%s\nfragments=%s\nbuild_seconds=%" G_GINT64_FORMAT
      "\nbuild_cpu_seconds=%" G_GINT64_FORMAT "\n",
      key, p->src, p->origin ? p->origin : "", p->base, fraglist, secs, cpu);
  if (!nl_write_file(stamp_path, stamp, -1, 0644, error)) return NULL;
  NlKbuildKernel *k = kernel_at(p->dir, p->name);
  if (!k) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "the build made no %s/vmlinux", p->dir);
    return NULL;
  }
  k->fresh = TRUE;
  return k;
}

NlKbuildKernel *nl_kbuild_build(const NlKbuildOptions *o, GError **error) {
  g_auto(Plan) p = {0};
  if (!plan(o, &p, error)) return NULL;
  g_autofree char *lock_path = g_build_filename(p.dir, ".netlab-lock", NULL);
  int lock = lock_build(o, lock_path, error);
  if (lock < 0) return NULL;
  NlKbuildKernel *k = build(o, &p, error);
  close(lock);
  if (!k) g_prefix_error(error, "kernel '%s': ", p.name);
  return k;
}

static int kernel_cmp(gconstpointer a, gconstpointer b) {
  const NlKbuildKernel *x = *(NlKbuildKernel *const *)a, *y = *(NlKbuildKernel *const *)b;
  return strcmp(x->name, y->name);
}

GPtrArray *nl_kbuild_list(GError **error) {
  g_autofree char *cache = nl_cache_dir(error);
  if (!cache) return NULL;
  g_autofree char *dir = g_build_filename(cache, "kernels", NULL);
  GPtrArray *ks = g_ptr_array_new_with_free_func((GDestroyNotify)nl_kbuild_kernel_free);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *sub = g_build_filename(dir, n, NULL);
    NlKbuildKernel *k = kernel_at(sub, n);
    if (k) g_ptr_array_add(ks, k);
  }
  g_ptr_array_sort(ks, kernel_cmp);
  return ks;
}

char *nl_kbuild_default_key(void) {
  /* What a default `netlab kernel build` would compute, without unpacking
   * anything: Debian's source as unpacked for it, base + net. */
  g_autofree char *tarball = debian_tarball(NULL);
  g_autofree char *cache = nl_cache_dir(NULL);
  GStatBuf st;
  if (!tarball || !cache || g_stat(tarball, &st) != 0) return NULL;
  g_autofree char *top = g_path_get_basename(tarball);
  top[strlen(top) - strlen(".tar.xz")] = '\0';
  g_autofree char *tree = g_build_filename(cache, "src", top, NULL);
  g_autofree char *stamp_path = g_strconcat(tree, ".stamp", NULL);
  g_autofree char *origin =
      g_strdup_printf("%s %lld %lld", tarball, (long long)st.st_size, (long long)st.st_mtime);
  g_autofree char *have = NULL;
  if (!g_file_get_contents(stamp_path, &have, NULL, NULL) || strcmp(g_strchomp(have), origin) != 0)
    return NULL;
  g_autofree char *version = tree_version(tree, NULL);
  g_autoptr(GPtrArray) frags = g_ptr_array_new_with_free_func(g_free);
  for (const char *const *f = (const char *const[]){"base", "net", NULL}; *f; f++) {
    char *path = fragment_path(*f, NULL);
    if (!path) return NULL;
    g_ptr_array_add(frags, path);
  }
  return version ? build_key(tree, origin, version, "tinyconfig", frags, NULL) : NULL;
}

char *nl_kbuild_default_vmlinux(void) {
  g_autofree char *key = nl_kbuild_default_key();
  g_autoptr(GPtrArray) all = key ? nl_kbuild_list(NULL) : NULL;
  char *best = NULL;
  gint64 best_time = 0;
  for (guint i = 0; all && i < all->len; i++) {
    NlKbuildKernel *k = all->pdata[i];
    g_autofree char *stamp_path = g_build_filename(k->dir, STAMP, NULL);
    g_autofree char *stamp = NULL;
    g_autofree char *kkey = NULL;
    if (g_file_get_contents(stamp_path, &stamp, NULL, NULL)) kkey = stamp_get(stamp, "key");
    GStatBuf ks;
    if (!kkey || strcmp(kkey, key) != 0 || g_stat(k->vmlinux, &ks) != 0) continue;
    if (!best || ks.st_mtime > best_time) {
      g_free(best);
      best = g_strdup(k->vmlinux);
      best_time = ks.st_mtime;
    }
  }
  return best;
}
