/* netlab-svc's parsers (src/guest/svc-unit.c): durations, specifiers, unit
 * files with continuation lines and comments, Exec lines with quotes and
 * variables, EnvironmentFile= lines. */
#include <stdlib.h>
#include <unistd.h>

#include "svc.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test-svc.XXXXXX";

/* A file named NAME in the test's directory holding TEXT. */
static char *file(const char *name, const char *text) {
  char *path = xprintf("%s/%s", tmpdir, name);
  TAP_OK(write_text(path, text) == 0, "wrote %s", name);
  return path;
}

/* What parse_unit_file() allocated in U (netlab-svc itself exits instead). */
static void unit_clear(Unit *u) {
  Strv *lists[] = {&u->start_pre, &u->start, &u->start_post, &u->stop,         &u->stop_post,
                   &u->reload,    &u->env,   &u->env_files,  &u->runtime_dirs, &u->conditions};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) strv_clear(lists[i]);
  char *strs[] = {u->description, u->type, u->pidfile, u->user, u->group, u->workdir};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) free(strs[i]);
}

/* The words of LINE, joined by '|'. */
static char *words(const char *line, const Strv *env) {
  Strv argv = {0};
  exec_words(line, env, &argv);
  char *out = xstrdup("");
  for (int i = 0; i < argv.n; i++) {
    char *next = xprintf("%s%s%s", out, i ? "|" : "", argv.v[i]);
    free(out);
    out = next;
  }
  strv_clear(&argv);
  return out;
}

static void test_seconds(void) {
  TAP_OK(parse_seconds("90", 7) == 90, "seconds: a bare number");
  TAP_OK(parse_seconds("5s", 7) == 5 && parse_seconds("5 sec", 7) == 5, "seconds: s and sec");
  TAP_OK(parse_seconds("2min", 7) == 120 && parse_seconds("2m", 7) == 120, "seconds: min and m");
  TAP_OK(parse_seconds("1500ms", 7) == 1 && parse_seconds("10ms", 7) == 1,
         "seconds: ms, never below one second");
  TAP_OK(parse_seconds("infinity", 7) == 24 * 3600, "seconds: infinity is a day");
  TAP_OK(parse_seconds("soon", 7) == 7 && parse_seconds("3h", 7) == 7,
         "seconds: what is not understood keeps the fallback");
}

static void test_specifiers(void) {
  Unit u = {0};
  unit_defaults(&u);
  snprintf(u.name, sizeof u.name, "getty@tty1.service");
  char *s = expand_specifiers(&u, "%n %p %i %t/%p %% %q");
  TAP_STREQ(s, "getty@tty1.service getty tty1 /run/getty % %q",
            "specifiers: name, prefix, instance, runtime dir, %%, unknown kept");
  free(s);
}

static void test_unit_file(void) {
  char *path = file("frr.service",
                    "[Unit]\n"
                    "Description=FRRouting %n\n"
                    "# a comment\n"
                    "[Service]\n"
                    "Type = forking\n"
                    "ExecStart=/usr/lib/frr/frrinit.sh \\\n"
                    "  start\n"
                    "ExecStop=/usr/lib/frr/frrinit.sh stop\n"
                    "Environment=\"A=1 2\" B=3\n"
                    "; another comment\n"
                    "TimeoutSec=2min\n"
                    "RemainAfterExit=yes\n"
                    "PIDFile=/run/frr/%p.pid\n"
                    "[Install]\n"
                    "WantedBy=multi-user.target\n");
  Unit u = {0};
  unit_defaults(&u);
  snprintf(u.name, sizeof u.name, "frr.service");
  TAP_OK(parse_unit_file(&u, path) == 0, "unit file: read");
  TAP_STREQ(u.description, "FRRouting frr.service", "unit file: Description, specifiers expanded");
  TAP_STREQ(u.type, "forking", "unit file: spaces around '=' are not part of key or value");
  TAP_OK(u.start.n == 1, "unit file: one ExecStart (%d)", u.start.n);
  TAP_STREQ(u.start.n ? u.start.v[0] : NULL, "/usr/lib/frr/frrinit.sh    start",
            "unit file: a line ending in '\\' goes on on the next");
  TAP_OK(u.timeout_start == 120 && u.timeout_stop == 120, "unit file: TimeoutSec sets both");
  TAP_OK(u.remain, "unit file: RemainAfterExit=yes");
  TAP_STREQ(u.pidfile, "/run/frr/frr.pid", "unit file: PIDFile with %%p");
  TAP_OK(u.env.n == 2, "unit file: Environment= with a quoted pair gives two (%d)", u.env.n);
  TAP_STREQ(u.env.n > 0 ? u.env.v[0] : NULL, "A=1 2", "unit file: quotes keep a value's spaces");
  TAP_OK(parse_unit_file(&u, "/nonexistent/x.service") < 0, "unit file: a missing file fails");
  unit_clear(&u);
  free(path);
}

static void test_exec_words(void) {
  Strv env = {0};
  env_set(&env, "OPTS=-d -A 127.0.0.1");
  env_set(&env, "DIR=/etc/frr");
  env_set(&env, "DIR=/etc/frr2");
  char *w = words("/usr/sbin/zebra $OPTS --config ${DIR}/zebra.conf", &env);
  TAP_STREQ(w, "/usr/sbin/zebra|-d|-A|127.0.0.1|--config|/etc/frr2/zebra.conf",
            "exec: a bare $VAR splits into words, ${VAR} inside a word does not, the last "
            "value wins");
  free(w);
  w = words("sh -c 'echo \"$OPTS\" a\\tb' \"two words\" $NONE end", &env);
  TAP_STREQ(w, "sh|-c|echo \"$OPTS\" a\\tb|two words|end",
            "exec: single quotes keep everything, double quotes group, an unset $VAR is no word");
  free(w);
  w = words("printf a\\nb", &env);
  TAP_STREQ(w, "printf|a\nb", "exec: \\n outside quotes is a newline");
  free(w);
  strv_clear(&env);
}

static void test_env_file(void) {
  char *path = file("env",
                    "# comment\n"
                    "; comment\n"
                    "export A=1\n"
                    "C=\"quoted value\"\n"
                    "D='single'\n"
                    "no equals sign\n");
  Strv env = {0};
  TAP_OK(read_env_file(path, &env) == 0, "env file: read");
  char *all = xstrdup("");
  for (int i = 0; i < env.n; i++) {
    char *next = xprintf("%s%s%s", all, i ? "|" : "", env.v[i]);
    free(all);
    all = next;
  }
  TAP_STREQ(all, "A=1|C=quoted value|D=single",
            "env file: export, comments, quotes; lines without '=' skipped");
  free(all);
  strv_clear(&env);
  TAP_OK(read_env_file("/nonexistent/env", &env) < 0, "env file: a missing file fails");
  free(path);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  test_seconds();
  test_specifiers();
  test_unit_file();
  test_exec_words();
  test_env_file();
  char *cmd = xprintf("rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
  free(cmd);
  return tap_done();
}
