#!/bin/sh
# netlab capture on a 3-node LAN: a LAN capture holds a ping between two other
# nodes (unicast), an interface capture only what that interface sees, a
# capture piped into tcpdump, several at once, count, duration, a filter, and
# a valid file after SIGTERM. (A wire's capture: wire.sh.)
. "$(dirname "$0")/lib.sh"

lab=$tmp/cap
lan3 "$lab"
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "a 3-node lab comes up"
diag <"$tmp/up.out"
sd=$(state_dir "$lab")
cd "$lab" || exit 1
"$NETLAB" ls | grep -q "^$lab  *[0-9][0-9hms]*  *a b c\$"
ok $? "netlab ls lists the lab, its age and its nodes"

# capture_bg NAME ARGS...: a capture in the background, its stderr in
# $tmp/NAME.err; returns once it captures.
capture_bg() {
  name=$1
  shift
  "$NETLAB" capture "$@" 2>"$tmp/$name.err" &
  eval "pid_$name=\$!"
  wait_for 30 grep -q 'capturing on' "$tmp/$name.err"
}

capture_bg lan A -w "$tmp/lan.pcap"
ok $? "capture of LAN A starts"
capture_bg c c:eth0 -w "$tmp/c.pcap"
ok $? "a second capture at once, of c:eth0"
"$NETLAB" exec c -- ping -c 2 -i 0.3 10.0.0.2 >/dev/null
"$NETLAB" exec a -- ping -c 3 -i 0.3 10.0.0.2 >"$tmp/ping.out"
ok $? "a pings b while captured"
kill -INT "$pid_lan" "$pid_c"
wait "$pid_lan"
ok $? "Ctrl-C ends the capture of A with status 0"
wait "$pid_c"
tcpdump -nr "$tmp/lan.pcap" >"$tmp/lan.txt" 2>"$tmp/lan.tcpdump"
ok $? "the file of A is valid pcap for tcpdump"
diag <"$tmp/lan.tcpdump"
req=$(grep -c '10.0.0.1 > 10.0.0.2: ICMP echo request' "$tmp/lan.txt")
rep=$(grep -c '10.0.0.2 > 10.0.0.1: ICMP echo reply' "$tmp/lan.txt")
[ "$req" -eq 3 ] && [ "$rep" -eq 3 ]
ok $? "A's capture holds a's 3 echo requests and b's 3 replies ($req, $rep)"
tcpdump -nr "$tmp/c.pcap" >"$tmp/c.txt" 2>/dev/null
grep -q '10.0.0.3 > 10.0.0.2: ICMP echo request' "$tmp/c.txt" &&
  ! grep -q '10.0.0.1 > 10.0.0.2' "$tmp/c.txt"
ok $? "c:eth0's capture has c's ping and none of the unicast between a and b"
diag <"$tmp/c.txt"


"$NETLAB" capture A -c 2 -f 'icmp and src host 10.0.0.2' 2>"$tmp/pipe.err" |
  tcpdump -nr - >"$tmp/pipe.txt" 2>/dev/null &
pipe=$!
wait_for 30 grep -q 'capturing on' "$tmp/pipe.err"
"$NETLAB" exec a -- ping -c 3 -i 0.3 10.0.0.2 >/dev/null
wait $pipe
[ "$(grep -c '10.0.0.2 > 10.0.0.1: ICMP echo reply' "$tmp/pipe.txt")" -eq 2 ] &&
  [ "$(wc -l <"$tmp/pipe.txt")" -eq 2 ]
ok $? "capture -c 2 -f BPF | tcpdump -r - shows exactly 2 replies"
diag <"$tmp/pipe.txt"

"$NETLAB" capture A --duration 1 -w "$tmp/dur.pcap" 2>"$tmp/dur.err"
ok $? "--duration 1 ends by itself"
tcpdump -nr "$tmp/dur.pcap" >/dev/null 2>&1
ok $? "and leaves a valid file"

capture_bg term A -w "$tmp/term.pcap"
"$NETLAB" exec a -- ping -c 1 10.0.0.2 >/dev/null
kill -TERM "$pid_term"
wait "$pid_term"
ok $? "SIGTERM ends a capture with status 0"
tcpdump -nr "$tmp/term.pcap" 2>/dev/null | grep -q 'ICMP echo request'
ok $? "its file is valid and holds the ping"

"$NETLAB" capture Z -w "$tmp/z.pcap" >/dev/null 2>"$tmp/bad.err"
[ $? -eq 2 ] && grep -q "no LAN 'Z'" "$tmp/bad.err"
ok $? "an unknown LAN: status 2, named"
"$NETLAB" capture a:eth4 -w "$tmp/z.pcap" >/dev/null 2>"$tmp/bad.err"
[ $? -eq 2 ] && grep -q "no interface 'eth4'" "$tmp/bad.err"
ok $? "an unknown interface: status 2, named"
"$NETLAB" capture A -f 'nonsense here' -w "$tmp/z.pcap" 2>"$tmp/bad.err"
[ $? -eq 2 ] && grep -q "bad capture filter 'nonsense here'" "$tmp/bad.err"
ok $? "a bad BPF filter: status 2, named"
diag <"$tmp/bad.err"

# netlab test keeps a capture of each LAN in LAB_CAPTURE when a test fails.
echo 'LAB_CAPTURE="A"' >>"$lab/lab.conf"
mkdir "$lab/tests"
printf '#!/bin/sh\nnetlab exec a -- ping -c 2 -i 0.3 10.0.0.2\nexit 1\n' >"$lab/tests/01-fails"
chmod +x "$lab/tests/01-fails"
"$NETLAB" test "$lab" --artifacts "$tmp/art" >"$tmp/test.out" 2>&1
[ $? -eq 1 ]
ok $? "netlab test with a failing test exits 1"
diag <"$tmp/test.out"
[ "$(tcpdump -nr "$tmp/art/capture-A.pcap" 2>/dev/null | grep -c 'ICMP echo request')" -eq 2 ]
ok $? "its artifacts hold capture-A.pcap with the test's 2 pings"

"$NETLAB" down "$lab" >/dev/null 2>&1
[ -z "$(procs_of "$sd")" ]
ok $? "down leaves no switch, wirefilter or QEMU"
finish
