#!/bin/sh
# Every broken lab of tests/data/lab/bad-* through the real binary: status 2,
# the exact "netlab: FILE:LINE: ..." lines, and nothing started or created.
. "$(dirname "$0")/lib.sh"

# Only the bad labs' own: other labs may come and go on this machine.
before=$(ls /run/netlab "${XDG_RUNTIME_DIR:-/nonexistent}/netlab" "/tmp/netlab-$(id -u)" 2>/dev/null | grep '^bad-' | sort)
for src in "$NETLAB_SRC"/tests/data/lab/bad-*; do
  name=${src##*/}
  lab=$tmp/$name
  cp -r "$src" "$lab"
  "$NETLAB" up "$lab" >"$tmp/out" 2>"$tmp/all"
  rc=$?
  grep -v '^netlab: warning: ' "$tmp/all" >"$tmp/err"
  sed "s|@DIR@|$lab|g; s|^|netlab: |" "$lab/expected" >"$tmp/want"
  [ $rc -eq 2 ] && cmp -s "$tmp/err" "$tmp/want"
  ok $? "$name: status 2 ($rc) and the exact message"
  cmp -s "$tmp/err" "$tmp/want" || diff "$tmp/want" "$tmp/err" | diag
  [ -z "$(procs_of "$lab")" ] && [ ! -e "$lab/.netlab" ]
  ok $? "$name: nothing started, nothing written in the lab"
  "$NETLAB" check "$lab" >/dev/null 2>"$tmp/all"
  rc=$?
  grep -v '^netlab: warning: ' "$tmp/all" >"$tmp/err"
  [ $rc -eq 2 ] && cmp -s "$tmp/err" "$tmp/want"
  ok $? "$name: check says the same, status 2 ($rc)"
done
after=$(ls /run/netlab "${XDG_RUNTIME_DIR:-/nonexistent}/netlab" "/tmp/netlab-$(id -u)" 2>/dev/null | grep '^bad-' | sort)
[ "$before" = "$after" ]
ok $? "no state directory was created"

"$NETLAB" up "$tmp/no-such-lab" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "no-such-lab" "$tmp/err"
ok $? "a lab directory that does not exist: status 2, named"
"$NETLAB" up --accel fast "$tmp" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "accel" "$tmp/err"
ok $? "an unknown --accel value: status 2"
c=$(copy_lab kathara-radvd "$tmp/check")
"$NETLAB" check "$c" >"$tmp/out" 2>/dev/null
[ $? -eq 0 ] && grep -q "2 VMs, 2 LANs; nothing started" "$tmp/out" &&
  grep -q "pc1 .*IPv6 on" "$tmp/out" && [ -z "$(procs_of "$c")" ] && [ ! -e "$c/.netlab" ]
ok $? "check prints what up would start and starts nothing"
"$NETLAB" frobnicate >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown command 'frobnicate'" "$tmp/err"
ok $? "an unknown command: status 2"

# Files that are not what they claim: refused at once, never waited on.
fifo=$tmp/fifo
mkdir "$fifo"
printf 'r1[0]=A\nLAB_KERNEL=k\n' >"$fifo/lab.conf"
mkfifo "$fifo/k"
timeout 60 "$NETLAB" up "$fifo" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "^netlab: $fifo/lab.conf:2: kernel '$fifo/k' is not a regular file" "$tmp/err"
ok $? "a FIFO as LAB_KERNEL: status 2 ($rc), file:line, no hang"
printf 'r1[0]=A\n' >"$fifo/lab.conf"
timeout 60 "$NETLAB" up --kernel "$fifo/k" "$fifo" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "cannot read kernel '$fifo/k': not a regular file" "$tmp/err"
ok $? "a FIFO as --kernel: refused ($rc), no hang" || diag <"$tmp/err"
[ -z "$(procs_of "$fifo")" ]
ok $? "and nothing started"
truncate -s 17M "$fifo/lab.conf"
"$NETLAB" up "$fifo" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "^netlab: $fifo/lab.conf: too large (17825792 bytes; netlab reads at most 16 MiB of it)" "$tmp/err"
ok $? "a 17 MiB lab.conf: status 2 ($rc), with the limit"
rm "$fifo/lab.conf"
mkfifo "$fifo/lab.conf"
timeout 60 "$NETLAB" up "$fifo" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "^netlab: $fifo/lab.conf: not a regular file" "$tmp/err"
ok $? "a FIFO as lab.conf: status 2 ($rc), no hang"
rm -rf "$fifo"
for t in 0 -5; do
  "$NETLAB" test --test-timeout "$t" "$NETLAB_SRC/labs/hello" >/dev/null 2>"$tmp/err"
  rc=$?
  [ $rc -eq 2 ] && grep -q "^netlab: test: --test-timeout wants seconds above 0, not $t" "$tmp/err"
  ok $? "--test-timeout $t: status 2 ($rc), before anything starts"
done

# A warning names file and line and starts the lab all the same.
w=$(copy_lab hello "$tmp/warn")
printf 'r1[image]="kathara/frr"\nr1[privileged]="true"\n' >>"$w/lab.conf"
"$NETLAB" up "$w" >/dev/null 2>"$tmp/err"
ok $? "a lab with an option netlab ignores still comes up"
grep -q "^netlab: warning: $w/lab.conf:[0-9]*: option 'privileged' of 'r1' is ignored by netlab" "$tmp/err"
ok $? "and the warning names file and line"
[ "$(grep -c "^netlab: image kathara/frr runs on the host's root: the host's FRR" "$tmp/err")" = 1 ]
ok $? "and which root Kathará's image stands for is said once"
"$NETLAB" down "$w" >/dev/null 2>&1
finish
