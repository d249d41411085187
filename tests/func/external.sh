#!/bin/sh
# lab.ext (Kathará's external collision domains): a LAN joined at layer 2 to
# a host interface, here one end of a veth pair whose other end has an
# address. Pings both ways, plain and over 802.1Q sub-interfaces (one netlab
# makes, one the user made), two labs at once, and lab.ext's errors before
# anything starts. After down: netlab's bridge, tap and sub-interface gone,
# the user's interfaces out of the bridge and as they were.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "1..0 # SKIP lab.ext needs CAP_NET_ADMIN: run as root"
  exit 0
fi

# Names unique to this run (at most 15 bytes with ".20"), and subnets with
# them: two runs, or another test, never share one.
id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
r=$((0x$id % 250 + 2))
va=nxa$id vb=nxb$id vc=nxc$id vd=nxd$id
net_a=10.201.$r net_10=10.202.$r net_20=10.203.$r net_c=10.204.$r
# The host interfaces made here and every interface netlab recorded go,
# whatever happens; the labs go down first (lib.sh's cleanup).
ext_cleanup() {
  cleanup
  for i in $(cat "$tmp.netlab-ifs" 2>/dev/null) $va $vc; do ip link del "$i" 2>/dev/null; done
  rm -f "$tmp.netlab-ifs"
}
trap ext_cleanup EXIT

ip link add $va type veth peer name $vb &&
  ip link add $vc type veth peer name $vd &&
  ip addr add $net_a.1/24 dev $vb && ip link set $vb up &&
  ip addr add $net_c.1/24 dev $vd && ip link set $vd up
ok $? "host: veth pairs $va/$vb and $vc/$vd"

# state_of LAB: its state directory's name, up or not (lib.sh's data_dir's).
state_of() { echo "/run/netlab/$(basename "$(data_dir "$1")")"; }
links() { ip -o link show | awk -F': ' '{print $2}' | sort; }
# note_ifs LAB: what netlab recorded, for ext_cleanup.
note_ifs() { ls "$(state_dir "$1")/ext" >>"$tmp.netlab-ifs" 2>/dev/null; }

# ---- errors: lab.ext:LINE:, exit 2, nothing made ----------------------------
bad=$tmp/ext-bad
mkdir -p "$bad"
printf 'pc1[0]="A"\n' >"$bad/lab.conf"
before=$(links)
check_bad() { # check_bad LAB.EXT-TEXT EXPECTED-MESSAGE DESCRIPTION
  printf '# a comment\n\n%s\n' "$1" >"$bad/lab.ext"
  "$NETLAB" check "$bad" >"$tmp/out" 2>&1
  rc=$?
  [ $rc -eq 2 ] && grep -q "$bad/lab.ext:3: $2" "$tmp/out"
  ok $? "$3: exit $rc, lab.ext:3: $2"
  diag <"$tmp/out"
}
check_bad "A nxm$id" "no interface 'nxm$id' on this host" "a missing host interface"
check_bad "A $va.4095" "invalid VLAN ID '4095'" "VLAN ID 4095"
check_bad "A $va.0" "invalid VLAN ID '0'" "VLAN ID 0"
check_bad "A" "invalid line: 'A'" "one word"
check_bad "A $va extra" "invalid line" "three words"
check_bad "A bad/name" "invalid interface name 'bad/name'" "a '/' in a name"
check_bad "A abcdefghijklmnop" "interface name 'abcdefghijklmnop' is longer" "a 16-byte name"
check_bad "Z $va" "collision domain 'Z' is not in lab.conf" "a LAN no node is on"
# up_bad LAB.EXT-LINE EXPECTED-MESSAGE DESCRIPTION [WRAPPER...]: up refuses it.
up_bad() {
  echo "$1" >"$bad/lab.ext"
  msg=$2 what=$3
  shift 3
  "$@" "$NETLAB" up "$bad" >"$tmp/out" 2>&1
  rc=$?
  [ $rc -eq 2 ] && grep -q "$bad/lab.ext:1: $msg" "$tmp/out"
  ok $? "up refuses $what: exit $rc, lab.ext:1: $msg"
  diag <"$tmp/out"
}
up_bad "A $va" "connecting 'A' to the host's '$va' needs CAP_NET_ADMIN" \
  "a lab.ext without CAP_NET_ADMIN" setpriv --inh-caps=-net_admin --bounding-set=-net_admin
up_bad "A <physical_interface>" "invalid interface name '<physical_interface>'" \
  "Kathará's placeholder"
up_bad "A nxm$id" "no interface 'nxm$id' on this host" "a missing host interface"
[ ! -e "$(state_of "$bad")" ] && [ -z "$(procs_of "$(state_of "$bad")")" ] &&
  [ "$(links)" = "$before" ]
ok $? "nothing left by the refused labs: no state directory, process or interface"

# ---- A joined to the host's $va ------------------------------------------
# lab1 DIR NODE ADDRESS LAB.EXT-LINE: a lab of NODE alone on A, at ADDRESS/24.
lab1() {
  mkdir -p "$1"
  printf '%s[0]="A"\n' "$2" >"$1/lab.conf"
  echo "ip addr add $3/24 dev eth0" >"$1/$2.startup"
  echo "$4" >"$1/lab.ext"
}
lab=$tmp/ext-$id
lab1 "$lab" pc1 $net_a.2 "A $va"
"$NETLAB" check "$lab" >"$tmp/out" 2>&1
ok $? "check accepts it"
grep -q "lab.ext *A: joined to the host's $va" "$tmp/out"
ok $? "check says what is connected"
diag <"$tmp/out"
# A crash of up once the bridge is there (the VM still booting): down finds
# what up recorded and undoes it.
h=$(basename "$(data_dir "$lab")")
h=${h##*-}
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1 &
up_pid=$!
echo "nl${h}b0 nl${h}t0" >>"$tmp.netlab-ifs"
wait_for 60 ip link show "nl${h}b0" >/dev/null 2>&1
ok $? "up made the bridge nl${h}b0"
kill -9 $up_pid
wait $up_pid 2>/dev/null
"$NETLAB" down "$lab" >"$tmp/out" 2>&1
ok $? "down after up was killed"
diag <"$tmp/out"
[ "$(links)" = "$before" ] && [ ! -e /sys/class/net/$va/master ] &&
  ! ip -o link show $va | grep -q '[<,]UP[,>]'
ok $? "nothing left of it: $va out of the bridge and down, as it was"

"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up"
diag <"$tmp/up.out"
note_ifs "$lab"
sd=$(state_dir "$lab")
br=$(cd "$sd/ext" && grep -l '^bridge' ./* | sed 's|^\./||')
tap=$(cd "$sd/ext" && grep -l '^tap' ./* | sed 's|^\./||')
[ -n "$br" ] && [ -n "$tap" ] && [ ${#br} -le 15 ] &&
  [ "$(basename "$(readlink /sys/class/net/$va/master)")" = "$br" ] &&
  [ "$(basename "$(readlink /sys/class/net/$tap/master)")" = "$br" ]
ok $? "bridge $br holds $va and the switch's tap $tap"
[ "$(cat /sys/class/net/$br/bridge/stp_state)" = 0 ] &&
  [ "$(cat /sys/class/net/$br/bridge/forward_delay)" = 0 ] &&
  [ -z "$(ip -6 -o addr show dev "$br"; ip -6 -o addr show dev "$tap")" ]
ok $? "$br: no STP, no forward delay; no IPv6 address on it or $tap"
status_of "$lab" 'lan("A")["kind"] == "switch"' >/dev/null
ok $? "A is a switch (never a wire)"
ping -c 2 -W 5 $net_a.2 >"$tmp/out" 2>&1
ok $? "the host pings pc1 through $vb"
diag <"$tmp/out"
"$NETLAB" exec -d "$lab" pc1 -- ping -c 2 -W 5 $net_a.1 >"$tmp/out" 2>&1
ok $? "pc1 pings the host"
diag <"$tmp/out"
"$NETLAB" restart -d "$lab" pc1 >"$tmp/out" 2>&1 && ping -c 2 -W 5 $net_a.2 >>"$tmp/out" 2>&1
ok $? "restart pc1 (its LAN's bridge stays): the host pings it again"
diag <"$tmp/out"

# A second lab at once, on another interface: its own names. The first
# lab's interface is refused to it.
lab2=$tmp/ext2-$id
lab1 "$lab2" pc2 $net_c.2 "A $va"
"$NETLAB" check "$lab2" >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "lab.ext:1: interface '$va' is already a port of '$br'" "$tmp/out"
ok $? "another lab cannot take $va from $br"
diag <"$tmp/out"
printf 'A %s\n' $vc >"$lab2/lab.ext"
"$NETLAB" up "$lab2" >"$tmp/out" 2>&1
ok $? "a second lab with lab.ext comes up beside the first"
diag <"$tmp/out"
note_ifs "$lab2"
br2=$(cd "$(state_dir "$lab2")/ext" && grep -l '^bridge' ./* | sed 's|^\./||')
[ -n "$br2" ] && [ "$br2" != "$br" ] && ping -c 2 -W 5 $net_c.2 >/dev/null 2>&1 &&
  ping -c 1 -W 5 $net_a.2 >/dev/null 2>&1
ok $? "its bridge $br2 is its own; both labs answer"
"$NETLAB" down "$lab2" >/dev/null 2>&1
ok $? "down the second lab"

"$NETLAB" down "$lab" >"$tmp/out" 2>&1
ok $? "down"
diag <"$tmp/out"
! ip link show "$br" >/dev/null 2>&1 && ! ip link show "$tap" >/dev/null 2>&1 &&
  ! ip link show "$br2" >/dev/null 2>&1
ok $? "the bridges and taps are gone"
[ ! -e /sys/class/net/$va/master ] && [ ! -e /sys/class/net/$vc/master ] &&
  ! ip -o link show $va | grep -q '[<,]UP[,>]'
ok $? "$va and $vc are no bridge's port, and $va is down again, as it was"
[ "$(links)" = "$before" ]
ok $? "no other interface left"

# ---- VLANs: A on $va.10, which netlab makes; B on the user's $va.20 ---------
printf 'LAB_NAME="external"\npc1[0]="A"\npc1[1]="B"\n' >"$lab/lab.conf"
printf 'ip addr add %s.2/24 dev eth0\nip addr add %s.2/24 dev eth1\n' $net_10 $net_20 \
  >"$lab/pc1.startup"
printf 'A %s.10\nB %s.20\n' $va $va >"$lab/lab.ext"
if ip link add link $va name $va.20 type vlan id 20 2>"$tmp/out"; then
  ip link set $va.20 up &&
    for v in 10 20; do
      ip link add link $vb name $vb.$v type vlan id $v &&
        ip addr add "$(eval echo \$net_$v).1/24" dev $vb.$v && ip link set $vb.$v up || exit 1
    done
  ok $? "host: $va.20 (the user's), $vb.10 and $vb.20 with addresses"
  "$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
  ok $? "up with VLANs"
  diag <"$tmp/up.out"
  note_ifs "$lab"
  ip -d link show $va.10 2>/dev/null | grep -q 'vlan protocol 802.1Q id 10'
  ok $? "netlab made $va.10"
  ping -c 2 -W 5 $net_10.2 >/dev/null 2>&1 && ping -c 2 -W 5 $net_20.2 >/dev/null 2>&1
  ok $? "the host pings pc1 over VLAN 10 and VLAN 20"
  "$NETLAB" exec -d "$lab" pc1 -- sh -c "ping -c 2 -W 5 $net_10.1 && ping -c 2 -W 5 $net_20.1" \
    >"$tmp/out" 2>&1
  ok $? "pc1 pings the host over both"
  diag <"$tmp/out"
  "$NETLAB" down "$lab" >"$tmp/out" 2>&1
  ok $? "down"
  ! ip link show $va.10 >/dev/null 2>&1
  ok $? "$va.10, netlab's, is gone"
  ip -o link show $va.20 2>/dev/null | grep -q '[<,]UP[,>]' && [ ! -e /sys/class/net/$va.20/master ]
  ok $? "$va.20, the user's, is still there, up, in no bridge"
  ip link del $va.20 && ip link del $vb.10 && ip link del $vb.20
else
  # The VLAN part of up then fails halfway: after the bridge, the tap and
  # $va brought up, which must all be undone.
  tap_n=$((tap_n + 1))
  echo "ok $tap_n # SKIP VLANs: the host's kernel makes no 802.1Q interface ($(cat "$tmp/out"))"
  "$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
  rc=$?
  [ $rc -eq 1 ] && grep -q "lab.ext:1: cannot create the VLAN interface '$va.10'" "$tmp/up.out"
  ok $? "up fails (exit $rc) where the host cannot make $va.10"
  diag <"$tmp/up.out"
fi
! ip -o link show $va | grep -q '[<,]UP[,>]'
ok $? "$va, which netlab brought up for its VLANs, is down again"
[ "$(links)" = "$before" ]
ok $? "no other interface left"
[ ! -e "$sd" ]
ok $? "the state directory is gone"

finish
