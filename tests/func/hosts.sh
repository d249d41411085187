#!/bin/sh
# A lab across several hosts: scripts/hosts-sandbox makes two stand-in hosts
# (a network namespace and a libvirtd each, joined by a multicast bridge),
# and labs/vxlan runs split over them and this machine: r1, c1 and c2 here,
# r2 on h1, r3 on h2, so LANs B and C span hosts (vxvde) and A and core stay
# vde_switches. Its spanning LANs carry pings and a multicast stream, the
# lab passes its own tests, `netlab gdb` debugs r3's kernel through KGDB
# (when a built kernel has it), and `down` leaves nothing on any host.
. "$(dirname "$0")/lib.sh"

# What this machine lacks, said in TAP: a skip is never silent.
skip_all() {
  echo "1..0 # SKIP $1"
  exit 0
}
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces, a libvirtd per stand-in host); runs as uid $(id -u)"
command -v libvirtd >/dev/null || skip_all "needs libvirtd (scripts/setup installs it)"
command -v virsh >/dev/null || skip_all "needs virsh (scripts/setup installs it)"

sandbox="$NETLAB_SRC/scripts/hosts-sandbox"
hosts=$tmp/hosts
# Before lib.sh's cleanup removes $tmp: the lab first, then the hosts.
trap 'cleanup_all' EXIT
cleanup_all() {
  [ "${NETLAB_KEEP:-}" = 1 ] || "$NETLAB" down "$tmp/vxlan" >/dev/null 2>&1
  [ "${NETLAB_KEEP:-}" = 1 ] || "$sandbox" down "$hosts"
  rm -rf "${other:-}"
  cleanup
}

t0=$(date +%s)
"$sandbox" up "$hosts" 2 >"$tmp/sandbox.out" 2>&1
rc=$?
ok $rc "two stand-in hosts, each a namespace with its own libvirtd"
[ $rc -eq 0 ] || { diag <"$tmp/sandbox.out"; finish; exit 1; }
tag=$(cat "$hosts/tag")
uri1=$("$sandbox" uri "$hosts" h1)
uri2=$("$sandbox" uri "$hosts" h2)

cp -r "$NETLAB_SRC/labs/common" "$tmp/common"
lab=$(copy_lab vxlan)
cat >>"$lab/lab.conf" <<EOF
LAB_HOSTS="h1=$uri1 h2=$uri2"
LAB_UNDERLAY="dev=nlu$tag mtu=9000"
r2[host]="h1"
r3[host]="h2"
EOF
# r3 boots a built kernel with KGDB, if there is one (`netlab kernel build
# --config net --config debug`): gdb reaches a remote node's kernel only so.
kgdb_kernel=
for c in "${XDG_CACHE_HOME:-$HOME/.cache}"/netlab/kernels/*/.config; do
  # Its vmlinux too, which a build under way has not replaced yet.
  grep -qx 'CONFIG_KGDB_SERIAL_CONSOLE=y' "$c" && grep -q kgdboc "${c%/.config}/vmlinux" 2>/dev/null &&
    kgdb_kernel=$(basename "${c%/.config}")
done
[ -z "$kgdb_kernel" ] || echo "r3[kernel]=\"$kgdb_kernel\"" >>"$lab/lab.conf"

# A host that does not answer is refused before anything starts.
bad=$tmp/bad
cp -r "$lab" "$bad"
sed -i "s|h2=$uri2|h2=qemu+unix:///system?socket=$hosts/nowhere|" "$bad/lab.conf"
"$NETLAB" up "$bad" >"$tmp/bad.out" 2>&1
rc=$?
grep -q "host 'h2' (.*) is unreachable" "$tmp/bad.out"
ok $? "up with an unreachable host fails naming it (rc $rc)"
[ $rc -ne 0 ] && [ -z "$(pgrep -f "$bad/")" ] && "$NETLAB" status "$bad" 2>&1 | grep -q "is not up"
ok $? "and nothing of it started"
rm -rf "$bad"

# Labs up from here never share a vxvde network: a state directory, as of
# another lab, that holds the group and VNI C would take first makes C take
# others. first_choice LAN: what nl_span_url() makes of this machine, the
# lab's path and LAN, as GROUP/VNI.
first_choice() {
  h=$(printf '%s\n%s\n%s' "$(hostname)" "$lab" "$1" | sha256sum | cut -c1-12)
  b() { echo $((0x$(echo "$h" | cut -c$(($1 * 2 + 1))-$(($1 * 2 + 2))))); }
  echo "239.$(b 0).$(b 1).$(b 2)/$(((($(b 3) << 16) | ($(b 4) << 8) | $(b 5)) | 1))"
}
other=/run/netlab/zz-hosts-test-$$
mkdir -p "$other"
c_first=$(first_choice C)
echo "vxvde://${c_first%/*}/v4/port=14789/vni=${c_first#*/}/ttl=1" >"$other/vxvde.X"

t1=$(date +%s)
# In two parts: all but r3 (h2), then r3, which joins LAN C, a switch here
# with a vde_plug to C's vxvde network since the first part.
# Generous: the machine's other VMs make the local ones slow to boot.
"$NETLAB" up --timeout 1200 --exclude r3 "$lab" >"$tmp/up.out" 2>&1 &&
  "$NETLAB" up --timeout 1200 "$lab" r3 >>"$tmp/up.out" 2>&1
rc=$?
ok $rc "up --exclude r3, then up r3: labs/vxlan over this machine, h1 and h2 ($(($(date +%s) - t1)) s)"
[ $rc -eq 0 ] || { diag <"$tmp/up.out"; finish; exit 1; }
export NETLAB_LAB="$lab"
sd=$(state_dir "$lab")
id=${sd##*/}

"$NETLAB" status "$lab" >"$tmp/status.out"
rm -rf "$other"
span_of() { sed -n "s|^$1 .*vxvde://\([0-9.]*\)/.*/vni=\([0-9]*\)/.*|\1/\2|p" "$tmp/status.out"; }
[ "$(span_of B)" = "$(first_choice B)" ] && [ -n "$(span_of C)" ] && [ "$(span_of C)" != "$c_first" ]
rc=$?
ok $rc "B has its first group and VNI, C others than its first, which another lab holds ($(span_of C), not $c_first)"

grep -Eq '^r2 +running +- +on host h1$' "$tmp/status.out" &&
  grep -Eq '^r3 +running +- +on host h2$' "$tmp/status.out" &&
  grep -Eq '^B +vxvde +[0-9]+ +vxvde +vxvde://239\.' "$tmp/status.out" &&
  grep -Eq '^core +running ' "$tmp/status.out"
rc=$?
ok $rc "status: r2 on h1, r3 on h2, B a vxvde LAN with a switch here, core a vde_switch"
[ $rc -eq 0 ] || diag <"$tmp/status.out"

for h in h1:r2 h2:r3; do
  virsh -c "$("$sandbox" uri "$hosts" "${h%:*}")" list --name | grep -qx "netlab-$id-${h#*:}"
  ok $? "${h#*:} runs on ${h%:*}'s libvirt"
done

# exec reaches a node on another host (netlab-relay, libvirt's streams).
[ "$("$NETLAB" exec r3 hostname)" = r3 ]
ok $? "exec on r3 (h2) runs there"

"$NETLAB" exec c2 ping -c 3 -W 10 10.1.2.2 >"$tmp/ping.out" 2>&1 &&
  "$NETLAB" exec c2 ping -c 3 -W 10 10.1.3.3 >>"$tmp/ping.out" 2>&1 &&
  "$NETLAB" exec r2 ping -c 3 -W 10 10.1.3.3 >>"$tmp/ping.out" 2>&1
rc=$?
ok $rc "pings over the spanning LANs: c2 to r2 (h1) and r3 (h2), r2 to r3 through c2"
[ $rc -eq 0 ] || diag <"$tmp/ping.out"

# A multicast stream on each spanning LAN: c2 sends 50 datagrams to
# 225.9.9.9 out of eth1 (B) and eth2 (C); r2 and r3 have joined the group.
for r in r2 r3; do
  "$NETLAB" exec "$r" sh -c "socat -u UDP4-RECV:6000,reuseaddr,ip-add-membership=225.9.9.9:eth0 \
    OPEN:/tmp/recv.6000,creat,trunc </dev/null >/dev/null 2>&1 &"
done
joined() { "$NETLAB" exec "$1" sh -c "ip maddr show dev eth0 | grep -q ' 225.9.9.9\$' &&
  ss -Hlun 'sport = :6000' | grep -q ."; }
wait_for 120 joined r2 && wait_for 120 joined r3
ok $? "r2 and r3 joined 225.9.9.9"
for i in 10.1.2.254 10.1.3.254; do
  "$NETLAB" exec c2 sh -c "i=0; while [ \$i -lt 50 ]; do printf 'n%08d\n' \$i; i=\$((i + 1));
    sleep 0.02; done | socat -u -b 10 - UDP4-DATAGRAM:225.9.9.9:6000,ip-multicast-if=$i,ip-multicast-ttl=1"
done
got() { [ "$("$NETLAB" exec "$1" sh -c 'sort -u /tmp/recv.6000 | wc -l')" -eq 50 ]; }
wait_for 120 got r2 && wait_for 120 got r3
rc=$?
ok $rc "the stream reached r2 (h1) and r3 (h2) whole"
[ $rc -eq 0 ] || for r in r2 r3; do
  echo "$r: $("$NETLAB" exec $r sh -c 'sort -u /tmp/recv.6000 | wc -l') of 50"
done | diag

t1=$(date +%s)
"$NETLAB" test "$lab" >"$tmp/test.out" 2>&1
rc=$?
ok $rc "netlab test: labs/vxlan's own tests pass split over the hosts ($(($(date +%s) - t1)) s)"
[ $rc -eq 0 ] || diag <"$tmp/test.out"

# link and capture on a spanning LAN: c2's NIC on B is here, behind its
# wirefilter and B's switch, which a vde_plug joins to B's vxvde network;
# r2's NIC on B, on h1, has neither.
"$NETLAB" capture B -w "$tmp/b.pcap" 2>"$tmp/cap-b.err" &
cap=$!
wait_for 30 grep -qs 'capturing on' "$tmp/cap-b.err"
"$NETLAB" exec c2 ping -c 3 -i 0.3 -W 10 10.1.2.2 >/dev/null 2>&1
kill -INT $cap
wait $cap
tcpdump -nr "$tmp/b.pcap" >"$tmp/b.txt" 2>/dev/null
req=$(grep -c '10.1.2.254 > 10.1.2.2: ICMP echo request' "$tmp/b.txt")
rep=$(grep -c '10.1.2.2 > 10.1.2.254: ICMP echo reply' "$tmp/b.txt")
[ "$req" -ge 3 ] && [ "$rep" -ge 3 ]
rc=$?
ok $rc "capture of B holds c2's echo requests and the replies of r2 (h1) ($req, $rep)"
[ $rc -eq 0 ] || diag <"$tmp/cap-b.err"

rtt_to_r2() { "$NETLAB" exec c2 ping -c 3 -i 0.3 -W 10 10.1.2.2 | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p'; }
"$NETLAB" link c2:eth1 set delay=200ms >"$tmp/link.out" 2>&1 && rtt=$(rtt_to_r2) &&
  [ "${rtt%.*}" -ge 200 ]
rc=$?
ok $rc "link c2:eth1 set delay=200ms: c2's pings to r2 (h1) take 200 ms more (${rtt:-?} ms)"
[ $rc -eq 0 ] || diag <"$tmp/link.out"
"$NETLAB" link c2:eth1 reset >/dev/null
"$NETLAB" link c2:eth1 down >"$tmp/link.out" 2>&1 &&
  ! "$NETLAB" exec c2 ping -c 2 -W 2 10.1.2.2 >/dev/null 2>&1
ok $? "link c2:eth1 down: r2 answers no more"
"$NETLAB" link c2:eth1 up >>"$tmp/link.out" 2>&1 &&
  wait_for 60 "$NETLAB" exec c2 ping -c 1 -W 5 10.1.2.2 >/dev/null
ok $? "link c2:eth1 up: r2 answers again"
"$NETLAB" link r2:eth0 set delay=5ms >"$tmp/link-r2.out" 2>&1
rc1=$?
"$NETLAB" capture r2:eth0 -c 1 -w "$tmp/r2.pcap" >>"$tmp/link-r2.out" 2>&1
rc2=$?
[ $rc1 -ne 0 ] && [ $rc2 -ne 0 ] && [ "$(grep -c "'r2' runs on host 'h1'" "$tmp/link-r2.out")" -eq 2 ]
rc=$?
ok $rc "link and capture on r2:eth0 (h1) fail, saying why"
diag <"$tmp/link-r2.out"

# A node on another host boots again, as a local one does.
t1=$(date +%s)
"$NETLAB" restart r2 >"$tmp/restart.out" 2>&1 && [ "$("$NETLAB" exec r2 hostname)" = r2 ] &&
  wait_for 60 "$NETLAB" exec c2 ping -c 1 -W 5 10.1.2.2 >/dev/null
rc=$?
ok $rc "restart r2 (h1): it answers exec and pings again ($(($(date +%s) - t1)) s)"
[ $rc -eq 0 ] || diag <"$tmp/restart.out"

# gdb on a remote node's kernel: KGDB on ttyS1, through the relay.
"$NETLAB" gdb r2 -- -batch -ex bt >"$tmp/gdb-r2.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "lacks CONFIG_KGDB.*netlab kernel build --config net --config debug" \
  "$tmp/gdb-r2.out"
rc=$?
ok $rc "gdb on r2, whose kernel has no KGDB, fails saying which kernel to boot"
[ $rc -eq 0 ] || diag <"$tmp/gdb-r2.out"
if [ -n "$kgdb_kernel" ]; then
  # gdbserver on ttyS1 holds the port KGDB needs: a clear error, no hang.
  "$NETLAB" exec --detach r3 gdbserver /dev/ttyS1 /bin/sleep 600 >/dev/null 2>&1
  held() { "$NETLAB" exec r3 sh -c 'find /proc/[0-9]*/fd -maxdepth 1 -lname /dev/ttyS1 2>/dev/null | grep -q .'; }
  wait_for 60 held
  "$NETLAB" gdb r3 -- -batch -ex bt >"$tmp/gdb-busy.out" 2>&1
  rc=$?
  [ $rc -ne 0 ] && grep -q "ttyS1 of 'r3' is open by process [0-9]* gdbserver" "$tmp/gdb-busy.out"
  rc=$?
  ok $rc "gdb on r3 while gdbserver holds ttyS1 fails naming it"
  [ $rc -eq 0 ] || diag <"$tmp/gdb-busy.out"
  "$NETLAB" exec r3 sh -c 'pkill -x gdbserver; pkill -x sleep' >/dev/null 2>&1
  freed() { ! held; }
  wait_for 60 freed

  t1=$(date +%s)
  "$NETLAB" gdb r3 -- -batch -ex 'info registers rip' -ex bt -ex detach >"$tmp/gdb.out" 2>&1
  rc=$?
  [ $rc -eq 0 ] && grep -Eq '^rip +0xffffffff' "$tmp/gdb.out" && grep -q 'kgdb_breakpoint' "$tmp/gdb.out"
  rc=$?
  ok $rc "gdb on r3 (h2, $kgdb_kernel) breaks in through KGDB: rip, bt in kgdb_breakpoint, detach ($(($(date +%s) - t1)) s)"
  diag <"$tmp/gdb.out"
  [ "$("$NETLAB" exec r3 cat /sys/module/kgdboc/parameters/kgdboc)" = "" ]
  ok $? "r3 runs on after gdb, with ttyS1 freed from KGDB"

  # Left set (by hand here), KGDB gives ttyS1 up to gdbserver's gdb,
  # which reaches gdbserver through the relay.
  "$NETLAB" exec r3 sh -c 'echo ttyS1 >/sys/module/kgdboc/parameters/kgdboc'
  "$NETLAB" exec --detach r3 gdbserver /dev/ttyS1 /bin/sleep 600 >/dev/null 2>&1
  wait_for 60 held
  "$NETLAB" gdb r3 --serial /bin/sleep -- -batch -ex 'info registers rip' -ex 'monitor exit' \
    >"$tmp/gdb-serial.out" 2>&1
  grep -q "r3: ttyS1 freed from KGDB for gdbserver" "$tmp/gdb-serial.out" &&
    grep -Eq '^rip +0x' "$tmp/gdb-serial.out" &&
    [ "$("$NETLAB" exec r3 cat /sys/module/kgdboc/parameters/kgdboc)" = "" ]
  rc=$?
  ok $rc "gdb --serial on r3 frees ttyS1 from KGDB, then debugs a program under gdbserver there"
  diag <"$tmp/gdb-serial.out"
else
  for i in 1 2 3 4; do
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - gdb through KGDB on r3 # SKIP no built kernel has CONFIG_KGDB_SERIAL_CONSOLE (netlab kernel build --config net --config debug)"
  done
fi

"$NETLAB" down "$lab" >"$tmp/down.out" 2>&1
rc=$?
ok $rc "down"
[ $rc -eq 0 ] || diag <"$tmp/down.out"
for h in h1 h2; do
  u=$("$sandbox" uri "$hosts" $h)
  left="$(virsh -c "$u" list --all --name)$(virsh -c "$u" pool-list --all --name)"
  left="$left$(ls -d "$hosts/$h"/lib/netlab-* "$hosts/$h"/etc/storage/netlab-* 2>/dev/null)"
  [ -z "$(echo "$left" | tr -d '[:space:]')" ]
  rc=$?
  ok $rc "nothing of the lab is left on $h (VM, pool, file)"
  [ $rc -eq 0 ] || echo "$left" | diag
done
[ ! -e "$sd" ] && [ -z "$(procs_of "$sd")" ] && ! pgrep -f "netlab-$id-" >/dev/null
ok $? "nor here: no state directory, no process of the lab"

"$sandbox" down "$hosts"
! ip netns list | grep -q "^nlh$tag-" && ! ip link show "nlb$tag" >/dev/null 2>&1 &&
  ! ip link show "nlu$tag" >/dev/null 2>&1 && [ ! -e "$hosts" ]
ok $? "the stand-in hosts are gone: no namespace, link or directory"
echo "# wall time $(($(date +%s) - t0)) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
finish
