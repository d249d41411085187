#!/bin/sh
# A kernel built by `netlab kernel build` from Debian's kernel source
# (tinyconfig + base + net + debug fragments), built only when the cache
# lacks it; labs/hello and every multicast and VXLAN lab on it; and kernel
# debugging end to end: a breakpoint on icmp_rcv set with `netlab gdb`, hit
# by a ping from `netlab exec`, a symbolized backtrace, and the ping
# completing once gdb lets the VM go on.
. "$(dirname "$0")/lib.sh"

# The build shares the machine with the VMs of other tests and people.
t0=$(date +%s)
nice -n 19 "$NETLAB" kernel build --config net --config debug >"$tmp/build.out" 2>&1
ok $? "netlab kernel build --config net --config debug"
t1=$(date +%s)
diag <"$tmp/build.out"
name=$(sed -n "s/^kernel '\([^']*\)'.*/\1/p" "$tmp/build.out")
if [ -z "$name" ]; then
  finish
  exit 1
fi
# .ci/run repeats this line at the end of a CI run.
if grep -q "^kernel '$name' .* built:" "$tmp/build.out"; then
  echo "# netlab kernel build: '$name' built in $((t1 - t0)) s (unpacking the source included, if it was not)"
else
  echo "# netlab kernel build: '$name' was in the cache already ($((t1 - t0)) s to check)"
fi
"$NETLAB" kernel list >"$tmp/list.out" 2>&1
grep -q "^$name " "$tmp/list.out"
ok $? "netlab kernel list shows '$name'"
diag <"$tmp/list.out"

a=$(copy_lab hello "$tmp/a")
"$NETLAB" up --kernel "$name" "$a" >"$tmp/up.out" 2>&1
ok $? "netlab up --kernel $name labs/hello"
diag <"$tmp/up.out"
grep -qx 'r1 reached r2' "$a/shared/ping.r1" 2>/dev/null
ok $? "r1 reached r2"
rel=$("$NETLAB" exec --dir "$a" r1 -- uname -r 2>&1)
[ "$rel" = "$(sed -n "s/^$name  *\([^ ]*\) .*/\1/p" "$tmp/list.out")" ]
ok $? "r1 runs the built kernel (uname -r: $rel)"
"$NETLAB" exec --dir "$a" r1 -- sh -c '! test -d /lib/modules/$(uname -r)'
ok $? "with no modules: everything is built in"

# gdb reads the symbols (a vmlinux with DWARF) before it attaches, then
# stops the VM, sets the breakpoint, says so, and lets the VM go on. The
# breakpoint is on icmp_rcv: virtio-net hands packets over in GRO lists,
# which go through ip_list_rcv, not ip_rcv.
timeout 600 "$NETLAB" gdb -d "$a" r1 -- -batch -ex lx-version -ex 'break icmp_rcv' \
  -ex 'echo netlab-test: continuing\n' -ex continue -ex bt -ex delete -ex detach \
  >"$tmp/gdb.out" 2>&1 </dev/null &
gdb_pid=$!
i=0
until grep -q '^netlab-test: continuing' "$tmp/gdb.out" || [ $i -ge 300 ] ||
  ! kill -0 $gdb_pid 2>/dev/null; do
  sleep 1
  i=$((i + 1))
done
grep -q '^netlab-test: continuing' "$tmp/gdb.out"
ok $? "netlab gdb r1: breakpoint on icmp_rcv set, VM going on (after $i s)"
timeout 300 "$NETLAB" exec --dir "$a" r1 -- ping -c 3 -W 10 10.0.0.2 >"$tmp/ping.out" 2>&1 &
ping_pid=$!
wait $gdb_pid
ok $? "gdb ran to its end: breakpoint hit, backtrace, detached"
diag <"$tmp/gdb.out"
grep -q '^Linux version ' "$tmp/gdb.out"
ok $? "the kernel's gdb helpers were loaded by themselves (lx-version)"
grep -Eq '^Breakpoint 1, icmp_rcv \(skb=0x[0-9a-f]+\)' "$tmp/gdb.out"
ok $? "a reply to r1's ping hit the breakpoint"
grep -Eq '^#0 +icmp_rcv \(skb=0x[0-9a-f]+\) at ' "$tmp/gdb.out" &&
  grep -Eq '^#[0-9]+ +(0x[0-9a-f]+ in )?ip_local_deliver \(.*\) at .*/net/ipv4/ip_input\.c:[0-9]+$' "$tmp/gdb.out" &&
  grep -Eq '^#[0-9]+ +(0x[0-9a-f]+ in )?net_rx_action \(.*\) at .*/net/core/dev\.c:[0-9]+$' "$tmp/gdb.out"
ok $? "the backtrace is symbolized, with files and lines: icmp_rcv, ip_local_deliver, net_rx_action"
wait $ping_pid
ok $? "the ping completed once the VM went on"
diag <"$tmp/ping.out"
grep -q ' 3 received' "$tmp/ping.out"
ok $? "all 3 replies came back"
"$NETLAB" down "$a" >/dev/null 2>&1
ok $? "netlab down"

# Every lab with tests of its own, on the built kernel: routed multicast
# (smcroute, and FRR's PIM-SM), VXLAN over a PIM-SM core (FRR), over a
# unicast core, and over IPv6 multicast.
# Their tests use the scripts in labs/common, found as ../../common.
cp -r "$NETLAB_SRC/labs/common" "$tmp/common"
for l in multicast multicast-pim vxlan vxlan-unicast vxlan6; do
  [ -d "$NETLAB_SRC/labs/$l" ] || continue
  d=$(copy_lab $l "$tmp/$l")
  echo "LAB_KERNEL=\"$name\"" >>"$d/lab.conf"
  "$NETLAB" test "$d" >"$tmp/$l.out" 2>&1
  ok $? "netlab test labs/$l on '$name'"
  diag <"$tmp/$l.out"
done
finish
