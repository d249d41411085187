#!/bin/sh
# netlab link: impairment from lab.conf and at run time, measured in the VMs
# (delay, loss, rate within the tolerances below), link down and up as the
# guest sees it, show and reset, bad input that changes nothing, and status.
. "$(dirname "$0")/lib.sh"

lab=$tmp/link
lan3 "$lab" 'b[link]="eth0 delay=100ms"'
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "a 3-node lab with b[link]=\"eth0 delay=100ms\" comes up"
diag <"$tmp/up.out"
sd=$(state_dir "$lab")
cd "$lab" || exit 1

# min_rtt NODE ADDR: the least of 30 pings' RTT, in ms (the least, because
# the machine's load only ever adds to it), one at a time. Delays of 100 ms,
# because a loaded 2-core host made up to 10 ms of error either way.
min_rtt() {
  "$NETLAB" exec "$1" -- ping -q -c 30 -i 0.2 "$2" |
    sed -n 's#^rtt min/avg/max/mdev = \([0-9.]*\)/.*#\1#p'
}
# least X Y: the smaller
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
# within X LOW HIGH: LOW <= X <= HIGH
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

"$NETLAB" link b:eth0 show >"$tmp/show.out"
grep -qx 'b:eth0 A up delay=100ms' "$tmp/show.out"
ok $? "show: lab.conf's delay is in force ($(cat "$tmp/show.out"))"
base=$(least "$(min_rtt a 10.0.0.3)" "$(min_rtt a 10.0.0.3)")
lc=$(min_rtt a 10.0.0.2)
d=$(awk -v a="$lc" -v b="$base" 'BEGIN { print a - b }')
within "$d" 80 120
ok $? "b's lab.conf delay of 100 ms adds $d ms to a's RTT to b (base $base ms)"

"$NETLAB" link a:eth0 set delay=100ms >"$tmp/set.out"
ok $? "set delay=100ms on a:eth0"
grep -qx 'a:eth0 A up delay=100ms' "$tmp/set.out"
ok $? "set prints what is in force"
with=$(min_rtt a 10.0.0.3)
d=$(awk -v a="$with" -v b="$base" 'BEGIN { print a - b }')
within "$d" 80 120
ok $? "100 ms delay adds $d ms to the RTT (20 % tolerance)"
"$NETLAB" link a:eth0 reset >/dev/null
after=$(min_rtt a 10.0.0.3)
within "$(awk -v a="$after" -v b="$base" 'BEGIN { print a - b }')" -10 10
ok $? "reset takes it away ($after ms)"

"$NETLAB" link a:eth0 set loss=10% >/dev/null
"$NETLAB" exec a -- ping -q -c 500 -i 0.01 -W 2 10.0.0.3 >"$tmp/loss.out"
lost=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$tmp/loss.out")
# 500 pings at 10 %: a standard deviation of 1.3 %; 6..14 % is 3 of them.
within "$lost" 6 14
ok $? "loss=10% loses $lost % of 500 pings"
"$NETLAB" link a:eth0 reset >/dev/null

"$NETLAB" exec --detach c -- iperf3 -s -1 >/dev/null
wait_for 20 "$NETLAB" exec c -- sh -c 'ss -ltn | grep -q :5201'
# 1 Mbit/s: a VM under TCG on a loaded 2-core machine may send no more
# than a few Mbit/s (scripts/bench-instruments measures higher rates).
"$NETLAB" link a:eth0 set rate=1mbit >/dev/null
"$NETLAB" exec a -- iperf3 -c 10.0.0.3 -t 6 -f m >"$tmp/iperf.out" 2>&1
rate=$(sed -n 's/.* \([0-9.]*\) Mbits\/sec.*receiver/\1/p' "$tmp/iperf.out")
within "$rate" 0.8 1.2
ok $? "rate=1mbit caps iperf3 at $rate Mbit/s"
diag <"$tmp/iperf.out"
"$NETLAB" link a:eth0 reset >/dev/null

"$NETLAB" link a:eth0 set delay=5ms >/dev/null
before=$("$NETLAB" link a:eth0 show)
for bad in 'delay=50' 'loss=101%' 'loss=-1%' 'rate=10' 'colour=red'; do
  "$NETLAB" link a:eth0 set loss=5% "$bad" >/dev/null 2>"$tmp/bad.err"
  rc=$?
  [ $rc -eq 2 ] && grep -q "'$bad'" "$tmp/bad.err" &&
    [ "$("$NETLAB" link a:eth0 show)" = "$before" ]
  ok $? "set $bad: status $rc, named, nothing changed ($(cat "$tmp/bad.err"))"
done
"$NETLAB" link a:eth9 set delay=1ms >/dev/null 2>"$tmp/bad.err"
[ $? -eq 2 ] && grep -q "no interface 'eth9'" "$tmp/bad.err"
ok $? "an unknown interface: status 2, named"
"$NETLAB" link z:eth0 down >/dev/null 2>"$tmp/bad.err"
[ $? -eq 2 ] && grep -q "no node 'z'" "$tmp/bad.err"
ok $? "an unknown node: status 2, named"

"$NETLAB" link a:eth0 down
ok $? "link a:eth0 down"
"$NETLAB" exec a -- ip link show eth0 | grep -q 'NO-CARRIER'
ok $? "the guest sees NO-CARRIER"
! "$NETLAB" exec a -- ping -c 2 -W 1 10.0.0.2 >/dev/null
ok $? "ping fails while the link is down"
"$NETLAB" status "$lab" >"$tmp/status.out"
grep -q '^a *eth0 *A *[0-9a-f:]* *down *delay=5ms' "$tmp/status.out"
ok $? "status shows a's eth0: LAN, MAC, down, its impairment"
diag <"$tmp/status.out"
status_of "$lab" 'nic("a", 0)["lan"] == "A" and nic("a", 0)["link"] == "down" and nic("a", 0)["impairment"] == "delay=5ms"' >/dev/null
ok $? "and so does status --json"
"$NETLAB" link a:eth0 up
ok $? "link a:eth0 up"
"$NETLAB" exec a -- ip link show eth0 | grep -q 'LOWER_UP'
ok $? "the guest has its carrier back"
wait_for 30 "$NETLAB" exec a -- ping -c 1 -W 1 10.0.0.2 >/dev/null
ok $? "ping works again"

"$NETLAB" down "$lab" >/dev/null 2>&1
[ -z "$(procs_of "$sd")" ]
ok $? "down leaves no wirefilter behind"
finish
