#!/bin/sh
# A LAN of two interfaces is a wire: one wirefilter between the two QEMUs, no
# vde_switch. Checked beside a 3-node LAN (a switch) in one lab: what runs,
# pings and 802.1Q frames over both, impairment of both ends combined on the
# wire, link down and up, capture of the wire (QEMU's filter-dump), a restart
# of one end (the other end reaches the new wire), and nothing left by down.
. "$(dirname "$0")/lib.sh"

lab=$tmp/wire
mkdir -p "$lab"
cat >"$lab/lab.conf" <<'EOF'
LAB_NAME="wire"
a[0]="W"
b[0]="W"
a[1]="S"
b[1]="S"
c[0]="S"
b[link]="eth0 delay=50ms"
EOF
printf 'ip addr add 10.1.0.1/24 dev eth0\nip addr add 10.2.0.1/24 dev eth1\n' >"$lab/a.startup"
printf 'ip addr add 10.1.0.2/24 dev eth0\nip addr add 10.2.0.2/24 dev eth1\n' >"$lab/b.startup"
printf 'ip addr add 10.2.0.3/24 dev eth0\n' >"$lab/c.startup"
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "a lab with a wire (W) and a switch (S) comes up"
diag <"$tmp/up.out"
sd=$(state_dir "$lab")
export NETLAB_LAB="$lab"

status_of "$lab" 'lan("W")["kind"] == "wire" and lan("W")["state"] == "running"'
ok $? "status: W is a wire, running"
status_of "$lab" 'lan("S")["kind"] == "switch"'
ok $? "status: S is a switch"
# The processes of the state directory: one switch (S), one wirefilter for
# W, and one per interface on S.
switches=0 filters=0
for p in $(procs_of "$sd"); do
  case $(cat "/proc/$p/comm") in
    vde_switch) switches=$((switches + 1)) ;;
    wirefilter) filters=$((filters + 1)) ;;
  esac
done
[ $switches -eq 1 ] && [ $filters -eq 4 ]
ok $? "one vde_switch and 4 wirefilters (W's, and 3 on S): $switches, $filters"

"$NETLAB" exec a -- ping -c 2 -W 5 10.1.0.2 >/dev/null
ok $? "a pings b over the wire"
"$NETLAB" exec a -- ping -c 2 -W 5 10.2.0.3 >/dev/null
ok $? "a pings c over the switch"

# 802.1Q: what a lab's VLAN interfaces and bridges send.
for n in a:1 b:2; do
  "$NETLAB" exec "${n%:*}" -- sh -c "ip link add link eth0 name eth0.10 type vlan id 10 &&
    ip addr add 10.10.0.${n#*:}/24 dev eth0.10 && ip link set eth0.10 up"
done
"$NETLAB" exec a -- ping -c 2 -W 5 10.10.0.2 >/dev/null
ok $? "VLAN 10 over the wire"
for n in a:1 c:3; do
  i=$([ "${n%:*}" = a ] && echo eth1 || echo eth0)
  "$NETLAB" exec "${n%:*}" -- sh -c "ip link add link $i name $i.20 type vlan id 20 &&
    ip addr add 10.20.0.${n#*:}/24 dev $i.20 && ip link set $i.20 up"
done
"$NETLAB" exec a -- ping -c 2 -W 5 10.20.0.3 >/dev/null
ok $? "VLAN 20 over the switch"

# min_rtt NODE ADDR: the least RTT of 20 pings, in ms.
min_rtt() {
  "$NETLAB" exec "$1" -- ping -q -c 20 -i 0.2 "$2" |
    sed -n 's#^rtt min/avg/max/mdev = \([0-9.]*\)/.*#\1#p'
}
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

"$NETLAB" link b:eth0 show | grep -qx 'b:eth0 W up delay=50ms'
ok $? "lab.conf's delay on b:eth0 is in force"
r=$(min_rtt a 10.1.0.2)
within "$r" 45 90
ok $? "b's 50 ms show in a's RTT to b over the wire ($r ms)"
"$NETLAB" link a:eth0 set delay=100ms >/dev/null
ok $? "set delay=100ms on a:eth0, the wire's other end"
r=$(min_rtt a 10.1.0.2)
within "$r" 140 190
ok $? "both ends' delays add on the wire ($r ms)"
"$NETLAB" link a:eth0 reset >/dev/null && "$NETLAB" link b:eth0 reset >/dev/null
r=$(min_rtt a 10.1.0.2)
within "$r" 0 40
ok $? "reset on both: no delay left ($r ms)"

"$NETLAB" link b:eth0 down >/dev/null
! "$NETLAB" exec a -- ping -c 2 -W 2 10.1.0.2 >/dev/null
ok $? "b:eth0 down: a no longer reaches b"
"$NETLAB" link b:eth0 up >/dev/null
wait_for 30 "$NETLAB" exec a -- ping -c 1 -W 2 10.1.0.2 >/dev/null
ok $? "b:eth0 up: a reaches b again"

# A capture of the wire, of the LAN and of one end.
"$NETLAB" capture W -w "$tmp/w.pcap" 2>"$tmp/w.err" &
cap=$!
wait_for 30 grep -q 'capturing on' "$tmp/w.err"
ok $? "capture of the wire W starts"
diag <"$tmp/w.err"
"$NETLAB" exec a -- ping -c 3 -i 0.3 10.1.0.2 >/dev/null
"$NETLAB" capture b:eth0 -c 2 -f 'icmp and src host 10.1.0.2' -w "$tmp/b.pcap" 2>"$tmp/b.err" &
capb=$!
wait_for 30 grep -q 'capturing on' "$tmp/b.err"
"$NETLAB" exec a -- ping -c 3 -i 0.3 10.1.0.2 >/dev/null
wait $capb
ok $? "a capture of b:eth0 with a filter and a count ends by itself"
kill -INT $cap
wait $cap
ok $? "Ctrl-C ends the wire's capture with status 0"
tcpdump -nr "$tmp/w.pcap" >"$tmp/w.txt" 2>"$tmp/w.tcpdump"
ok $? "the wire's capture is valid pcap"
req=$(grep -c '10.1.0.1 > 10.1.0.2: ICMP echo request' "$tmp/w.txt")
rep=$(grep -c '10.1.0.2 > 10.1.0.1: ICMP echo reply' "$tmp/w.txt")
[ "$req" -ge 6 ] && [ "$rep" -ge 6 ]
ok $? "it holds a's echo requests and b's replies, both ways ($req, $rep)"
[ "$(tcpdump -nr "$tmp/b.pcap" 2>/dev/null | grep -c 'ICMP echo reply')" -eq 2 ]
ok $? "b:eth0's capture holds exactly its 2 replies"
! ls "$sd"/capture-*.fifo >/dev/null 2>&1
ok $? "no capture FIFO is left"

# A restart of b: a new wire, which a's QEMU reaches again; a's impairment
# outlives it.
"$NETLAB" link a:eth0 set delay=20ms >/dev/null
old=$(status_of "$lab" 'lan("W")["pid"]')
"$NETLAB" restart b >"$tmp/restart.out" 2>&1
ok $? "restart b"
diag <"$tmp/restart.out"
new=$(status_of "$lab" 'lan("W")["pid"]')
[ "$new" != "$old" ]
ok $? "W is a new wire ($old, then $new)"
wait_for 30 "$NETLAB" exec b -- ping -c 1 -W 2 10.1.0.1 >/dev/null
ok $? "b reaches a over the new wire"
"$NETLAB" link a:eth0 show | grep -qx 'a:eth0 W up delay=20ms'
ok $? "a:eth0 keeps its impairment across b's restart"
"$NETLAB" link b:eth0 show | grep -qx 'b:eth0 W up delay=50ms'
ok $? "b:eth0 has lab.conf's again"

"$NETLAB" down "$lab" >/dev/null
ok $? "down"
[ -z "$(procs_of "$sd")" ] && [ ! -e "$sd" ]
ok $? "nothing is left: no process, no state directory"
finish
