#!/bin/sh
# labs/hello up, r1 reaches r2, status, a second lab with the same node names
# beside it, the lock, and a down that leaves nothing behind.
. "$(dirname "$0")/lib.sh"

a=$(copy_lab hello "$tmp/a")
"$NETLAB" up "$a" >"$tmp/up.out" 2>&1
ok $? "netlab up labs/hello"
diag <"$tmp/up.out"

grep -qx 'r1 reached r2' "$a/shared/ping.r1" 2>/dev/null
ok $? "r1's startup script reached r2 (checked through /shared)"

"$NETLAB" status --json "$a" >"$tmp/status.json"
ok $? "status --json"
n=$(python3 -c 'import json, sys; print(sum(v["state"] == "running" and v["pid"] > 0 for v in json.load(open(sys.argv[1]))["vms"]))' "$tmp/status.json")
[ "$n" -eq 2 ]
ok $? "status shows both VMs running with a QEMU pid ($n)"
"$NETLAB" ps -d "$a" | grep -q '^r1 .*running'
ok $? "'ps -d LABDIR' is status, in text"
# Without a kernel of `netlab kernel build`, Debian's, and up says what a
# built one saves, once.
if grep -q "booting Debian's kernel" "$tmp/up.out"; then want='/boot/vmlinuz-'; else want='/vmlinux ('; fi
[ "$(grep -c "booting Debian's kernel" "$tmp/up.out")" -le 1 ] &&
  [ "$("$NETLAB" status "$a" | grep -c "^ *kernel .*$want")" -eq 2 ]
ok $? "status shows the kernel each VM booted ($want...)"
sd=$(state_dir "$a")
# As root, the QEMU user's group may pass through it, and nobody else.
if [ "$(id -u)" = 0 ]; then want="710 root:netlab-qemu"; else want="700 $(id -un):$(id -gn)"; fi
[ -n "$sd" ] && [ "$(stat -c '%a %U:%G' "$sd")" = "$want" ]
ok $? "state directory $sd has mode and owners $want"
qemu_users=$(for p in $(procs_of "$sd"); do stat -c %U /proc/$p; done | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ]; then want="netlab-qemu "; else want="$(id -un) "; fi
[ "$qemu_users" = "$want" ]
ok $? "QEMU and vde_switch run as '$want' only, never as root ($qemu_users)"

grep -q 'netlab: r1 is ready' "$(data_dir "$a")/logs/r1.console.log"
ok $? "r1's console is logged"

"$NETLAB" up "$a" >"$tmp/again.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'already up' "$tmp/again.out"
ok $? "a second up of a running lab is refused (status $rc)"
diag <"$tmp/again.out"

b=$(copy_lab hello "$tmp/b")
"$NETLAB" up -d "$b" >"$tmp/up-b.out" 2>&1
ok $? "a second lab with the same node names comes up beside the first"
grep -qx 'r1 reached r2' "$b/shared/ping.r1" 2>/dev/null
ok $? "and its r1 reaches its own r2"
sdb=$(state_dir "$b")
[ -n "$sdb" ] && [ "$sdb" != "$sd" ]
ok $? "each lab has its own state directory"

"$NETLAB" down "$a" >/dev/null 2>&1
ok $? "netlab down"
[ -z "$(procs_of "$sd")" ]
ok $? "no QEMU or vde_switch of the lab is left"
[ ! -e "$sd" ]
ok $? "the state directory is gone"
status_of "$b" 'sum(v["state"] == "running" and v["pid"] > 0 for v in s["vms"]) == 2' >/dev/null
ok $? "the other lab still runs"
"$NETLAB" down "$a" >/dev/null 2>&1
ok $? "down again is harmless"

"$NETLAB" down "$b" >/dev/null 2>&1
[ -z "$(procs_of "$sdb")" ] && [ ! -e "$sdb" ]
ok $? "the second lab is down too, with nothing left"
finish
