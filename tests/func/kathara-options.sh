#!/bin/sh
# Kathará's options a VM honours (tests/data/kathara-options): r1 is bridged,
# its uplink (passt) reaches the outside but not the host's loopback, host
# port 47831 reaches its port 8080; its ulimit holds for the startup script
# and exec; its console runs its shell; `netlab tmux` opens its num_terms.
. "$(dirname "$0")/lib.sh"

export TMUX_TMPDIR="$tmp"
unset TMUX
servers=""
trap 'tmux kill-server >/dev/null 2>&1; for p in $servers; do kill $p 2>/dev/null; done; cleanup' EXIT

# Host services: one on the loopback only, one on the host's outward address.
socat TCP-LISTEN:47832,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo host-loopback' &
servers="$servers $!"
out=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
if [ -n "$out" ]; then
  socat TCP-LISTEN:47833,bind="$out",reuseaddr,fork SYSTEM:'echo host-outward' &
  servers="$servers $!"
fi

up_data_lab kathara-options
# On a loaded host an agent can be slow to answer its first command.
for n in r1 r2; do wait_for 300 "$NETLAB" exec "$n" -- true; done

v=$("$NETLAB" exec r1 -- sh -c 'ip -4 -o addr show dev eth1; ip route show default' | tr -s ' ')
echo "$v" | grep -q "eth1 inet 10.0.2.15/24" && echo "$v" | grep -q "default via 10.0.2.2 dev eth1 metric 1000"
ok $? "r1 (bridged): eth1 after the lab's eth0, on passt's NAT, with a default route"
echo "$v" | diag

if [ -n "$out" ]; then
  v=$("$NETLAB" exec r1 -- socat -T 10 - TCP:"$out":47833,connect-timeout=10 2>&1)
  [ "$v" = host-outward ]
  ok $? "r1 reaches a service outside through its uplink ($out:47833: '$v')"
else
  echo "ok $((tap_n += 1)) # SKIP the host has no outward address"
fi
v=$("$NETLAB" exec r1 -- socat -T 5 - TCP:10.0.2.2:47832,connect-timeout=5 2>&1)
! echo "$v" | grep -q host-loopback
ok $? "r1 does not reach the host's loopback through the gateway ($v)"
v=$("$NETLAB" exec r2 -- ip -o link show | grep -c ': eth')
[ "$v" = 1 ]
ok $? "r2 (not bridged) has no uplink"

"$NETLAB" exec --detach r1 -- socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo r1-port-8080'
fwd() { [ "$(socat -T 5 - TCP:127.0.0.1:47831 2>/dev/null)" = r1-port-8080 ]; }
wait_for 60 fwd
ok $? "host port 47831 reaches r1's port 8080 (port=\"47831:8080/tcp\")"

v=$("$NETLAB" exec r1 -- cat /tmp/startup-nofile)
[ "$v" = "1000 2000" ]
ok $? "r1's startup script runs under ulimit nofile=1000:2000 ($v)"
v=$("$NETLAB" exec r1 -- sh -c 'echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -c)')
[ "$v" = "1000 2000 unlimited" ]
ok $? "so do exec commands, with core=-1 unlimited ($v)"
v=$("$NETLAB" exec r2 -- sh -c 'ulimit -Sn')
[ "$v" != 1000 ]
ok $? "r2's limits are its own ($v)"

con() { "$NETLAB" exec r1 -- ps -o comm= -t ttyS0 >"$tmp/con" 2>/dev/null && grep -qx sh "$tmp/con"; }
wait_for 30 con
ok $? "r1's console runs its shell, /bin/sh ($(tr '\n' ' ' <"$tmp/con"))"

"$NETLAB" tmux "$lab" </dev/null >"$tmp/tmux.out" 2>&1
ok $? "netlab tmux"
s=$(sed -n "s/^tmux session '\([^']*\)'.*/\1/p" "$tmp/tmux.out")
v=$(tmux list-windows -t "=$s" -F '#{window_name}' 2>/dev/null | tr '\n' ' ')
[ "$v" = "r1 r1-2 " ]
ok $? "it opens num_terms windows: two for r1, none for r2 ($v)"
pane_has() { tmux capture-pane -p -J -S - -t "$1" 2>/dev/null | grep -q -- "$2"; }
# Keys typed before `exec -t` put the terminal in raw mode are flushed.
wait_for 60 pane_has "=$s:r1-2" '^# '
tmux send-keys -t "=$s:r1-2" 'echo term-$((40+2))' Enter
wait_for 60 pane_has "=$s:r1-2" '^term-42'
ok $? "r1's second terminal is a shell in r1"
tmux kill-session -t "=$s"

sd=$(state_dir "$lab")
"$NETLAB" down "$lab" >/dev/null 2>&1
ok $? "down"
[ -n "$sd" ] && [ -z "$(procs_of "$sd")" ]
ok $? "nothing of the lab left running, passt included"
finish
