#!/bin/sh
# `meson install` into a DESTDIR gives a netlab that works from there: its
# programs, modules, templates, kernel fragments, manual page and completion
# are installed, and labs/hello comes up and down with the installed netlab
# alone, which finds its helpers, modules, templates and kernel fragments
# under the prefix it runs from (the mark put into the installed stage2
# shows on the console).
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
  "$mandir/man1/netlab.1"; do
  [ -f "$root/$f" ] || missing="$missing $f"
done
[ -z "$missing" ]
ok $? "programs, modules, templates, kernel fragments and manual page are installed${missing:+ (missing:$missing)}"
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
"$NETLAB" down "$a" >"$tmp/down.out" 2>&1
ok $? "the installed netlab takes it down"
diag <"$tmp/down.out"
[ -z "$(procs_of "$a")" ]
ok $? "nothing of the lab is left"
finish
