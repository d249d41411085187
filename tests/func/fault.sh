#!/bin/sh
# Faults a lab must survive and report: a QEMU killed under a running lab
# (and brought back by restart), a switch killed, the guest agent killed, a
# lab path with spaces and non-ASCII characters, a lab too big for the host's memory, and (as an ordinary user)
# a state directory on a full disk.
. "$(dirname "$0")/lib.sh"

lab=$(copy_lab hello "$tmp/f")
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up"
diag <"$tmp/up.out"
sd=$(state_dir "$lab")

# QEMU of r1 killed.
pid=$(status_of "$lab" 'vm("r1")["pid"]')
kill -9 "$pid"
"$NETLAB" status "$lab" >"$tmp/status.out" 2>&1
diag <"$tmp/status.out"
grep -q '^r1 *stopped .*QEMU ended unexpectedly' "$tmp/status.out"
ok $? "status lists r1 as stopped, and why"
grep -q '^ *| .*netlab: r1 is ready' "$tmp/status.out"
ok $? "with the last lines of its console"
status_of "$lab" 'vm("r1")["state"] == "stopped" and vm("r1")["pid"] == 0 and vm("r1")["why"]' >/dev/null
ok $? "status --json too"
t0=$(date +%s)
"$NETLAB" exec --dir "$lab" r1 -- true >"$tmp/exec.out" 2>&1
rc=$?
[ $rc -eq 125 ] && [ $(($(date +%s) - t0)) -le 3 ]
ok $? "exec to the dead VM fails at once with 125 ($rc)"
"$NETLAB" exec --dir "$lab" r2 -- true
ok $? "the other VM keeps working"

# A killed node comes back with restart (Kathará's lrestart), on its LAN.
"$NETLAB" restart --dir "$lab" r1 >"$tmp/restart.out" 2>&1
ok $? "restart r1 boots the killed VM again"
diag <"$tmp/restart.out"
wait_for 60 "$NETLAB" exec --dir "$lab" r2 -- ping -c 1 -W 2 10.0.0.1 >/dev/null 2>&1
ok $? "and r2 reaches it"

# The agent killed inside r2: exec says so, within its timeout, for a
# command that was running (the host's end of the port stays open) and for
# the next one.
"$NETLAB" exec --dir "$lab" r2 -- sleep 300 >"$tmp/long.out" 2>&1 &
long=$!
wait_for 30 sh -c "\"$NETLAB\" exec --dir '$lab' r2 -- pidof sleep >/dev/null"
"$NETLAB" exec --dir "$lab" --detach r2 -- sh -c 'sleep 1; kill -9 $(pidof netlab-agent)'
t0=$(date +%s)
wait $long
rc=$?
diag <"$tmp/long.out"
[ $rc -eq 125 ] && [ $(($(date +%s) - t0)) -le 40 ] && grep -q "r2' stopped answering" "$tmp/long.out"
ok $? "a running exec whose agent was killed fails with 125 within 40 s ($rc, $(($(date +%s) - t0)) s)"
t0=$(date +%s)
"$NETLAB" exec --dir "$lab" r2 -- true >"$tmp/agent.out" 2>&1
rc=$?
diag <"$tmp/agent.out"
[ $rc -eq 125 ] && [ $(($(date +%s) - t0)) -le 20 ] && grep -q 'r2' "$tmp/agent.out"
ok $? "with its agent killed, exec to r2 fails with 125 and names the VM ($rc)"

# The LAN killed (a wire: hello has two nodes).
swpid=$(status_of "$lab" 'lan("A")["state"] == "running" and lan("A")["pid"]')
kill -9 "$swpid"
wait_for 5 sh -c "! kill -0 $swpid 2>/dev/null || grep -q '^State:.*Z' /proc/$swpid/status"
"$NETLAB" status "$lab" >"$tmp/status2.out" 2>&1
grep -q '^A *stopped' "$tmp/status2.out"
ok $? "status shows the killed LAN as stopped"
diag <"$tmp/status2.out"

"$NETLAB" down "$lab" >/dev/null 2>&1
ok $? "down after the faults"
[ -z "$(procs_of "$sd")" ] && [ ! -e "$sd" ]
ok $? "and nothing is left"

# Spaces and non-ASCII characters in the lab's path.
odd="$tmp/a lab, with späces é"
mkdir "$odd"
l2=$(copy_lab hello "$odd/hello")
"$NETLAB" up "$l2" >"$tmp/odd.out" 2>&1
ok $? "up of a lab at '$l2'"
diag <"$tmp/odd.out"
grep -qx 'r1 reached r2' "$l2/shared/ping.r1" 2>/dev/null
ok $? "it works"
sd2=$(state_dir "$l2")
"$NETLAB" down "$l2" >/dev/null 2>&1 && [ -z "$(procs_of "$sd2")" ] && [ ! -e "$sd2" ]
ok $? "and goes down with nothing left"

# More memory than the host has: refused before anything starts.
big=$(copy_lab hello "$tmp/big")
avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
sed -i "s/^r1\[mem\]=.*/r1[mem]=\"$((avail + 1024))m\"/" "$big/lab.conf"
"$NETLAB" up "$big" >"$tmp/big.out" 2>&1
rc=$?
diag <"$tmp/big.out"
[ $rc -eq 1 ] && grep -q 'needs about [0-9]* MiB .* has [0-9]* MiB available' "$tmp/big.out"
ok $? "a lab bigger than the host's memory is refused, with what it needs and what there is"
sdb=$(state_dir "$big")
[ -z "$sdb" ] || [ ! -e "$sdb" ]
ok $? "and nothing was started"

# The disk of the state directory full: as an ordinary user, whose state
# lives under $XDG_RUNTIME_DIR, here a tmpfs of 256 KiB.
if [ "$(id -u)" -eq 0 ]; then
  id netlab-test >/dev/null 2>&1 || useradd --create-home --shell /bin/sh netlab-test
  full="$tmp/full"
  mkdir "$full"
  mount -t tmpfs -o size=256k,mode=0700,uid="$(id -u netlab-test)" tmpfs "$full"
  ul=$(copy_lab hello "$tmp/ufull")
  chown -R netlab-test "$ul"
  runuser -u netlab-test -- env XDG_RUNTIME_DIR="$full" "$NETLAB" up "$ul" >"$tmp/full.out" 2>&1
  rc=$?
  diag <"$tmp/full.out"
  [ $rc -eq 1 ] && grep -q 'No space left on device' "$tmp/full.out"
  ok $? "up with a full state disk fails and says why ($rc)"
  # Zombies do not count: this sandbox's init reaps late.
  left=$(ps -u netlab-test -o pid=,stat=,comm= | awk '$2 !~ /Z/' | grep -E 'qemu|vde_switch')
  [ -z "$left" ] && [ -z "$(ls -A "$full/netlab" 2>/dev/null)" ]
  ok $? "and leaves no process and no state behind ($left)"
  umount "$full"
fi
finish
