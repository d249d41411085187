#!/bin/sh
# systemctl and service in a node (netlab-svc): a simple, a forking and a
# notify daemon (smcroute's own unit), an init.d script, a unit with User=,
# Environment, EnvironmentFile and RuntimeDirectory, a daemon that dies at
# once, one that says why it fails only to syslog, an unknown unit and a
# command the shim does not support. The units
# are in tests/data/svc/r1/etc.
. "$(dirname "$0")/lib.sh"

up_data_lab svc
x() { "$NETLAB" exec r1 -- "$@"; }

# A simple daemon: up at once, its main pid and its output in status.
x systemctl start t-simple && x systemctl status t-simple >"$tmp/s" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q 'Active: active (running)' "$tmp/s" &&
  grep -q 'Main PID: [0-9]* (sleep)' "$tmp/s" && grep -q '^simple-says-hi$' "$tmp/s"
ok $? "simple: start, status running with main pid and output (status $rc)"
diag <"$tmp/s"

pid1=$(x systemctl status t-simple | sed -n 's/.*Main PID: \([0-9]*\).*/\1/p')
x systemctl restart t-simple
pid2=$(x systemctl status t-simple | sed -n 's/.*Main PID: \([0-9]*\).*/\1/p')
[ -n "$pid1" ] && [ -n "$pid2" ] && [ "$pid1" != "$pid2" ] &&
  ! x kill -0 "$pid1" 2>/dev/null
ok $? "simple: restart replaces the main process ($pid1 -> $pid2)"

# A forking daemon: ExecStartPre, the main pid from its PIDFile, ExecStop.
x systemctl start t-fork
main=$(x cat /run/t-fork.pid)
x systemctl status t-fork >"$tmp/f" 2>&1
grep -q "Main PID: $main (sleep)" "$tmp/f" && grep -q '^pre-ran$' "$tmp/f" &&
  grep -q '^forked$' "$tmp/f"
ok $? "forking: main pid from PIDFile ($main), ExecStartPre and ExecStart output"
x systemctl stop t-fork
state=$(x systemctl is-active t-fork)
rc=$?
[ "$state" = inactive ] && [ $rc -eq 3 ] && ! x kill -0 "$main" 2>/dev/null &&
  x systemctl status t-fork | grep -q "^stopping $main\$"
ok $? "forking: stop ran ExecStop with MAINPID, the daemon is gone, is-active says $state ($rc)"

# A notify daemon: start returns once it sent READY=1; its STATUS= shows.
x systemctl start smcroute && x systemctl status smcroute >"$tmp/n" 2>&1
grep -q 'Active: active (running)' "$tmp/n" && grep -q 'Main PID: [0-9]* (smcrouted)' "$tmp/n" &&
  grep -q 'Status: "Ready' "$tmp/n"
ok $? "notify: smcroute.service ready, with its status text"
diag <"$tmp/n"
x systemctl stop smcroute && ! x pgrep -x smcrouted >/dev/null
ok $? "notify: stopped, smcrouted is gone"

# An init.d script, through service and systemctl.
x service t-sysv start && x systemctl is-active -q t-sysv &&
  x systemctl status t-sysv | grep -q '^Starting t-sysv$'
ok $? "init.d: service t-sysv start, then active with the script's output"
sysv=$(x cat /run/t-sysv.pid)
x systemctl stop t-sysv && ! x kill -0 "$sysv" 2>/dev/null &&
  ! x test -e /run/t-sysv.pid && [ "$(x systemctl is-active t-sysv)" = inactive ]
ok $? "init.d: systemctl stop ran the script's stop ($sysv is gone)"

# User=, Environment=, EnvironmentFile= (one optional and missing),
# RuntimeDirectory= and the %i, %N specifiers of a template unit.
x systemctl start t-env@lab1
wait_for 30 x test -s /run/t-env-lab1/out
out=$(x cat /run/t-env-lab1/out)
owner=$(x stat -c %U /run/t-env-lab1)
[ "$out" = "hi there|from file|lab1|t-env@lab1|nobody|/run/t-env-lab1" ] && [ "$owner" = nobody ]
ok $? "environment, user, runtime directory, specifiers: '$out', owner $owner"

# A daemon that dies at once: started, then failed, with its output.
x systemctl start t-dies
wait_for 30 x systemctl is-failed -q t-dies
ok $? "a daemon that dies at once is failed"
x systemctl status t-dies >"$tmp/d" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q 'Active: failed' "$tmp/d" && grep -q 'status=3/FAILURE' "$tmp/d" &&
  grep -q 'cannot bind: Address already in use' "$tmp/d"
ok $? "its status says failed, status 3, and shows what it printed (status $rc)"
diag <"$tmp/d"

# A notify daemon that fails and says why only to syslog (BIND's way): its
# own words reach the console (start's output) and status.
x systemctl start t-syslog >"$tmp/y" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'exited before READY=1' "$tmp/y" &&
  grep -q 't-syslog\[[0-9]*\]: loading configuration: failure' "$tmp/y"
ok $? "a failed start shows the service's own syslog lines (status $rc)"
diag <"$tmp/y"
x systemctl status t-syslog 2>&1 | grep -q 'loading configuration: failure'
ok $? "status shows them too"

# What systemctl cannot do, it says.
x systemctl start nope >"$tmp/u" 2>&1
rc=$?
[ $rc -eq 5 ] && grep -q '^Failed to start nope.service: Unit nope.service not found.$' "$tmp/u"
ok $? "an unknown unit: systemd's message, status 5 ($rc)"
x systemctl status nope >"$tmp/u" 2>&1
rc=$?
[ $rc -eq 4 ] && grep -q '^Unit nope.service could not be found.$' "$tmp/u"
ok $? "status of an unknown unit: status 4 ($rc)"
x systemctl list-timers >"$tmp/l" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "'list-timers' is not supported" "$tmp/l"
ok $? "an unsupported command says so, status 1 ($rc)"

"$NETLAB" down "$lab" >/dev/null 2>&1
ok $? "down"
finish
