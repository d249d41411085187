#!/bin/sh
# The same lab, up and down, as an ordinary user: the embedded libvirt driver
# and VDE need no root. Run as root, it borrows the user netlab-test.
. "$(dirname "$0")/lib.sh"

as_user() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  id netlab-test >/dev/null 2>&1 ||
    useradd --create-home --shell /bin/sh netlab-test
  as_user() { runuser -u netlab-test -- env NETLAB="$NETLAB" "$@"; }
fi

lab=$(copy_lab hello "$tmp/u")
# lib.sh's cleanup runs as root, and root's netlab does not see this user's labs.
trap 'as_user "$NETLAB" down "$lab" >/dev/null 2>&1; cleanup' EXIT
[ "$(id -u)" -eq 0 ] && chown -R netlab-test "$lab"
as_user "$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up as $(as_user id -un)"
diag <"$tmp/up.out"
grep -qx 'r1 reached r2' "$lab/.netlab/ping.r1" 2>/dev/null
ok $? "r1 reached r2"
as_user "$NETLAB" status --json "$lab" >"$tmp/status.json"
sd=$(sed -n 's/.*"state_dir": "\([^"]*\)".*/\1/p' "$tmp/status.json")
n=$(grep -c '"domain": .*"state": "running", "pid": [1-9]' "$tmp/status.json")
[ "$n" -eq 2 ]
ok $? "both VMs run ($n), state in $sd"
qemu_user=$(for p in $(procs_of "$sd"); do stat -c %U /proc/$p; done | sort -u | tr '\n' ' ')
[ "$qemu_user" = "$(as_user id -un) " ]
ok $? "QEMU and vde_switch run as that user ($qemu_user)"
as_user "$NETLAB" down "$lab" >/dev/null 2>&1
ok $? "down"
[ -z "$(procs_of "$sd")" ] && [ ! -e "$sd" ]
ok $? "nothing left behind"
finish
