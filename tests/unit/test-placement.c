/* Where netlab keeps a lab's data (layout.h) and what a node on another host
 * is given of the lab (remote.h): pure or read-only, no VM. */
#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "remote.h"
#include "tap.h"

static gboolean has(GPtrArray *a, const char *s) {
  for (guint i = 0; i < a->len; i++)
    if (g_str_equal(a->pdata[i], s)) return TRUE;
  return FALSE;
}

int main(void) {
  g_autofree char *id = nl_layout_lab_id("/srv/labs/my lab&x");
  TAP_OK(g_regex_match_simple("^my_lab_x-[0-9a-f]{8}$", id, 0, 0),
         "a lab's id: its tamed name and a hash of its path (%s)", id);
  g_autofree char *other = nl_layout_lab_id("/srv/other/my lab&x");
  TAP_OK(strcmp(id, other) != 0, "two labs of one name get two ids (%s, %s)", id, other);

  /* The data directory never depends on the environment. */
  g_setenv("HOME", "/nonexistent-home", TRUE);
  g_setenv("XDG_DATA_HOME", "/nonexistent-data", TRUE);
  g_autofree char *data = nl_layout_data("/srv/labs/my lab&x");
  struct passwd *pw = getpwuid(geteuid());
  g_autofree char *want = geteuid() == 0
                              ? g_build_filename("/var/lib/netlab", id, NULL)
                              : g_build_filename(pw->pw_dir, ".local", "share", "netlab", id, NULL);
  TAP_STREQ(data, want,
            "the data directory: /var/lib/netlab for root, else the home of getpwuid()");
  g_autofree char *disk = nl_layout_disk("/srv/labs/my lab&x", "r1", ".qcow2");
  g_autofree char *log = nl_layout_console_log("/srv/labs/my lab&x", "r1");
  g_autofree char *art = nl_layout_artifacts("/srv/labs/my lab&x", "T");
  TAP_OK(g_str_has_prefix(disk, data) && g_str_has_prefix(log, data) &&
             g_str_has_prefix(art, data) && !strstr(disk, "/srv/labs"),
         "disks, logs and artifacts are in it, none in the lab (%s)", disk);
  g_autofree char *part = nl_layout_console_part(log, 2);
  g_autofree char *cut = nl_layout_console_cut(log);
  TAP_OK(g_str_has_suffix(part, "r1.console.log.2") && g_str_has_suffix(cut, "r1.console.log.cut"),
         "the console log's parts beside it");

  /* What other users may not read stays on this host. */
  g_autofree char *dir = g_dir_make_tmp("test-placement.XXXXXX", NULL);
  g_autofree char *pub = g_build_filename(dir, "pub", NULL);
  g_autofree char *secret = g_build_filename(dir, "secret", NULL);
  g_autofree char *sub = g_build_filename(dir, "private", NULL);
  g_autofree char *inner = g_build_filename(sub, "f", NULL);
  g_file_set_contents(pub, "x", -1, NULL);
  g_file_set_contents(secret, "x", -1, NULL);
  g_chmod(pub, 0644);
  g_chmod(secret, 0600);
  g_mkdir(sub, 0700);
  g_file_set_contents(inner, "x", -1, NULL);
  g_chmod(dir, 0755);
  g_autoptr(GPtrArray) left = nl_remote_unreadable(dir);
  TAP_OK(left->len == 2 && has(left, "/secret") && has(left, "/private"),
         "a node on another host gets no 0600 file nor 0700 directory (%u left out)", left->len);
  g_unlink(inner);
  g_rmdir(sub);
  g_unlink(secret);
  g_unlink(pub);
  g_rmdir(dir);
  return tap_done();
}
