#!/bin/sh
# A console log is bounded, whatever a guest prints: netlab-log keeps its
# first 1 MiB and a tail of two 4 MiB parts, counts what it drops, and
# `console --log` and `status` say so. First netlab-log alone, fed 12 MiB;
# then a real VM's console going through it.
. "$(dirname "$0")/lib.sh"

MiB=1048576
keeper="$(dirname "$NETLAB")/netlab-log"
d=$tmp/keep
mkdir "$d"
head -c $((12 * MiB)) /dev/zero | tr '\0' x |
  "$keeper" 3>"$d/h" 4>"$d/t1" 5>"$d/t2" 6>"$d/cut"
ok $? "netlab-log ends with its input"
sizes="$(stat -c %s "$d/h" "$d/t1" "$d/t2" | tr '\n' ' ')$(cat "$d/cut")"
[ "$sizes" = "$MiB $((3 * MiB)) $((4 * MiB)) $((4 * MiB))" ]
ok $? "12 MiB in: 1 MiB head, 3 + 4 MiB of tail, 4 MiB counted as cut ($sizes)"

a=$(copy_lab hello "$tmp/a")
"$NETLAB" up "$a" >"$tmp/up.out" 2>&1
ok $? "up"
diag <"$tmp/up.out"
if [ "$(id -u)" = 0 ]; then qu=netlab-qemu; else qu=$(id -un); fi
sd=$(state_dir "$a")
logs="$(data_dir "$a")/logs"
pid=$(pgrep -f -x "$keeper" | while read -r p; do
  grep -qs "^log r1 $p " "$sd/procs" && echo "$p"; done)
[ -n "$pid" ] && [ "$(stat -c %U "/proc/$pid")" = "$qu" ] && [ -p "$sd/console/r1.fifo" ] &&
  [ "$(stat -c '%a %U' "$logs/r1.console.log")" = "600 $(id -un)" ]
ok $? "r1's console goes through a FIFO to netlab-log (pid $pid, as $qu); its log is 0600, $(id -un)'s"

# 2 MiB printed on the console, then a last line.
"$NETLAB" exec -d "$a" --timeout 300 r1 -- sh -c \
  'stty -F /dev/ttyS0 raw; head -c 2097152 /dev/zero | tr "\0" y >/dev/ttyS0; echo; echo the-last-line >/dev/ttyS0'
ok $? "r1 prints 2 MiB on its console"
has_last() { grep -q the-last-line "$logs/r1.console.log.1"; }
wait_for 60 has_last
[ "$(stat -c %s "$logs/r1.console.log")" = $MiB ] && has_last
ok $? "the log's head stops at 1 MiB; the rest is in its tail ($(stat -c %s "$logs/r1.console.log" "$logs/r1.console.log.1" | tr '\n' ' '))"
"$NETLAB" console --log -d "$a" r1 >"$tmp/replay" 2>&1
grep -q 'netlab: r1 is ready' "$tmp/replay" && tail -c 200 "$tmp/replay" | grep -q the-last-line &&
  [ "$(stat -c %s "$tmp/replay")" -gt $((2 * MiB)) ]
ok $? "console --log replays it all, in order ($(stat -c %s "$tmp/replay") bytes)"
status_of "$a" 'vm("r1")["console_cut"] == 0'
ok $? "status: nothing cut yet"

# What a guest cannot do in the test's time (9 MiB through a TCG serial
# port), the counter stands for: status reads it.
printf '4194304\n' >"$logs/r1.console.log.cut"
"$NETLAB" status "$a" >"$tmp/status.out"
grep -q 'console log cut: 4194304 bytes dropped' "$tmp/status.out" &&
  "$NETLAB" console --log -d "$a" r1 | grep -aq '^\[netlab: 4194304 bytes of this console were cut here'
ok $? "status and console --log say where and how much was cut"

"$NETLAB" down "$a" >/dev/null 2>&1
ok $? "down"
[ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || grep -q '^State:.*Z' "/proc/$pid/status"
ok $? "down stopped netlab-log"
finish
