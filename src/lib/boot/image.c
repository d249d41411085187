/* Container images as a node's root (see image.h). The cache:
 *   CACHE/refs/<sha256 of the reference>  "REF\nDIGEST\n"
 *   CACHE/roots/<hex of the digest>/rootfs the unpacked, converted root
 *   CACHE/roots/<hex>/size                 its size in bytes
 *   CACHE/tmp/pull-XXXXXX                  a pull under way
 *   CACHE/lock                             one pull at a time
 * A root is unpacked once per manifest digest, whatever names it. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layout.h"
#include "state.h"

/* The unprivileged user umoci unpacks as when root runs netlab: neither
 * root (an image's device nodes and setuid files would be real) nor the
 * QEMU user (which must not write the cache). scripts/setup creates it. */
#define UNPACK_USER "netlab-image"

/* An image deeper than this is refused rather than walked. */
#define MAX_DEPTH 256

static const char *const transports[] = {"oci:", "oci-archive:", "docker-archive:", "dir:", NULL};

/* One path component of a Docker repository name. */
#define COMPONENT "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"

/* Group N of M, "" when it matched nothing. */
static char *fetch(GMatchInfo *m, int n) {
  char *s = g_match_info_fetch(m, n);
  return s ? s : g_strdup("");
}

char *nl_image_normalize(const char *ref, GError **error) {
  for (const char *const *t = transports; *t; t++)
    if (g_str_has_prefix(ref, *t) && ref[strlen(*t)]) {
      if (strpbrk(ref, " \t\n")) break;
      return g_strdup(ref);
    }
  const char *name = g_str_has_prefix(ref, "docker://") ? ref + strlen("docker://") : ref;
  g_autoptr(GRegex) re =
      g_regex_new("^(?:([A-Za-z0-9.-]+(?::[0-9]+)?)/)?(" COMPONENT "(?:/" COMPONENT
                  ")*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
                  "(?:@(sha256:[0-9a-f]{64}))?$",
                  0, 0, NULL);
  g_autoptr(GMatchInfo) m = NULL;
  if (!g_regex_match(re, name, 0, &m)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT,
                "'%s' is no image reference: expected [REGISTRY/]NAME[:TAG][@DIGEST], or "
                "oci:, oci-archive:, docker-archive: or dir: and a path",
                ref);
    return NULL;
  }
  g_autofree char *domain = fetch(m, 1);
  g_autofree char *path = fetch(m, 2);
  g_autofree char *tag = fetch(m, 3);
  g_autofree char *digest = fetch(m, 4);
  /* As Docker: a first component is a registry only with a '.' or a ':'
   * in it, or as localhost ("kathara/frr" is Docker Hub's). */
  if (*domain && !strpbrk(domain, ".:") && !g_str_equal(domain, "localhost")) {
    char *whole = g_strconcat(domain, "/", path, NULL);
    g_free(path);
    path = whole;
    g_free(domain);
    domain = g_strdup("");
  }
  if (!*domain) {
    g_free(domain);
    domain = g_strdup("docker.io");
  }
  gboolean library = g_str_equal(domain, "docker.io") && !strchr(path, '/');
  return g_strdup_printf("docker://%s/%s%s%s%s%s%s", domain, library ? "library/" : "", path,
                         *tag || !*digest ? ":" : "",
                         *tag       ? tag
                         : !*digest ? "latest"
                                    : "",
                         *digest ? "@" : "", digest);
}

gboolean nl_image_parse_pull(const char *text, NlPullPolicy *policy) {
  static const char *const names[] = {"missing", "never", "always", NULL};
  for (guint i = 0; names[i]; i++)
    if (g_ascii_strcasecmp(text, names[i]) == 0) {
      *policy = (NlPullPolicy)i;
      return TRUE;
    }
  return FALSE;
}

/* Kathará's base images whose software Debian's host root has: the image
 * (any registry mirror aside, untagged or :latest), what proves the host
 * has it (NULL: nothing to check) and what to tell the user. */
static const struct {
  const char *ref;
  const char *needs;
  const char *why;
} host_images[] = {
    {"docker://docker.io/kathara/base:latest", NULL,
     "Debian with the usual network tools, as the host"},
    {"docker://docker.io/kathara/frr:latest", "/usr/lib/frr/zebra", "the host's FRR"},
    {"docker://docker.io/kathara/quagga:latest", "/usr/lib/frr/zebra",
     "Quagga's configuration on the host's FRR"},
};

const char *nl_image_host_equivalent(const char *ref) {
  g_autofree char *n = nl_image_normalize(ref, NULL);
  for (guint i = 0; n && i < G_N_ELEMENTS(host_images); i++)
    if (g_str_equal(n, host_images[i].ref) &&
        (!host_images[i].needs || g_file_test(host_images[i].needs, G_FILE_TEST_EXISTS)))
      return host_images[i].why;
  return NULL;
}

char *nl_image_cache_dir(void) {
  const char *env = g_getenv("NETLAB_IMAGE_CACHE");
  if (env && g_path_is_absolute(env)) return g_strdup(env);
  if (geteuid() == 0) return g_strdup("/var/lib/netlab/images");
  struct passwd *pw = getpwuid(geteuid());
  return g_build_filename(pw ? pw->pw_dir : "/nonexistent", ".local", "share", "netlab", "images",
                          NULL);
}

/* ---- references and roots ---- */

static char *ref_file(const char *cache, const char *ref) {
  g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, ref, -1);
  return g_build_filename(cache, "refs", sum, NULL);
}

/* The hex of "sha256:HEX", checked: it names a directory. */
static const char *digest_hex(const char *digest) {
  if (!digest || !g_str_has_prefix(digest, "sha256:")) return NULL;
  const char *hex = digest + strlen("sha256:");
  return strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64 ? hex : NULL;
}

static char *root_dir(const char *cache, const char *digest) {
  return g_build_filename(cache, "roots", digest_hex(digest), NULL);
}

/* REF and DIGEST from a refs/ file. */
static gboolean read_ref(const char *path, char **ref, char **digest) {
  g_autofree char *text = NULL;
  gsize len;
  if (!nl_read_file_max(path, 4096, &text, &len, NULL)) return FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", 3);
  if (g_strv_length(lines) < 2 || !digest_hex(lines[1])) return FALSE;
  *ref = g_strdup(lines[0]);
  *digest = g_strdup(lines[1]);
  return TRUE;
}

char *nl_image_find(const char *cache, const char *ref, char **digest) {
  g_autofree char *n = nl_image_normalize(ref, NULL);
  if (!n) return NULL;
  g_autofree char *file = ref_file(cache, n);
  g_autofree char *got = NULL, *dig = NULL;
  if (!read_ref(file, &got, &dig) || !g_str_equal(got, n)) return NULL;
  g_autofree char *root = root_dir(cache, dig);
  char *rootfs = g_build_filename(root, "rootfs", NULL);
  if (!g_file_test(rootfs, G_FILE_TEST_IS_DIR)) {
    g_free(rootfs);
    return NULL;
  }
  if (digest) *digest = g_steal_pointer(&dig);
  return rootfs;
}

/* ---- running skopeo and umoci ---- */

/* Runs ARGV (as USER's uid and gid when USER is given), its output line by
 * line to SAY; the last lines go into the error if it fails. */
static gboolean run_tool(const char *const *argv, const struct passwd *user, const char *cwd,
                         const NlProgress *say, GError **error) {
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  if (user) {
    /* setpriv: no supplementary groups, no way back to root. */
    g_ptr_array_add(args, g_strdup("setpriv"));
    g_ptr_array_add(args, g_strdup_printf("--reuid=%u", (unsigned)user->pw_uid));
    g_ptr_array_add(args, g_strdup_printf("--regid=%u", (unsigned)user->pw_gid));
    g_ptr_array_add(args, g_strdup("--clear-groups"));
    g_ptr_array_add(args, g_strdup("--no-new-privs"));
    g_ptr_array_add(args, g_strdup("--"));
  }
  for (const char *const *a = argv; *a; a++) g_ptr_array_add(args, g_strdup(*a));
  g_ptr_array_add(args, NULL);
  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_cwd(l, cwd);
  if (user) g_subprocess_launcher_setenv(l, "HOME", cwd, TRUE);
  g_autoptr(GSubprocess) p =
      g_subprocess_launcher_spawnv(l, (const char *const *)args->pdata, error);
  if (!p) return FALSE;
  g_autoptr(GDataInputStream) in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
  g_autoptr(GString) tail = g_string_new(NULL);
  char *line;
  while ((line = g_data_input_stream_read_line_utf8(in, NULL, NULL, NULL))) {
    g_strstrip(line);
    if (*line) nl_say(say, NL_SAY_PROGRESS, "%s: %s", argv[0], line);
    if (tail->len > 2048) g_string_erase(tail, 0, tail->len - 1024);
    g_string_append_printf(tail, "%s%s", tail->len ? "\n" : "", line);
    g_free(line);
  }
  if (!g_subprocess_wait(p, NULL, error)) return FALSE;
  if (g_subprocess_get_if_exited(p) && g_subprocess_get_exit_status(p) == 0) return TRUE;
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s failed: %s", argv[0],
              tail->len ? tail->str : "(no output)");
  return FALSE;
}

/* The manifest digest skopeo wrote into the layout LAYOUT. */
static char *layout_digest(const char *layout, GError **error) {
  g_autofree char *index = g_build_filename(layout, "index.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_file(parser, index, error)) return NULL;
  JsonNode *root = json_parser_get_root(parser);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
  JsonArray *m = o && json_object_has_member(o, "manifests")
                     ? json_object_get_array_member(o, "manifests")
                     : NULL;
  JsonObject *first =
      m && json_array_get_length(m) == 1 ? json_array_get_object_element(m, 0) : NULL;
  const char *digest = first && json_object_has_member(first, "digest")
                           ? json_object_get_string_member(first, "digest")
                           : NULL;
  if (!digest_hex(digest)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: no single sha256 manifest", index);
    return NULL;
  }
  return g_strdup(digest);
}

/* ---- the conversion: a tree of plain files and directories ---- */

/* umoci's rootless owner of an entry ("user.rootlesscontainers": a
 * protobuf of uid = 1 and gid = 2, 2^32-1 for "unchanged"). */
static void rootless_owner(int fd, guint32 *uid, guint32 *gid) {
  guint8 buf[64];
  ssize_t n = fgetxattr(fd, "user.rootlesscontainers", buf, sizeof buf);
  *uid = *gid = 0;
  for (ssize_t i = 0; i < n;) {
    guint8 key = buf[i++];
    guint64 v = 0;
    for (int shift = 0; i < n && shift < 64; shift += 7) {
      guint8 b = buf[i++];
      v |= (guint64)(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    guint32 id = v == 0xffffffffu ? 0 : (guint32)v;
    if (key == 0x08) *uid = id;
    if (key == 0x10) *gid = id;
  }
  if (n > 0) fremovexattr(fd, "user.rootlesscontainers");
}

/* What QEMU's mapped-xattr model reads (hw/9pfs/9p-local.c): little-endian
 * 32-bit uid, gid and mode, 64-bit rdev. */
static gboolean set_virtfs(int fd, guint32 uid, guint32 gid, guint32 mode, guint64 rdev) {
  guint32 u = GUINT32_TO_LE(uid), g = GUINT32_TO_LE(gid), m = GUINT32_TO_LE(mode);
  guint64 r = GUINT64_TO_LE(rdev);
  return fsetxattr(fd, "user.virtfs.uid", &u, sizeof u, 0) == 0 &&
         fsetxattr(fd, "user.virtfs.gid", &g, sizeof g, 0) == 0 &&
         fsetxattr(fd, "user.virtfs.mode", &m, sizeof m, 0) == 0 &&
         (!rdev || fsetxattr(fd, "user.virtfs.rdev", &r, sizeof r, 0) == 0);
}

typedef struct {
  gboolean chown_root; /* root: every entry becomes root's */
  guint64 bytes;
} Convert;

/* FD, made from an entry of type MODE, becomes a host file of netlab's
 * mode and owner, what the image said kept in xattrs. */
static gboolean settle(Convert *c, int fd, guint32 uid, guint32 gid, mode_t mode, guint64 rdev,
                       const char *path, GError **error) {
  struct stat st;
  gboolean converted = fgetxattr(fd, "user.virtfs.mode", NULL, 0) > 0;
  if (!converted && !set_virtfs(fd, uid, gid, mode, rdev))
    return nl_set_errno(error, errno, "%s: cannot set its owner and mode in xattrs", path);
  /* Host modes: readable by the QEMU user, writable by no one else, no
   * setuid, setgid or sticky bit. */
  if (fchmod(fd, S_ISDIR(mode) ? 0755 : 0644) != 0 || (c->chown_root && fchown(fd, 0, 0) != 0))
    return nl_set_errno(error, errno, "%s: cannot set its host mode", path);
  if (fstat(fd, &st) == 0) c->bytes += (guint64)st.st_blocks * 512;
  return TRUE;
}

/* An entry that may not stay what it is (a symlink, a device node, a FIFO,
 * a socket) becomes a regular file: a symlink's holds its target. */
static gboolean replace_special(Convert *c, int dfd, const char *name, const struct stat *st,
                                const char *path, GError **error) {
  char target[4097];
  ssize_t len = 0;
  if (S_ISLNK(st->st_mode)) {
    len = readlinkat(dfd, name, target, sizeof target - 1);
    if (len < 0) return nl_set_errno(error, errno, "%s: cannot read the link", path);
  }
  if (unlinkat(dfd, name, 0) != 0) return nl_set_errno(error, errno, "cannot remove %s", path);
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return nl_set_errno(error, errno, "cannot create %s", path);
  gboolean ok = len == 0 || write(fd, target, len) == len;
  if (!ok) nl_set_errno(error, errno, "cannot write %s", path);
  /* umoci leaves links, devices and FIFOs to the unpacking user: root in
   * the image. */
  mode_t mode = S_ISLNK(st->st_mode) ? S_IFLNK | 0777 : st->st_mode;
  ok = ok && settle(c, fd, 0, 0, mode,
                    S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? st->st_rdev : 0, path, error);
  close(fd);
  return ok;
}

static gboolean convert_dir(Convert *c, int dfd, const char *path, guint depth, GError **error);

static gboolean convert_entry(Convert *c, int dfd, const char *name, const char *path, guint depth,
                              GError **error) {
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return nl_set_errno(error, errno, "cannot stat %s", path);
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
    return replace_special(c, dfd, name, &st, path, error);
  /* Our own tree (no one else writes it): a mode the owner cannot read
   * (0000 files, 0555 directories) is widened before the open. */
  if (fchmodat(dfd, name, S_ISDIR(st.st_mode) ? 0700 : 0600, 0) != 0)
    return nl_set_errno(error, errno, "cannot open %s", path);
  int fd = openat(dfd, name,
                  O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
  if (fd < 0) return nl_set_errno(error, errno, "cannot open %s", path);
  guint32 uid, gid;
  rootless_owner(fd, &uid, &gid);
  gboolean ok = (!S_ISDIR(st.st_mode) || convert_dir(c, fd, path, depth + 1, error)) &&
                settle(c, fd, uid, gid, st.st_mode, 0, path, error);
  close(fd);
  return ok;
}

static gboolean convert_dir(Convert *c, int dfd, const char *path, guint depth, GError **error) {
  if (depth > MAX_DEPTH) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s: deeper than %d directories", path,
                MAX_DEPTH);
    return FALSE;
  }
  int own = dup(dfd);
  DIR *d = own < 0 ? NULL : fdopendir(own);
  if (!d) {
    if (own >= 0) close(own);
    return nl_set_errno(error, errno, "cannot list %s", path);
  }
  /* The names first: the entries change as they are converted. */
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      g_ptr_array_add(names, g_strdup(e->d_name));
  closedir(d);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *sub = g_build_filename(path, names->pdata[i], NULL);
    if (!convert_entry(c, dfd, names->pdata[i], sub, depth, error)) return FALSE;
  }
  return TRUE;
}

static gboolean convert_root(const char *rootfs, guint64 *bytes, GError **error) {
  Convert c = {.chown_root = geteuid() == 0};
  int parent = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (parent < 0) return nl_set_errno(error, errno, "cannot open %s", rootfs);
  g_autofree char *dir = g_path_get_dirname(rootfs);
  int up = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close(parent);
  if (up < 0) return nl_set_errno(error, errno, "cannot open %s", dir);
  gboolean ok = convert_entry(&c, up, "rootfs", rootfs, 0, error);
  close(up);
  *bytes = c.bytes;
  return ok;
}

/* ---- pulling ---- */

static gboolean make_dir(const char *path, int mode, GError **error) {
  if (g_mkdir_with_parents(path, mode) != 0)
    return nl_set_errno(error, errno, "cannot create '%s'", path);
  if (chmod(path, mode) != 0)
    return nl_set_errno(error, errno, "cannot set the mode of '%s'", path);
  return TRUE;
}

static gboolean remove_tree(const char *path, GError **error) {
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) return TRUE;
  const char *argv[] = {"rm", "-rf", "--one-file-system", "--", path, NULL};
  int status = 0;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                    error))
    return FALSE;
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot remove '%s'", path);
    return FALSE;
  }
  return TRUE;
}

/* CACHE/lock, held (flock) while the cache changes. */
static int lock_cache(const char *cache, GError **error) {
  if (!make_dir(cache, 0755, error)) return -1;
  g_autofree char *lock = g_build_filename(cache, "lock", NULL);
  int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    nl_set_errno(error, errno, "cannot lock '%s'", lock);
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* Unpacks the layout in TMP into TMP/bundle, as USER when given. */
static gboolean unpack(const char *tmp, const struct passwd *user, const NlProgress *say,
                       GError **error) {
  if (user && chown(tmp, user->pw_uid, user->pw_gid) != 0)
    return nl_set_errno(error, errno, "cannot give '%s' to %s", tmp, UNPACK_USER);
  const char *argv[] = {"umoci",         "unpack", "--rootless", "--image",
                        "layout:netlab", "bundle", NULL};
  if (!run_tool(argv, user, tmp, say, error)) return FALSE;
  /* Back to root before the conversion: from here on the unpacking user
   * can neither reach nor change the tree. */
  if (user && (chown(tmp, 0, 0) != 0 || chmod(tmp, 0700) != 0))
    return nl_set_errno(error, errno, "cannot take '%s' back", tmp);
  return TRUE;
}

static gboolean write_ref(const char *cache, const char *ref, const char *digest, GError **error) {
  g_autofree char *refs = g_build_filename(cache, "refs", NULL);
  g_autofree char *file = ref_file(cache, ref);
  g_autofree char *text = g_strdup_printf("%s\n%s\n", ref, digest);
  return make_dir(refs, 0755, error) && nl_write_file(file, text, -1, 0644, error);
}

/* Pulls N into the layout TMP/layout, and unpacks it into the cache
 * unless its digest is there already. Returns the rootfs. */
static char *pull_into(const char *cache, const char *n, const char *tmp, const struct passwd *user,
                       const NlProgress *say, GError **error) {
  nl_say(say, NL_SAY_NOTICE, "pulling %s", n);
  /* skopeo reads registries.conf (mirrors), policy.json and the user's
   * credentials; it only writes the layout. Signatures cannot go into an
   * OCI layout and are not what a lab checks. Debian 12's skopeo does not
   * read $CONTAINERS_REGISTRIES_CONF itself, as later ones do. */
  const char *conf = g_getenv("CONTAINERS_REGISTRIES_CONF");
  const char *copy[] = {"skopeo", "copy", "--remove-signatures", n, "oci:layout:netlab", NULL};
  const char *copy_conf[] = {"skopeo", "--registries-conf", conf, "copy", "--remove-signatures",
                             n,        "oci:layout:netlab", NULL};
  if (!run_tool(conf && *conf ? copy_conf : copy, NULL, tmp, say, error)) return NULL;
  g_autofree char *layout = g_build_filename(tmp, "layout", NULL);
  g_autofree char *digest = layout_digest(layout, error);
  if (!digest) return NULL;
  g_autofree char *root = root_dir(cache, digest);
  if (!g_file_test(root, G_FILE_TEST_IS_DIR)) {
    nl_say(say, NL_SAY_NOTICE, "unpacking %s (%s)", n, digest);
    g_autofree char *unpacked = g_build_filename(tmp, "bundle", "rootfs", NULL);
    /* Only the rootfs goes into the cache, in a directory of netlab's:
     * the rest of umoci's bundle is the unpacking user's. */
    g_autofree char *mine = g_build_filename(tmp, "root", NULL);
    g_autofree char *rootfs = g_build_filename(mine, "rootfs", NULL);
    g_autofree char *size_file = g_build_filename(mine, "size", NULL);
    guint64 bytes = 0;
    if (!unpack(tmp, user, say, error) || !convert_root(unpacked, &bytes, error)) return NULL;
    g_autofree char *size = g_strdup_printf("%" G_GUINT64_FORMAT "\n", bytes);
    if (!make_dir(mine, 0755, error) || !nl_write_file(size_file, size, -1, 0644, error))
      return NULL;
    if (rename(unpacked, rootfs) != 0 || rename(mine, root) != 0) {
      nl_set_errno(error, errno, "cannot move the unpacked image to '%s'", root);
      return NULL;
    }
  }
  if (!write_ref(cache, n, digest, error)) return NULL;
  return g_build_filename(root, "rootfs", NULL);
}

char *nl_image_pull(const char *cache, const char *ref, const NlProgress *say, GError **error) {
  g_autofree char *n = nl_image_normalize(ref, error);
  if (!n) return NULL;
  struct passwd *user = NULL;
  if (geteuid() == 0 && !(user = getpwnam(UNPACK_USER))) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "user '%s' does not exist: images are unpacked as that user when root runs "
                "netlab (scripts/setup creates it)",
                UNPACK_USER);
    return NULL;
  }
  g_autofree char *tmps = g_build_filename(cache, "tmp", NULL);
  g_autofree char *roots = g_build_filename(cache, "roots", NULL);
  g_autofree char *tmp = g_build_filename(tmps, "pull-XXXXXX", NULL);
  int lock = lock_cache(cache, error);
  if (lock < 0) return NULL;
  char *rootfs = NULL;
  if (make_dir(tmps, 0711, error) && make_dir(roots, 0755, error)) {
    if (g_mkdtemp_full(tmp, 0700)) {
      rootfs = pull_into(cache, n, tmp, user, say, error);
      remove_tree(tmp, NULL);
    } else {
      nl_set_errno(error, errno, "cannot create a directory in '%s'", tmps);
    }
  }
  close(lock);
  return rootfs;
}

/* ---- ls, rm, prune ---- */

void nl_image_entry_free(NlImageEntry *e) {
  if (!e) return;
  g_free(e->ref);
  g_free(e->digest);
  g_free(e);
}

static int entry_cmp(gconstpointer a, gconstpointer b) {
  return strcmp((*(NlImageEntry *const *)a)->ref, (*(NlImageEntry *const *)b)->ref);
}

GPtrArray *nl_image_list(const char *cache, GError **error) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nl_image_entry_free);
  g_autofree char *refs = g_build_filename(cache, "refs", NULL);
  g_autoptr(GDir) d = g_dir_open(refs, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    g_autofree char *file = g_build_filename(refs, name, NULL);
    NlImageEntry *e = g_new0(NlImageEntry, 1);
    if (!read_ref(file, &e->ref, &e->digest)) {
      nl_image_entry_free(e);
      continue;
    }
    g_autofree char *root = root_dir(cache, e->digest);
    g_autofree char *size_file = g_build_filename(root, "size", NULL);
    g_autofree char *size = NULL;
    if (g_file_get_contents(size_file, &size, NULL, NULL))
      e->bytes = g_ascii_strtoull(size, NULL, 10);
    g_ptr_array_add(out, e);
  }
  g_ptr_array_sort(out, entry_cmp);
  return out;
}

/* A directory's identity, "DEV:INO": a root is the same whatever path
 * led to it (a cache named through a link). */
static char *dir_id(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  return g_strdup_printf("%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
}

/* The roots nodes of the labs that are up boot on (NL_IMAGE_STATE_KEY):
 * dir_id() of the root (the directory above rootfs/) -> "node 'N' of lab
 * 'DIR'". */
static GHashTable *roots_booted(void) {
  GHashTable *used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) labs = nl_state_list(NULL);
  for (guint i = 0; labs && i < labs->len; i++) {
    const NlLabUp *l = labs->pdata[i];
    for (guint k = 0; k < l->nodes->len; k++) {
      const char *node = l->nodes->pdata[k];
      g_autofree char *key = g_strconcat(NL_IMAGE_STATE_KEY, node, NULL);
      g_autofree char *file = nl_layout_key(l->dir, key);
      g_autofree char *rootfs = NULL;
      gsize len = 0;
      if (!nl_read_file_max(file, PATH_MAX, &rootfs, &len, NULL)) continue;
      g_autofree char *root = g_path_get_dirname(g_strchomp(rootfs));
      char *id = dir_id(root);
      if (id && !g_hash_table_contains(used, id))
        g_hash_table_insert(used, id,
                            g_strdup_printf("node '%s' of lab '%s' boots on it", node, l->lab));
      else
        g_free(id);
    }
  }
  return used;
}

/* Why the root ROOT must stay (a node boots on it), or NULL. */
static const char *root_booted(GHashTable *used, const char *root) {
  g_autofree char *id = dir_id(root);
  return id ? g_hash_table_lookup(used, id) : NULL;
}

/* Roots no reference names, and interrupted pulls, are removed; not those
 * nodes of running labs boot on (USED_BY), each said to SAY. */
static gboolean sweep(const char *cache, GHashTable *used_by, guint64 *freed, const NlProgress *say,
                      GError **error) {
  g_autoptr(GPtrArray) in_use = nl_image_list(cache, error);
  g_autofree char *roots = g_build_filename(cache, "roots", NULL);
  g_autoptr(GDir) d = g_dir_open(roots, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    gboolean used = FALSE;
    for (guint i = 0; !used && i < in_use->len; i++)
      used = g_str_equal(digest_hex(((NlImageEntry *)in_use->pdata[i])->digest), name);
    if (used) continue;
    g_autofree char *root = g_build_filename(roots, name, NULL);
    const char *booted = root_booted(used_by, root);
    if (booted) {
      nl_say(say, NL_SAY_NOTICE, "kept %s, which no reference names: %s", root, booted);
      continue;
    }
    g_autofree char *size_file = g_build_filename(root, "size", NULL);
    g_autofree char *size = NULL;
    if (freed && g_file_get_contents(size_file, &size, NULL, NULL))
      *freed += g_ascii_strtoull(size, NULL, 10);
    if (!remove_tree(root, error)) return FALSE;
  }
  g_autofree char *tmps = g_build_filename(cache, "tmp", NULL);
  g_autoptr(GDir) t = g_dir_open(tmps, 0, NULL);
  while (t && (name = g_dir_read_name(t))) {
    g_autofree char *path = g_build_filename(tmps, name, NULL);
    if (!remove_tree(path, error)) return FALSE;
  }
  return TRUE;
}

gboolean nl_image_remove(const char *cache, const char *ref, GError **error) {
  g_autofree char *n = nl_image_normalize(ref, error);
  if (!n) return FALSE;
  g_autofree char *file = ref_file(cache, n);
  if (!g_file_test(file, G_FILE_TEST_EXISTS)) {
    g_set_error(error, NL_ERROR, NL_ERROR_INPUT, "image %s is not in the cache %s", n, cache);
    return FALSE;
  }
  int lock = lock_cache(cache, error);
  if (lock < 0) return FALSE;
  g_autoptr(GHashTable) used_by = roots_booted();
  /* Its root goes unless another reference names it. */
  g_autofree char *got = NULL, *digest = NULL;
  g_autoptr(GPtrArray) all = read_ref(file, &got, &digest) ? nl_image_list(cache, NULL) : NULL;
  guint sharing = 0;
  for (guint i = 0; all && i < all->len; i++)
    sharing += g_str_equal(((NlImageEntry *)all->pdata[i])->digest, digest);
  g_autofree char *root = digest ? root_dir(cache, digest) : NULL;
  const char *booted = root && sharing < 2 ? root_booted(used_by, root) : NULL;
  if (booted) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "image %s is in use: %s (take that lab down first)", n, booted);
    close(lock);
    return FALSE;
  }
  gboolean ok = unlink(file) == 0 || nl_set_errno(error, errno, "cannot remove '%s'", file);
  ok = ok && sweep(cache, used_by, NULL, NULL, error);
  close(lock);
  return ok;
}

gboolean nl_image_prune(const char *cache, guint64 *freed, const NlProgress *say, GError **error) {
  *freed = 0;
  if (!g_file_test(cache, G_FILE_TEST_IS_DIR)) return TRUE;
  int lock = lock_cache(cache, error);
  if (lock < 0) return FALSE;
  g_autoptr(GHashTable) used_by = roots_booted();
  gboolean ok = sweep(cache, used_by, freed, say, error);
  close(lock);
  return ok;
}

/* ---- what a node needs of its root ---- */

/* The mode the guest sees of PATH (from user.virtfs.mode), 0 if none. */
static guint32 guest_mode(const char *path) {
  guint32 m = 0;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  if (fgetxattr(fd, "user.virtfs.mode", &m, sizeof m) != sizeof m) m = 0;
  close(fd);
  return GUINT32_FROM_LE(m);
}

/* PATH (absolute, in the image) resolved as the guest would, links of the
 * converted tree followed inside ROOTFS only: the host path, or NULL. */
static char *resolve_in(const char *rootfs, const char *path) {
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  for (int i = g_strv_length(parts) - 1; i >= 0; i--)
    if (*parts[i]) g_ptr_array_add(todo, g_strdup(parts[i]));
  g_autoptr(GString) at = g_string_new("");
  for (guint hops = 0; todo->len > 0;) {
    g_autofree char *part = g_ptr_array_steal_index(todo, todo->len - 1);
    if (g_str_equal(part, ".")) continue;
    if (g_str_equal(part, "..")) {
      char *slash = strrchr(at->str, '/');
      if (slash) g_string_truncate(at, slash - at->str);
      continue;
    }
    g_autofree char *host = g_strconcat(rootfs, at->str, "/", part, NULL);
    guint32 m = guest_mode(host);
    if (!S_ISLNK(m)) {
      g_string_append_printf(at, "/%s", part);
      continue;
    }
    g_autofree char *target = NULL;
    gsize len;
    if (++hops > 40 || !nl_read_file_max(host, 4096, &target, &len, NULL)) return NULL;
    if (target[0] == '/') g_string_truncate(at, 0);
    g_auto(GStrv) tparts = g_strsplit(target, "/", -1);
    for (int i = g_strv_length(tparts) - 1; i >= 0; i--)
      if (*tparts[i]) g_ptr_array_add(todo, g_strdup(tparts[i]));
  }
  return g_strconcat(rootfs, at->str, NULL);
}

char *nl_image_check_root(const char *rootfs) {
  g_autofree char *sh = resolve_in(rootfs, "/bin/sh");
  guint32 m = sh ? guest_mode(sh) : 0;
  if (S_ISREG(m) && (m & 0111)) return NULL;
  return g_strdup(
      "the image has no /bin/sh, which runs netlab's second stage and the "
      "startup scripts");
}
