#!/bin/sh
# Kathará's lstart NODE..., --exclude and lrestart: `up --exclude c` starts
# a and b of a three-node LAN; `up LABDIR c` then starts c beside them, on
# the running LAN; `restart c` boots c again clean (its overlay fresh) while
# a and b stay, and they reach it again.
. "$(dirname "$0")/lib.sh"

lab="$tmp/p"
lan3 "$lab"
pid_of() { status_of "$lab" "vm('$1')['pid']"; }
reach() { "$NETLAB" exec --dir "$lab" "$1" -- ping -c 1 -W 2 "$2" >/dev/null 2>&1; }

"$NETLAB" up --timeout 900 --exclude c "$lab" >"$tmp/up1.out" 2>&1
ok $? "up --exclude c"
diag <"$tmp/up1.out"
"$NETLAB" status "$lab" >"$tmp/st1.out" 2>&1
grep -q '^a  *running' "$tmp/st1.out" && grep -q '^b  *running' "$tmp/st1.out" &&
  ! status_of "$lab" 'vm("c")' >/dev/null
ok $? "a and b run, c is not started"
wait_for 30 reach a 10.0.0.2
ok $? "a reaches b"
"$NETLAB" exec --dir "$lab" c -- true >/dev/null 2>&1
[ $? -eq 125 ]
ok $? "exec in c: 125, it is not up"
a_pid=$(pid_of a)

"$NETLAB" up "$lab" a >"$tmp/again.out" 2>&1
[ $? -ne 0 ] && grep -q "'a' is up already" "$tmp/again.out"
ok $? "up of a running node is refused, naming it"
diag <"$tmp/again.out"

"$NETLAB" up --timeout 900 "$lab" c >"$tmp/up2.out" 2>&1
ok $? "up LABDIR c: the rest of the lab"
diag <"$tmp/up2.out"
grep -q "1 VMs ready" "$tmp/up2.out"
ok $? "it started c alone"
wait_for 30 reach c 10.0.0.1 && reach a 10.0.0.3
ok $? "c and a reach each other over the LAN that was running"
[ "$(pid_of a)" = "$a_pid" ]
ok $? "a was not touched (its QEMU is the same, pid $a_pid)"

"$NETLAB" up "$lab" >"$tmp/up3.out" 2>&1
[ $? -ne 0 ] && grep -q "already up" "$tmp/up3.out"
ok $? "up of a lab whose every node is up is refused"

# /etc is in the overlay (/root is the host's, which the QEMU user cannot write).
"$NETLAB" exec --dir "$lab" c -- sh -c 'echo written >/etc/netlab-mark'
ok $? "c writes /etc/netlab-mark"
c_pid=$(pid_of c)
"$NETLAB" restart --timeout 900 --dir "$lab" c >"$tmp/restart.out" 2>&1
ok $? "restart c"
diag <"$tmp/restart.out"
[ -n "$(pid_of c)" ] && [ "$(pid_of c)" != "$c_pid" ]
ok $? "c runs a new QEMU ($c_pid, now $(pid_of c))"
"$NETLAB" exec --dir "$lab" c -- test -e /etc/netlab-mark
[ $? -eq 1 ]
ok $? "c's overlay is fresh: what it wrote is gone"
wait_for 30 reach a 10.0.0.3 && reach b 10.0.0.3 && reach c 10.0.0.2
ok $? "its neighbours reach it again, and it reaches them"
[ "$(pid_of a)" = "$a_pid" ]
ok $? "a was not touched by the restart"
"$NETLAB" restart --dir "$lab" d >"$tmp/bad.out" 2>&1
[ $? -eq 2 ] && grep -q "'d' is no node" "$tmp/bad.out"
ok $? "restart of an unknown node: status 2, naming it"

sd=$(state_dir "$lab")
"$NETLAB" down "$lab" >/dev/null 2>&1
ok $? "down"
[ -n "$sd" ] && [ -z "$(procs_of "$sd")" ]
ok $? "nothing of the lab left running"
finish
