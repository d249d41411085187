#!/bin/sh
# What Kathará gives every device: IPv4 forwarding on, no reverse-path
# filter, IPv6 off unless the node has ipv6="true"; and `down` runs
# <node>.shutdown and shared.shutdown in each node, killing one that hangs
# (r2's, here) after a bounded time. The lab is tests/data/kathara-defaults.
. "$(dirname "$0")/lib.sh"

up_data_lab kathara-defaults

v=$("$NETLAB" exec r1 -- sh -c 'cd /proc/sys/net; cat ipv4/ip_forward ipv4/conf/all/rp_filter \
  ipv4/conf/eth0/rp_filter ipv4/icmp_ratelimit ipv6/conf/all/disable_ipv6' | tr '\n' ' ')
[ "$v" = "1 0 0 0 1 " ]
ok $? "r1: forwarding on, rp_filter off, no ICMP rate limit, IPv6 off ($v)"
"$NETLAB" exec r1 -- sh -c '! ip -6 addr show dev eth0 | grep -q inet6'
ok $? "r1: no IPv6 address on eth0"

v=$("$NETLAB" exec r1 -- cat /tmp/startup-env)
[ "$v" = "r1|/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/" ]
ok $? "r1's startup script sees HOSTNAME, HOME, PATH and / as a Kathará container's ($v)"

v=$("$NETLAB" exec r2 -- sh -c 'cd /proc/sys/net; cat ipv6/conf/all/disable_ipv6 \
  ipv6/conf/eth0/disable_ipv6 ipv6/conf/all/forwarding' | tr '\n' ' ')
[ "$v" = "0 0 1 " ]
ok $? "r2 (ipv6=\"true\"): IPv6 on and forwarding ($v)"
wait_for 30 "$NETLAB" exec r2 -- sh -c 'ip -6 addr show dev eth0 | grep -q "inet6 fe80"'
ok $? "r2: a link-local IPv6 address on eth0"

sd=$(state_dir "$lab")
t0=$(date +%s)
"$NETLAB" down "$lab" >"$tmp/down.out" 2>&1
rc=$?
t=$(($(date +%s) - t0))
ok $rc "down, in $t s"
grep -q "r2: shutdown scripts still running after 10 s, killed" "$tmp/down.out"
ok $? "down says it killed r2's hanging shutdown script"
diag <"$tmp/down.out"
[ "$(cat "$lab/shared/r1.down" 2>/dev/null)" = "r1 ran r1.shutdown" ] &&
  [ "$(cat "$lab/shared/r1.shared-down" 2>/dev/null)" = "r1 ran shared.shutdown" ] &&
  [ "$(cat "$lab/shared/r2.shared-down" 2>/dev/null)" = "r2 ran shared.shutdown" ]
ok $? "r1 ran r1.shutdown then shared.shutdown, r2 shared.shutdown"
[ -n "$sd" ] && [ -z "$(procs_of "$sd")" ]
ok $? "nothing of the lab left running"
finish
