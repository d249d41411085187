#!/bin/sh
# `up` killed with -9 while VMs boot, the lab's directory removed, then
# `down`: nothing may be left. Also
# `up` interrupted with Ctrl-C tears down what it started by itself.
. "$(dirname "$0")/lib.sh"

wait_for_qemu() { # LAB: until a QEMU of LAB runs (at most 60 s)
  for _ in $(seq 600); do
    sd=$(ls -d /run/netlab/* "${XDG_RUNTIME_DIR:-/nonexistent}"/netlab/* /tmp/netlab-"$(id -u)"/* 2>/dev/null |
      while read -r d; do [ "$(cat "$d/lab" 2>/dev/null)" = "$1" ] && echo "$d"; done)
    [ -n "$sd" ] && ls "$sd"/run/qemu/r*.pid >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# kill -9 of up once its LAN (a wire) runs, before any QEMU: down cleans that too.
early=$(copy_lab hello "$tmp/e")
"$NETLAB" up "$early" >"$tmp/early.out" 2>&1 &
up=$!
for _ in $(seq 600); do
  se=$(ls -d /run/netlab/* "${XDG_RUNTIME_DIR:-/nonexistent}"/netlab/* /tmp/netlab-"$(id -u)"/* 2>/dev/null |
    while read -r d; do [ "$(cat "$d/lab" 2>/dev/null)" = "$early" ] && echo "$d"; done)
  [ -n "$se" ] && grep -q '^\(switch\|wire\) ' "$se/procs" 2>/dev/null && break
  sleep 0.05
done
kill -9 $up
wait $up 2>/dev/null
"$NETLAB" down "$early" >"$tmp/down-early.out" 2>&1
ok $? "netlab down after up was killed as its LAN started"
[ -n "$se" ] && [ -z "$(procs_of "$se")" ] && [ ! -e "$se" ]
ok $? "and nothing is left"

lab=$(copy_lab hello "$tmp/k")
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1 &
up=$!
wait_for_qemu "$lab"
ok $? "a QEMU of the lab started"
kill -9 $up
wait $up 2>/dev/null
[ -n "$(procs_of "$sd")" ]
ok $? "after kill -9 of up, its VMs and switch are still there ($(procs_of "$sd" | wc -l) processes)"
# As when a test is killed and its temporary copy of the lab removed.
mv "$lab" "$lab.moved"
"$NETLAB" down "$lab" >"$tmp/down.out" 2>&1
ok $? "netlab down, with the lab's directory gone"
diag <"$tmp/down.out"
left=$(procs_of "$sd")
[ -z "$left" ]
ok $? "no QEMU or vde_switch left ($left)"
[ ! -e "$sd" ]
ok $? "no state directory left"
rm -rf "$(data_dir "$lab")"

lab2=$(copy_lab hello "$tmp/i")
"$NETLAB" up "$lab2" >"$tmp/up2.out" 2>&1 &
up=$!
wait_for_qemu "$lab2"
kill -INT $up
wait $up
rc=$?
[ $rc -ne 0 ] && grep -q interrupted "$tmp/up2.out"
ok $? "Ctrl-C makes up fail ($rc) and say so"
diag <"$tmp/up2.out"
[ -z "$(procs_of "$sd")" ] && [ ! -e "$sd" ]
ok $? "and it leaves no process and no state directory"
# up's teardown removes the state directory, where (as root) the lab is
# bound for QEMU: it must never remove through that bind.
[ -f "$lab2/lab.conf" ] && [ -f "$lab2/r1.startup" ] && [ -d "$lab2/tests" ]
ok $? "and the lab's own files are all still there"
finish
