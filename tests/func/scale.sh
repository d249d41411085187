#!/bin/sh
# 64 nodes come up and every link works: a two-tier fabric (8 spines, 56
# leaves, each leaf on two spines, one LAN per link) and one LAN that all 64
# nodes share (more NICs than vde_switch's default 32 ports). No timing: the
# bench measures how fast (scripts/bench). Leaves get 128 MiB and spines, with
# 15 NICs whose receive rings the guest fills, 192 MiB: Debian's kernel ran
# out of memory at boot in a 96 MiB spine. 8.5 GiB of guest memory in all.
. "$(dirname "$0")/lib.sh"

N=64
SPINES=8
lab="$tmp/fabric"
mkdir -p "$lab"
conf="$lab/lab.conf"
echo 'LAB_NAME="fabric64"' >"$conf"
# nic NODE LAN ADDR: the node's next NIC, on LAN, with ADDR/24.
nic() {
  i=$(cat "$lab/$1.nics" 2>/dev/null || echo 0)
  echo "$1[$i]=\"$2\"" >>"$conf"
  echo "ip addr add $3/24 dev eth$i" >>"$lab/$1.startup"
  echo $((i + 1)) >"$lab/$1.nics"
}
# A neighbour's address, one line per link, for the ping check.
link=0
for j in $(seq 1 $((N - SPINES))); do
  for s in $(((j - 1) % SPINES + 1)) $((j % SPINES + 1)); do
    link=$((link + 1))
    net="10.$((link / 250)).$((link % 250))"
    nic "s$s" "L$link" "$net.1"
    nic "l$j" "L$link" "$net.2"
    echo "$net.2" >>"$lab/s$s.neigh"
    echo "$net.1" >>"$lab/l$j.neigh"
  done
done
k=0
for node in $(seq 1 $SPINES | sed 's/^/s/') $(seq 1 $((N - SPINES)) | sed 's/^/l/'); do
  k=$((k + 1))
  nic "$node" M "192.168.$((k / 250)).$((k % 250 + 1))"
  case $node in s*) mem=192m ;; *) mem=128m ;; esac
  echo "$node[mem]=\"$mem\"" >>"$conf"
done
rm -f "$lab"/*.nics
nodes=$(ls "$lab" | sed -n 's/\.startup$//p')
[ "$(echo "$nodes" | wc -l)" -eq $N ] && [ $link -eq 112 ]
ok $? "generated $N nodes, $link point-to-point links and a LAN of all $N"

"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
rc=$?
ok $rc "up of $N nodes"
[ $rc -eq 0 ] || {
  diag <"$tmp/up.out"
  finish
  exit 1
}
export NETLAB_LAB="$lab"

running=$(status_of "$lab" 'sum(1 for v in s["vms"] if v["state"] == "running" and v["pid"] > 0)')
[ "$running" -eq $N ]
ok $? "status: $N VMs running ($running)"

# pings IP...: each address answers a ping within 60 s (ARP on a fresh LAN;
# on a loaded host a spine of 15 NICs answered after up to 3 s); prints those
# that do not.
pings='for ip; do n=0; until ping -c1 -W5 -q $ip >/dev/null; do
  n=$((n + 1)); [ $n -lt 12 ] || { echo $ip; break; }; done; done'
# Every node pings each neighbour on its links, 8 nodes at a time.
check() {
  "$NETLAB" exec "$1" -- sh -c "$pings" sh $(cat "$lab/$1.neigh") >"$tmp/$1.bad" 2>&1
  echo $? >>"$tmp/$1.bad"
}
for node in $nodes; do
  check "$node" &
  [ "$(jobs -p | wc -l)" -lt 8 ] || wait
done
wait
bad=$(for node in $nodes; do grep -v '^0$' "$tmp/$node.bad" | sed "s/^/$node -> /"; done)
[ -z "$bad" ]
ok $? "every node reached each neighbour on its $link links"
[ -z "$bad" ] || echo "$bad" | head -20 | diag

# The shared LAN: s1 reaches every other node on it.
all=$(for k in $(seq 2 $N); do printf '192.168.%d.%d ' $((k / 250)) $((k % 250 + 1)); done)
"$NETLAB" exec s1 -- sh -c "$pings" sh $all >"$tmp/m.bad" 2>&1
[ $? -eq 0 ] && [ ! -s "$tmp/m.bad" ]
ok $? "s1 reached the other $((N - 1)) nodes on the LAN of all"
diag <"$tmp/m.bad"

sd=$(state_dir "$lab")
"$NETLAB" down "$lab" >"$tmp/down.out" 2>&1
ok $? "down of $N nodes"
left=$(procs_of "$sd" | wc -l)
[ "$left" -eq 0 ] && [ ! -e "$sd" ]
ok $? "nothing left of the lab ($left processes)"

finish
