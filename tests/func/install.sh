#!/bin/sh
# `meson install` into a DESTDIR gives a netlab that works from there: its
# programs, modules, templates, kernel fragments, web page, manual page and
# completion are installed, and labs/hello comes up and down with the
# installed netlab alone, which finds its helpers, modules, templates,
# kernel fragments and page under the prefix it runs from (the marks put
# into the installed stage2 and page show on the console and in the page).
. "$(dirname "$0")/lib.sh"

: "${NETLAB_BUILD:?set by meson: the build directory}"
dest=$tmp/dest
meson install -C "$NETLAB_BUILD" --destdir "$dest" --no-rebuild >"$tmp/install.out" 2>&1
ok $? "meson install --destdir"
diag <"$tmp/install.out" | tail -5

# Where meson put things, as this build is configured.
dirs=$(meson introspect --buildoptions "$NETLAB_BUILD" | python3 -c '
import json, sys
o = {b["name"]: b["value"] for b in json.load(sys.stdin)}
print(o["prefix"], *(o[k] for k in ("bindir", "libexecdir", "libdir", "datadir", "mandir")))')
set -- $dirs
root=$dest$1 bindir=$2 libexecdir=$3 libdir=$4 datadir=$5 mandir=$6
inst=$root/$bindir/netlab

missing=
for f in "$bindir/netlab" "$libexecdir/netlab-agent" "$libexecdir/netlab-svc" \
  "$libexecdir/netlab-agent-static" "$libexecdir/netlab-svc-static" \
  "$libexecdir/netlab-relay" "$libexecdir/netlab-log" "$libdir/netlab/netlab-virt.so" \
  "$libdir/netlab/netlab-disk.so" "$libdir/netlab/netlab-capture.so" \
  "$datadir/netlab/templates/init" "$datadir/netlab/templates/stage2" \
  "$datadir/netlab/templates/quagga" "$datadir/netlab/kernel-config/base.config" \
  "$datadir/netlab/web/index.html" "$datadir/netlab/web/app.js" \
  "$datadir/netlab/web/style.css" "$mandir/man1/netlab.1"; do
  [ -f "$root/$f" ] || missing="$missing $f"
done
[ -z "$missing" ]
ok $? "programs, modules, templates, kernel fragments, web page and manual page are installed${missing:+ (missing:$missing)}"
for t in init stage2 quagga; do [ -x "$root/$datadir/netlab/templates/$t" ] || missing="$missing $t"; done
[ -z "$missing" ]
ok $? "the templates stay executable"
find "$dest" -path '*/completions/netlab' -type f | grep -q .
ok $? "the bash completion is installed"
[ "$(ls "$root/$bindir")" = netlab ]
ok $? "nothing but netlab in the installed bindir: the rest is found under the prefix"

"$inst" --version >"$tmp/version.out" 2>&1 && grep -q '^netlab ' "$tmp/version.out"
ok $? "the installed netlab runs ($(cat "$tmp/version.out"))"

# A fragment that does not exist is refused before any build, naming where
# netlab looked for it: the installed kernel-config/.
"$inst" kernel build --config no-such-fragment >"$tmp/frag.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qF "($root/$datadir/netlab/kernel-config/no-such-fragment.config)" "$tmp/frag.out"
ok $? "kernel fragments are looked for in the installed kernel-config/ (status $rc)"
diag <"$tmp/frag.out"

# A mark of the installed templates, which the node's console shows when
# they, and not the source tree's, are what the VM boots.
sed -i 's|^exec </dev/null >/dev/console 2>&1$|&\necho netlab-installed-stage2|' \
  "$root/$datadir/netlab/templates/stage2"
grep -q '^echo netlab-installed-stage2$' "$root/$datadir/netlab/templates/stage2"
ok $? "a mark in the installed stage2"

# And one of the installed page, which netlab web serves.
echo '<!-- netlab-installed-page -->' >>"$root/$datadir/netlab/web/index.html"

a=$(copy_lab hello "$tmp/a")
NETLAB=$inst
"$NETLAB" up "$a" >"$tmp/up.out" 2>&1
ok $? "the installed netlab brings labs/hello up"
diag <"$tmp/up.out"
grep -qx 'r1 reached r2' "$a/shared/ping.r1" 2>/dev/null
ok $? "r1's startup script reached r2"
"$NETLAB" console --log -d "$a" r1 | grep -q '^netlab-installed-stage2'
ok $? "r1 booted the installed templates (its console log shows the mark)"
[ "$("$NETLAB" exec -d "$a" r1 -- hostname)" = r1 ]
ok $? "exec through the installed agent"
status_of "$a" 'vm("r2")["state"] == "running"' >/dev/null
ok $? "status through the installed libvirt module"

# netlab web, from the install: the page and the xterm.js it loads come from
# the installed data directory.
env -u NETLAB_WEB_DIR "$NETLAB" web --listen 127.0.0.1:0 "$a" >"$tmp/web.out" 2>"$tmp/web.err" &
webpid=$!
wait_for 10 grep -q '^http://127.0.0.1:[0-9]*/?token=[0-9a-f]*$' "$tmp/web.out"
ok $? "the installed netlab web prints its URL"
diag <"$tmp/web.err"
url=$(head -1 "$tmp/web.out")
base=${url%%/\?token=*}
tok=${url##*token=}
curl -sf --max-time 5 -o "$tmp/page.html" "$url" &&
  grep -q 'netlab-installed-page' "$tmp/page.html" && grep -qF "$tok" "$tmp/page.html"
ok $? "it serves the installed page, with its token"
xterm=web/node_modules/@xterm/xterm/lib/xterm.js
if [ -f "$NETLAB_SRC/$xterm" ]; then
  [ -f "$root/$datadir/netlab/$xterm" ] &&
    curl -sf --max-time 5 -o "$tmp/xterm.js" "$base/vendor/xterm.js?token=$tok" &&
    cmp -s "$tmp/xterm.js" "$root/$datadir/netlab/$xterm"
  ok $? "it serves the installed xterm.js"
else
  tap_n=$((tap_n + 1))
  echo "ok $tap_n # SKIP no $xterm in the source tree (scripts/setup installs it)"
fi
kill "$webpid"
wait "$webpid" 2>/dev/null

"$NETLAB" down "$a" >"$tmp/down.out" 2>&1
ok $? "the installed netlab takes it down"
diag <"$tmp/down.out"
[ -z "$(procs_of "$a")" ]
ok $? "nothing of the lab is left"
finish
