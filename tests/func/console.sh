#!/bin/sh
# netlab console: on a pseudo-terminal (a tmux pane) r1's console is a root
# shell with job control and Ctrl-] detaches; a second client is refused, or
# takes over with --force; stdin from a pipe; the console log (--log, -f);
# netlab tmux and up --tmux.
. "$(dirname "$0")/lib.sh"

# The test's own tmux server, in its temporary directory.
export TMUX_TMPDIR="$tmp"
unset TMUX
trap 'tmux kill-server >/dev/null 2>&1; cleanup' EXIT

pane() { tmux capture-pane -p -J -S - -t "$1" 2>/dev/null; }
pane_has() { pane "$1" | grep -q -- "$2"; }
# piped CMD: what r1's console prints for CMD fed from a pipe.
piped() { echo "$1" | "$NETLAB" console -d "$a" r1 2>&1 | clean; }
answers() { piped 'echo ans-$((40+2))' | grep -q '^ans-42$'; }

a=$(copy_lab hello "$tmp/a")
"$NETLAB" up --tmux "$a" </dev/null >"$tmp/up.out" 2>&1
ok $? "netlab up --tmux"
diag <"$tmp/up.out"
s=$(sed -n "s/^tmux session '\([^']*\)'.*/\1/p" "$tmp/up.out")
[ "$(tmux list-windows -t "=$s" -F '#{window_name}' 2>/dev/null | tr '\n' ' ')" = "r1 r2 " ]
ok $? "up --tmux (no terminal) made a tmux session with a window per VM"
wait_for 10 pane_has "=$s:r1" 'Connected to r1'
ok $? "its window r1 is attached to r1's console"
tmux kill-session -t "=$s"

log="$(data_dir "$a")/logs/r1.console.log"
grep -q 'Linux version' "$log" && grep -q 'netlab: r1 is ready' "$log"
ok $? "the console log holds the kernel's boot messages and netlab's"

# The shell reads the host's profile, which may take seconds under TCG.
wait_for 60 answers
ok $? "a command piped into 'netlab console' runs, and its output comes back"
piped hostname >"$tmp/piped.out"
grep -qx r1 "$tmp/piped.out"
ok $? "piped 'hostname' prints r1"
grep -q 'Connected to' "$tmp/piped.out"
[ $? -ne 0 ]
ok $? "no banner when stdin is not a terminal"

tmux new-session -d -s t -x 200 -y 50 \
  "$NETLAB console -d '$a' r1; echo console-exit=\$?; sleep 600"
wait_for 10 pane_has t 'Connected to r1 (escape character is ^.)'
ok $? "on a terminal, attach prints the escape key"
tmux send-keys -t t Enter 'hostname; tty' Enter
wait_for 20 pane_has t '^/dev/ttyS0'
pane t | grep -qx r1
ok $? "typed 'hostname' prints r1, on /dev/ttyS0"

tmux send-keys -t t 'sleep 300' Enter
sleep 1
tmux send-keys -t t C-c
tmux send-keys -t t 'echo after-$((1+1))' Enter
wait_for 20 pane_has t '^after-2'
ok $? "Ctrl-C interrupts a command (a controlling terminal, job control)"

echo hostname | "$NETLAB" console -d "$a" r1 >"$tmp/second.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "console of 'r1' is in use by another netlab console (pid [0-9]*)" \
  "$tmp/second.out"
ok $? "a second attach is refused (status $rc)"
diag <"$tmp/second.out"

tmux send-keys -t t C-]
wait_for 10 pane_has t '^console-exit=0'
ok $? "Ctrl-] detaches, with status 0"
status_of "$a" 'vm("r1")["state"] == "running"' >/dev/null
ok $? "r1 still runs after the detach"
wait_for 20 answers
ok $? "and its console answers a new client"

tmux new-session -d -s u -x 200 -y 50 \
  "$NETLAB console -d '$a' r1; echo console-exit=\$?; sleep 600"
wait_for 10 pane_has u 'Connected to r1'
echo hostname | "$NETLAB" console --force -d "$a" r1 2>&1 | clean | grep -qx r1
ok $? "--force takes the console over"
wait_for 10 pane_has u "detached from 'r1' by pid"
ok $? "and the client it replaced says so and exits"

"$NETLAB" console --log -d "$a" r1 >"$tmp/log.out"
cmp -s "$tmp/log.out" "$log"
ok $? "--log prints the console log"
"$NETLAB" console --log -f -d "$a" r1 >"$tmp/follow.out" 2>&1 &
follower=$!
piped 'echo mark-$((6*7))' >/dev/null
followed() { clean <"$tmp/follow.out" | grep -q '^mark-42'; }
wait_for 10 followed
ok $? "--log -f follows what the console prints"
kill $follower 2>/dev/null
wait $follower 2>/dev/null

"$NETLAB" console -d "$a" r9 >"$tmp/r9.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "has no VM 'r9' (its VMs: r1, r2)" "$tmp/r9.out"
ok $? "an unknown VM is an error naming the lab's VMs (status $rc)"
"$NETLAB" console -d "$a" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "no VM name is a usage error (status 2)"
cp -r "$NETLAB_SRC/labs/hello" "$tmp/down"
(cd "$tmp/down" && "$NETLAB" console r1) >"$tmp/down.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "lab '$tmp/down' is not up" "$tmp/down.out"
ok $? "a lab that is not up is an error naming it (status $rc, lab from the current directory)"
NETLAB_LAB="$a" "$NETLAB" console r1 </dev/null >/dev/null 2>&1
ok $? "NETLAB_LAB names the lab"

"$NETLAB" tmux "$a" </dev/null >"$tmp/tmux.out" 2>&1
ok $? "netlab tmux (no terminal: the session is made, not attached)"
s=$(sed -n "s/^tmux session '\([^']*\)'.*/\1/p" "$tmp/tmux.out")
[ "$(tmux list-windows -t "=$s" -F '#{window_name}' 2>/dev/null | tr '\n' ' ')" = "r1 r2 " ]
ok $? "with one window per VM"
wait_for 10 pane_has "=$s:r2" 'Connected to r2'
tmux send-keys -t "=$s:r2" Enter hostname Enter
wait_for 20 sh -c "tmux capture-pane -p -t '=$s:r2' | grep -qx r2"
ok $? "window r2 is r2's console"
tmux kill-session -t "=$s"

"$NETLAB" down "$a" >/dev/null 2>&1
ok $? "netlab down"
"$NETLAB" console --log -d "$a" r1 | grep -q 'netlab: r1 is ready'
ok $? "the console log outlives the lab"
finish
