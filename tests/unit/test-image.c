/* image.c's pure parts: references made whole as Docker does, the pull
 * policies, and the unpacked root's checks on a tree made here. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "image.h"
#include "tap.h"

static void normal(const char *ref, const char *want) {
  g_autofree char *got = nl_image_normalize(ref, NULL);
  TAP_STREQ(got, want, "'%s' is %s", ref, want ? want : "refused");
}

/* PATH in the tree as the cache keeps it: a plain file whose guest mode is
 * MODE, holding TEXT (a link's target). */
static void put(const char *root, const char *path, guint32 mode, const char *text) {
  g_autofree char *host = g_build_filename(root, path, NULL);
  g_autofree char *dir = g_path_get_dirname(host);
  g_mkdir_with_parents(dir, 0755);
  if (S_ISDIR(mode))
    g_mkdir_with_parents(host, 0755);
  else
    g_file_set_contents(host, text, -1, NULL);
  guint32 le = GUINT32_TO_LE(mode);
  setxattr(host, "user.virtfs.mode", &le, sizeof le, 0);
}

int main(void) {
  normal("kathara/frr", "docker://docker.io/kathara/frr:latest");
  normal("busybox", "docker://docker.io/library/busybox:latest");
  normal("docker://alpine:3.19", "docker://docker.io/library/alpine:3.19");
  normal("lscr.io/linuxserver/wireshark:4.2", "docker://lscr.io/linuxserver/wireshark:4.2");
  normal("localhost:5000/x/y", "docker://localhost:5000/x/y:latest");
  normal(
      "kathara/bind@sha256:"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "docker://docker.io/kathara/bind@sha256:"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  normal("oci:/var/tmp/layout:busybox", "oci:/var/tmp/layout:busybox");
  normal("Kathara/FRR", NULL);
  normal("kathara/frr:", NULL);
  normal("../../etc", NULL);
  normal("oci:", NULL);
  normal("a b", NULL);

  NlPullPolicy p = NL_PULL_MISSING;
  TAP_OK(nl_image_parse_pull("never", &p) && p == NL_PULL_NEVER, "pull policy never");
  TAP_OK(nl_image_parse_pull("Always", &p) && p == NL_PULL_ALWAYS, "pull policy Always");
  TAP_OK(!nl_image_parse_pull("sometimes", &p), "pull policy sometimes is refused");

  TAP_OK(nl_image_host_equivalent("kathara/base") != NULL, "kathara/base is the host's root");
  TAP_OK(nl_image_host_equivalent("kathara/bind") == NULL, "kathara/bind is an image");
  TAP_OK(nl_image_host_equivalent("kathara/base:9.1") == NULL,
         "a tagged kathara/base is an image of its own");

  /* Links are resolved inside the root: /bin -> usr/bin, sh -> busybox. */
  g_autofree char *tmp = g_dir_make_tmp("netlab-image-XXXXXX", NULL);
  guint32 dir = S_IFDIR | 0755, lnk = S_IFLNK | 0777;
  put(tmp, "usr/bin", dir, NULL);
  put(tmp, "bin", lnk, "usr/bin");
  put(tmp, "usr/bin/busybox", S_IFREG | 0755, "ELF");
  g_autofree char *none = nl_image_check_root(tmp);
  TAP_OK(none != NULL && strstr(none, "/bin/sh"), "no /bin/sh: said why");
  put(tmp, "usr/bin/sh", lnk, "/bin/busybox");
  g_autofree char *ok = nl_image_check_root(tmp);
  TAP_OK(ok == NULL, "/bin/sh through a link of /bin and an absolute link: found (%s)",
         ok ? ok : "");
  put(tmp, "usr/bin/busybox", S_IFREG | 0644, "ELF");
  g_autofree char *noexec = nl_image_check_root(tmp);
  TAP_OK(noexec != NULL, "a /bin/sh that is not executable is no shell");
  put(tmp, "usr/bin/sh", lnk, "../../../../../bin/sh");
  g_autofree char *loop = nl_image_check_root(tmp);
  TAP_OK(loop != NULL, "a link to itself through .. beyond the root ends");
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp);
  TAP_OK(system(cmd) == 0, "cleaned up");
  return tap_done();
}
