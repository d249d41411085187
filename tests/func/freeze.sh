#!/bin/sh
# netlab freeze and thaw, and gdb freezing the rest of a lab while the kernel
# it debugs is stopped: three FRR routers in a row (tests/data/freeze, BGP
# hold 9 s, OSPF dead 8 s); r2's kernel is held in gdb for 60 s, first with
# the lab frozen (r1 and r3 notice nothing), then with --no-freeze (their
# sessions to r2 drop). The difference is the freeze.
. "$(dirname "$0")/lib.sh"

up_data_lab freeze
on() { n=$1; shift; "$NETLAB" exec "$n" -- sh -c "$*"; }

# bgp NODE: "DROPPED ESTABLISHED UPTIME_MS" over NODE's BGP peers.
bgp() {
  on "$1" "vtysh -c 'show bgp neighbors json'" | python3 -c '
import json, sys
p = json.load(sys.stdin).values()
print(sum(n.get("connectionsDropped", 0) for n in p),
      sum(n.get("bgpState") == "Established" for n in p),
      min(n.get("bgpTimerUpMsec", 0) for n in p))'
}
# downs NODE: how many neighbour drops NODE's FRR has logged.
downs() { on "$1" "grep -cE 'ADJCHANGE.* Down|AdjChg.*Full -> ' /var/log/frr/frr.log"; }
routes() { on "$1" "ip route show proto bgp; ip route show proto ospf" | sort; }
full() { on "$1" "vtysh -c 'show ip ospf neighbor'" | grep -q Full; }
converged() {
  on r1 "ip route show 192.168.3.0/24 proto bgp" | grep -q . &&
    on r3 "ip route show 192.168.1.0/24 proto bgp" | grep -q . && full r1 && full r3 &&
    [ "$(bgp r2 | cut -d' ' -f2)" = 2 ]
}
wait_for 300 converged
ok $? "BGP and OSPF converged: r1 reaches r3's 192.168.3.0/24 over BGP"
# up_s NODE: the uptime of NODE's youngest BGP session, in seconds.
up_s() { set -- $(bgp "$1"); echo $(($3 / 1000)); }
stable() { [ "$(up_s r1)" -ge 30 ] && [ "$(up_s r3)" -ge 30 ]; }

# ---- netlab freeze / thaw, and the guest's clock ------------------------
"$NETLAB" freeze "$lab" >"$tmp/f.out" 2>&1
ok $? "netlab freeze: $(cat "$tmp/f.out")"
status_of "$lab" 'all(v["state"] == "frozen" and v["frozen"] for v in s["vms"])' >/dev/null
ok $? "status shows every VM frozen"
"$NETLAB" status "$lab" | grep -q '^r2  *frozen '
ok $? "and so does its table"
"$NETLAB" thaw "$lab" >"$tmp/t.out" 2>&1
ok $? "netlab thaw: $(cat "$tmp/t.out")"
status_of "$lab" 'all(v["state"] == "running" and not v["frozen"] for v in s["vms"])' >/dev/null
ok $? "every VM runs again"

g0=$(on r1 date +%s)
h0=$(date +%s)
"$NETLAB" freeze -q "$lab" && sleep 10 && "$NETLAB" thaw -q "$lab"
h1=$(date +%s)
g1=$(on r1 date +%s)
[ $((g1 - g0)) -lt $((h1 - h0 - 5)) ]
ok $? "r1's clock stood still while frozen: it advanced $((g1 - g0)) s over $((h1 - h0)) s"
# Sessions that hold on their own for 30 s: what follows tells a drop
# from the machine's own hiccups.
wait_for 120 converged && wait_for 180 stable
ok $? "r1's and r3's BGP sessions have been up for 30 s"

# ---- gdb holds r2's kernel 60 s; the lab is frozen meanwhile -------------
for n in r1 r3; do
  eval "bgp_$n=\"$(bgp $n)\" downs_$n=$(downs $n)"
  routes $n >"$tmp/routes-$n.before"
done
h0=$(date +%s)
"$NETLAB" gdb r2 -- -batch -ex 'shell sleep 60' -ex detach >"$tmp/gdb1.out" 2>&1 &
gdb=$!
# status waits for no lock: while the freezer holds the lab's, it fails.
wait_for 60 status_of "$lab" 'vm("r1")["state"] == "frozen" and vm("r3")["state"] == "frozen"' \
  >/dev/null 2>&1
ok $? "while gdb holds r2's kernel, r1 and r3 are frozen"
wait $gdb
ok $? "gdb held r2 for 60 s and detached"
diag <"$tmp/gdb1.out"
grep -q 'r2 runs: thawed r1 r3' "$tmp/gdb1.out"
ok $? "and the lab was thawed when r2 ran again"
h1=$(date +%s)
wait_for 10 status_of "$lab" 'all(v["state"] == "running" for v in s["vms"])' >/dev/null 2>&1
ok $? "every VM runs"
# Three hold times, for anything that was about to expire to expire.
sleep 27
for n in r1 r3; do
  eval "before=\$bgp_$n; d0=\$downs_$n"
  after=$(bgp $n)
  set -- $before
  b_drop=$1 b_up=$3
  set -- $after
  [ "$1" = "$b_drop" ] && [ "$2" -ge 1 ]
  ok $? "$n: no BGP session dropped (dropped $b_drop -> $1, $2 established)"
  [ "$3" -ge "$b_up" ] && [ $(($3 - b_up)) -lt $(((h1 - h0 + 27 - 40) * 1000)) ]
  ok $? "$n: BGP uptime went on from ${b_up} ms to $3 ms, not reset, with $((h1 - h0 + 27)) s of wall time"
  [ "$(downs $n)" = "$d0" ]
  ok $? "$n: FRR logged no neighbour down (BGP or OSPF)"
  routes $n >"$tmp/routes-$n.after"
  cmp -s "$tmp/routes-$n.before" "$tmp/routes-$n.after"
  ok $? "$n: the same $(wc -l <"$tmp/routes-$n.after") BGP and OSPF routes, none withdrawn"
  diff "$tmp/routes-$n.before" "$tmp/routes-$n.after" | diag
done

# ---- the same with --no-freeze: the sessions drop ----------------------
for n in r1 r3; do eval "bgp_$n=\"$(bgp $n)\" downs_$n=$(downs $n)"; done
"$NETLAB" gdb --no-freeze r2 -- -batch -ex 'shell sleep 60' -ex detach >"$tmp/gdb2.out" 2>&1 &
gdb=$!
sleep 10
wait_for 10 status_of "$lab" 'vm("r1")["state"] == "running" and vm("r3")["state"] == "running"' \
  >/dev/null 2>&1
ok $? "with --no-freeze, r1 and r3 run while r2 is held"
wait $gdb
ok $? "gdb --no-freeze held r2 for 60 s and detached"
diag <"$tmp/gdb2.out"
for n in r1 r3; do
  eval "before=\$bgp_$n; d0=\$downs_$n"
  set -- $before
  b_drop=$1
  set -- $(bgp $n)
  [ "$1" -gt "$b_drop" ]
  ok $? "$n: its BGP session to r2 dropped (dropped $b_drop -> $1)"
  [ "$(downs $n)" -gt "$d0" ]
  ok $? "$n: FRR logged its neighbours down"
done
on r1 "grep -E 'ADJCHANGE.* Down|AdjChg.*Full -> ' /var/log/frr/frr.log" | tail -n +$((downs_r1 + 1)) | diag

# ---- a hostile stub: File-I/O requests never reach gdb -------------------
# In r1, in place of gdbserver on ttyS1, a stub that answers gdb's
# `continue` with a request to create a host file.
cp "$NETLAB_SRC/tests/data/gdb-stub/fake-stub.py" "$lab/shared/fake-stub.py"
cp /bin/true "$lab/prog"
victim="$tmp/created-by-the-guest"
on r1 "python3 /shared/fake-stub.py $victim /shared/stub.log >/dev/null 2>&1 &"
wait_for 10 on r1 "pgrep -f fake-stub.py" >/dev/null
timeout 120 "$NETLAB" gdb r1 --serial "$lab/prog" -- -batch -ex continue >"$tmp/stub.out" 2>&1
diag <"$tmp/stub.out"
grep -q 'asking gdb to open' "$lab/shared/stub.log" 2>/dev/null
ok $? "the fake stub asked gdb to open $victim"
[ ! -e "$victim" ]
ok $? "no host file was created"
grep -q "File-I/O answer: F-1,1" "$lab/shared/stub.log"
ok $? "the stub got the relay's refusal (F-1,1, EPERM)"
grep -q "refused its stub's File-I/O request 'open'" "$tmp/stub.out"
ok $? "netlab says it refused the request"
diag <"$lab/shared/stub.log"
on r1 "pkill -f fake-stub.py" >/dev/null 2>&1

# ---- bad input -----------------------------------------------------------
"$NETLAB" freeze "$lab" r9 >"$tmp/bad.out" 2>&1
[ $? -eq 2 ] && grep -q "the lab has no node 'r9' (its nodes: r1, r2, r3)" "$tmp/bad.out"
ok $? "freeze of a node the lab lacks: exit 2, naming the lab's nodes"
status_of "$lab" 'all(v["state"] == "running" for v in s["vms"])' >/dev/null
ok $? "and nothing was frozen"
"$NETLAB" dump r1 -o "$tmp/no/such/dir/core" >"$tmp/bad.out" 2>&1
[ $? -eq 1 ] && grep -q "cannot create '$tmp/no/such/dir/core'" "$tmp/bad.out"
ok $? "dump -o into a missing directory fails before dumping"
"$NETLAB" down "$lab" >/dev/null 2>&1
"$NETLAB" thaw "$lab" >"$tmp/bad.out" 2>&1
[ $? -eq 1 ] && grep -q "is not up" "$tmp/bad.out"
ok $? "thaw of a lab that is down: exit 1, 'not up'"

finish
