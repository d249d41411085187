#!/bin/bash
# The README's tour, as a user types it: every `$ ` line of its "A
# five-minute tour" section runs, in order, in one shell, against a private
# copy of labs/hello, and each must succeed. Then the lab is down and
# nothing of it runs.
. "$(dirname "$0")/lib.sh"

readme=$NETLAB_SRC/README.md
# The tour's commands: indented "$ " lines between its heading and the next.
sed -n '/^## A five-minute tour/,/^## /p' "$readme" |
  sed -n 's/^    \$ //p' >"$tmp/tour.cmds"
n=$(wc -l <"$tmp/tour.cmds")
[ "$n" -ge 10 ] && grep -q '^netlab up' "$tmp/tour.cmds" && grep -q '^netlab down' "$tmp/tour.cmds"
ok $? "the README's tour has $n commands, from up to down"
for verb in up status console exec capture down; do
  grep -q "netlab $verb" "$tmp/tour.cmds"
  ok $? "the tour shows netlab $verb"
done

# The tree the tour expects: labs/hello, and netlab on PATH.
mkdir -p "$tmp/tree/labs"
copy_lab hello "$tmp/tree/labs/hello" >/dev/null
export PATH=$(dirname "$NETLAB"):$PATH
unset NETLAB_LAB

# One script: each command, then a TAP line with its status. Jobs (`&`,
# `kill %1`) and `cd` carry from one command to the next, as in a terminal.
{
  echo 'cd "$1" || exit 1'
  echo 'i=0'
  while IFS= read -r cmd; do
    printf '%s\n' "$cmd"
    printf 'rc=$?; i=$((i + 1)); printf "%%s %%s\\n" "$rc" %q >&3\n' "$cmd"
  done <"$tmp/tour.cmds"
} >"$tmp/tour.sh"

# No terminal: the console reads what the tour pipes into it, or nothing.
bash "$tmp/tour.sh" "$tmp/tree" </dev/null 3>"$tmp/tour.rc" >"$tmp/tour.out" 2>&1
while read -r rc cmd; do
  ok "$rc" "\$ $cmd"
  [ "$rc" -eq 0 ] || diag <"$tmp/tour.out"
done <"$tmp/tour.rc"
[ "$(wc -l <"$tmp/tour.rc")" -eq "$n" ]
ok $? "every command of the tour ran"

# What the tour promises, checked.
grep -q 'eth0 .*10\.0\.0\.1/24' "$tmp/tour.out"
ok $? "exec showed r1's address"
grep -qx 'status 3' "$tmp/tour.out"
ok $? "exec gave the command's own exit status"
grep -q '^r1' "$tmp/tour.out" && grep -q 'root@r1:/# ' "$tmp/tour.out"
ok $? "the console ran hostname in r1"
[ -s "$tmp/tree/labs/hello/a.pcap" ] &&
  [ "$(tcpdump -nr "$tmp/tree/labs/hello/a.pcap" 2>/dev/null | grep -c ICMP)" -eq 4 ]
ok $? "capture wrote 4 ICMP frames"
! "$NETLAB" ls | grep -q "$tmp/tree/labs/hello" && [ -z "$(procs_of "$tmp/tree/labs/hello")" ]
ok $? "after the tour's down, nothing of the lab runs"

finish
