#!/bin/sh
# netlab exec through the guest agent, and netlab test on a passing and a
# failing lab.
. "$(dirname "$0")/lib.sh"

lab=$(copy_lab hello "$tmp/x")
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up"
export NETLAB_LAB="$lab"

"$NETLAB" exec r1 -- sh -c 'echo out; echo err >&2; exit 3' >"$tmp/o" 2>"$tmp/e"
rc=$?
[ $rc -eq 3 ] && [ "$(cat "$tmp/o")" = out ] && [ "$(cat "$tmp/e")" = err ]
ok $? "stdout and stderr apart, status 3 ($rc)"

[ "$(echo hello | "$NETLAB" exec r1 -- cat)" = hello ]
ok $? "stdin is forwarded"

head -c 300000 /dev/urandom >"$tmp/big"
"$NETLAB" exec r1 -- cat <"$tmp/big" | cmp -s - "$tmp/big"
ok $? "300 kB through cat and back, unchanged"

env --default-signal=INT "$NETLAB" exec r1 -- sleep 100 &
p=$!
# SIGINT once the remote sleep runs, when netlab forwards signals: one that
# came earlier would end netlab itself, with the same status 130.
remote_sleeps() { "$NETLAB" exec r1 -- pgrep -x sleep >/dev/null; }
wait_for 60 remote_sleeps
ok $? "the remote sleep runs"
kill -INT $p
wait $p
rc=$?
[ $rc -eq 130 ]
ok $? "SIGINT reaches the remote sleep: status 130 ($rc)"
"$NETLAB" exec r1 -- sh -c '! pgrep -x sleep'
ok $? "and the remote sleep is gone"

for i in 1 2 3 4 5; do
  "$NETLAB" exec r1 -- sh -c "sleep 1; echo session $i; exit $i" >"$tmp/c$i" 2>&1 &
  eval "c$i=\$!"
done
good=0
for i in 1 2 3 4 5; do
  eval "wait \$c$i"
  [ $? -eq $i ] && [ "$(cat "$tmp/c$i")" = "session $i" ] && good=$((good + 1))
done
[ $good -eq 5 ]
ok $? "5 concurrent execs on one VM, each with its own output and status ($good)"

script -qec "$NETLAB exec -t r1 -- sh -c 'tty; stty size'" /dev/null </dev/null >"$tmp/t" 2>&1
grep -q '/dev/pts/' "$tmp/t"
ok $? "-t gives a pseudo-terminal"
printf 'echo $((6 * 7))\nexit 5\n' | script -qec "$NETLAB exec -t r1 -- sh" /dev/null >"$tmp/t2" 2>&1
rc=$?
tr -d '\r' <"$tmp/t2" | grep -qE '(^|# )42$' && [ $rc -eq 5 ]
ok $? "an interactive shell through -t ($rc)"
tr -d '\r' <"$tmp/t2" | diag

t0=$(date +%s)
"$NETLAB" exec --detach r1 -- sleep 30
rc=$?
[ $rc -eq 0 ] && [ $(($(date +%s) - t0)) -lt 5 ]
ok $? "-d returns at once"
"$NETLAB" exec r1 -- pgrep -x sleep >/dev/null
ok $? "and the detached command runs on"

"$NETLAB" exec -e GREETING=hi -w /tmp r1 -- sh -c 'echo "$GREETING $(pwd)"' >"$tmp/ew"
[ "$(cat "$tmp/ew")" = "hi /tmp" ]
ok $? "-e and -w"

"$NETLAB" exec --timeout 2 r1 -- sleep 60 2>/dev/null
rc=$?
[ $rc -eq 124 ]
ok $? "--timeout kills the command: status 124 ($rc)"

"$NETLAB" exec r1 -- no-such-command 2>"$tmp/e"
rc=$?
[ $rc -eq 127 ] && grep -q "no-such-command" "$tmp/e"
ok $? "a command that does not exist: 127 ($rc)"

"$NETLAB" exec r9 -- true 2>"$tmp/e"
rc=$?
[ $rc -eq 125 ] && grep -q "no VM 'r9'" "$tmp/e"
ok $? "an unknown VM: 125 and a clear message ($rc)"
"$NETLAB" exec --dir "$tmp" r1 -- true 2>"$tmp/e"
rc=$?
[ $rc -eq 125 ] && grep -q "not up" "$tmp/e"
ok $? "a lab that is not up: 125 ($rc)"

"$NETLAB" monitor r1 stop >/dev/null 2>&1
t0=$(date +%s)
"$NETLAB" exec r1 -- sh -c 'sleep 3; echo stale' >/dev/null 2>"$tmp/e"
rc=$?
[ $rc -ge 125 ] && [ $(($(date +%s) - t0)) -lt 30 ] && grep -q "does not answer" "$tmp/e"
ok $? "an agent that does not answer (VM paused): $rc within $(($(date +%s) - t0)) s"
"$NETLAB" monitor r1 cont >/dev/null 2>&1
# The abandoned request is still in the port: the agent runs it once the VM
# goes on, and the next session must get its own output only.
out=$("$NETLAB" exec r1 -- echo fresh 2>"$tmp/e")
[ "$out" = fresh ]
ok $? "the next session gets its own output, not the abandoned one's ($(echo $out))"
diag <"$tmp/e"

sd=$(state_dir "$lab")
pid=$(status_of "$lab" 'vm("r2")["pid"]')
kill -9 "$pid"
sleep 1
"$NETLAB" exec r2 -- true 2>"$tmp/e"
rc=$?
[ $rc -eq 125 ] && grep -q "not running" "$tmp/e"
ok $? "a stopped VM: 125 and 'not running' ($rc)"
"$NETLAB" down "$lab" >/dev/null 2>&1
unset NETLAB_LAB

t=$(copy_lab hello "$tmp/passing")
"$NETLAB" test "$t" --junit "$tmp/junit.xml" >"$tmp/test.out" 2>&1
ok $? "netlab test labs/hello passes"
grep -q '^ok 1 - 01-reach' "$tmp/test.out" && grep -q '<testsuite name="hello" tests="1" failures="0"' "$tmp/junit.xml"
ok $? "TAP on stdout and JUnit XML"
"$NETLAB" status "$t" | grep -q 'is not up'
ok $? "and the lab is down afterwards"

f=$(copy_lab hello "$tmp/f")
# Colours, a title escape and raw control bytes in its output: the JUnit
# file must stay well-formed XML.
printf '#!/bin/sh\necho "checking something"\nprintf "\\033[31mred\\033[0m \\033]0;title\\007 bell\\007 nul-ish\\001\\002\\n"\nnetlab exec r1 -- false\n' >"$f/tests/02-fails"
chmod +x "$f/tests/02-fails"
"$NETLAB" test "$f" --artifacts "$tmp/art" --junit "$tmp/fjunit.xml" >"$tmp/ftest.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q '^not ok 2 - 02-fails' "$tmp/ftest.out"
ok $? "a failing test makes netlab test fail ($rc)"
diag <"$tmp/ftest.out"
[ -s "$tmp/art/r1/console.log" ] && [ -s "$tmp/art/r2/console.log" ] &&
  grep -q 'checking something' "$tmp/art/02-fails.log" && grep -q 'eth0' "$tmp/art/r1/ip-addr.txt" &&
  [ -s "$tmp/art/r1/dmesg.txt" ] && [ -f "$tmp/art/r1/ip-maddr.txt" ]
ok $? "its artifacts hold console logs, the test's output, ip state and dmesg"
python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); t = d.getElementsByTagName("system-out")[1].firstChild.data; sys.exit(0 if "red" in t and "\x1b" not in t and "\x07" not in t else 1)' "$tmp/fjunit.xml"
ok $? "JUnit XML with a test's terminal escapes and control bytes parses, without them"
ls -R "$tmp/art" | diag

# A test that hangs is stopped at its timeout, with what it started; one
# that runs when `netlab test` gets SIGTERM is stopped, the rest are not run,
# and the lab goes down.
h=$(copy_lab hello "$tmp/h")
rm "$h"/tests/*
printf '#!/bin/sh
sleep 301 &
sleep 301
' >"$h/tests/01-hangs"
printf '#!/bin/sh
touch "$NETLAB_LAB/02.started"
sleep 302
' >"$h/tests/02-waits"
printf '#!/bin/sh
touch "$NETLAB_LAB/03.ran"
' >"$h/tests/03-never"
chmod +x "$h"/tests/*
"$NETLAB" test "$h" --test-timeout 3 >"$tmp/htest.out" 2>&1 &
tester=$!
wait_for 120 test -e "$h/02.started"
grep -q '^not ok 1 - 01-hangs .*timed out after 3 s' "$tmp/htest.out"
ok $? "a hanging test fails at its --test-timeout"
[ -z "$(pgrep -f 'sleep 301')" ]
ok $? "and what it started is stopped with it"
sd=$(state_dir "$h")
kill -TERM $tester
wait $tester
rc=$?
[ $rc -eq 143 ] && grep -q '^not ok 2 - 02-waits .*interrupted by signal 15' "$tmp/htest.out"
ok $? "SIGTERM stops the running test: status $rc"
diag <"$tmp/htest.out"
[ ! -e "$h/03.ran" ] && [ -z "$(pgrep -f 'sleep 302')" ]
ok $? "the rest do not run, and nothing of the test is left"
[ -n "$sd" ] && [ ! -e "$sd" ] && [ -z "$(procs_of "$sd")" ]
ok $? "the lab is down, its processes gone"
finish
