#!/bin/sh
# Host operations on guest data, tried with a guest that prepares traps:
# `cat`, `cp`, `diff -p`, `save` and a post-mortem read a node's files with
# the QEMU user's rights (a guest symlink to a root-only host file reads
# nothing), bounded (a 1 GiB sparse file is refused, not copied); `save`
# writes netlab's modes, never into a directory a VM could have made; `test`
# checks the whole path of what it runs; a disk whose qcow2 header names a
# host file is refused; a kernel tree's kernel.release cannot leave it.
. "$(dirname "$0")/lib.sh"

n() { "$NETLAB" "$@"; }
x() { n exec --dir "$lab" --timeout 60 r1 -- sh -c "$1"; }
if [ "$(id -u)" = 0 ]; then qu=netlab-qemu; else qu=$(id -un); fi
me=$(id -un)

lab=$tmp/gd
mkdir -p "$lab/tests"
printf 'r1[0]="A"\nr1[disk]="256m"\n' >"$lab/lab.conf"
printf '#!/bin/sh\necho "1..1"\necho "ok 1 - ran"\n' >"$lab/tests/01-ok"
chmod 755 "$lab/tests/01-ok"

# A host file only root (or, as a user, only this user) may read.
secret=$tmp/secret
echo "netlab-host-secret" >"$secret"
chmod 600 "$secret"

n up "$lab" >"$tmp/up.out" 2>&1
ok $? "up a node with a disk"
diag <"$tmp/up.out"

# The guest's traps: a link to the host file, a setuid executable, a 1 GiB
# sparse file.
x "ln -s $secret /etc/leak && printf '#!/bin/sh\necho hi\n' >/etc/suid && chmod 4755 /etc/suid &&
   truncate -s 1G /etc/big && echo small >/etc/small"
ok $? "the guest plants a link to a host file, a setuid file and a 1 GiB sparse file"

# Running: through the agent, as the guest sees it.
n cat --dir "$lab" r1:/etc/big >"$tmp/big.out" 2>"$tmp/big.err"
rc=$?
[ $rc -ne 0 ] && grep -q "passed 67108864 bytes" "$tmp/big.err" &&
  [ "$(stat -c %s "$tmp/big.out")" -le 67108864 ]
ok $? "cat of the 1 GiB file of a running node stops at the 64 MiB limit ($(head -c 200 "$tmp/big.err"))"

n down "$lab" >/dev/null 2>&1
ok $? "down"

# Stopped: through the disk, libguestfs in a child with the QEMU user's rights.
n cat --dir "$lab" r1:/etc/leak >"$tmp/leak.out" 2>"$tmp/leak.err"
! grep -q netlab-host-secret "$tmp/leak.out"
ok $? "cat of a guest link to a host file of $me's reads nothing of it ($(head -c 200 "$tmp/leak.err"))"
n cat --dir "$lab" r1:/etc/small >"$tmp/small.out" 2>"$tmp/small.err"
[ "$(cat "$tmp/small.out")" = small ]
ok $? "cat of a stopped node's file works ($(head -c 200 "$tmp/small.err"))"
n cp --dir "$lab" r1:/etc/big "$tmp/big.copy" >/dev/null 2>"$tmp/cp.err"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$tmp/big.copy" ] && grep -q "more than the 67108864" "$tmp/cp.err"
ok $? "cp of the 1 GiB file is refused, nothing written ($(head -c 200 "$tmp/cp.err"))"
n diff --dir "$lab" -p r1 >"$tmp/diff.out" 2>"$tmp/diff.err"
rc=$?
[ $rc -ne 0 ] && grep -q "more than the 67108864" "$tmp/diff.err" &&
  [ "$(stat -c %s "$tmp/diff.out")" -lt 1000000 ]
ok $? "diff -p stops at the 1 GiB file ($(head -c 200 "$tmp/diff.err"))"

# save: the big file is refused, the rest saved with netlab's modes.
n save --dir "$lab" r1 >"$tmp/save.out" 2>&1
rc=$?
diag <"$tmp/save.out"
[ $rc -ne 0 ] && [ ! -e "$lab/r1/etc/big" ] && grep -q "more than the 67108864" "$tmp/save.out"
ok $? "save refuses the 1 GiB file, writes no such file, fails"
[ -f "$lab/r1/etc/suid" ] && [ "$(stat -c '%a %U' "$lab/r1/etc/suid")" = "755 $me" ] &&
  [ "$(stat -c '%a' "$lab/r1/etc/small")" = 644 ]
ok $? "the other files are saved with netlab's modes, no setuid ($(stat -c '%a %U' "$lab/r1/etc/suid" 2>&1))"
[ ! -e "$lab/r1/etc/leak" ] || [ ! -L "$lab/r1/etc/leak" ]
ok $? "save writes no link"
[ -z "$(grep -rl netlab-host-secret "$lab" 2>/dev/null)" ]
ok $? "nothing in the lab holds the host file's content"

# A directory the QEMU user made (as a guest would through /hostlab).
rm -rf "$lab/r1"
mkdir -p "$lab/r1/etc"
[ "$qu" != "$me" ] && chown "$qu" "$lab/r1/etc" || chmod 777 "$lab/r1/etc"
n save --dir "$lab" r1 >"$tmp/save2.out" 2>&1
rc=$?
diag <"$tmp/save2.out"
[ $rc -ne 0 ] && [ -z "$(ls -A "$lab/r1/etc")" ] &&
  grep -q "refusing to write into 'r1/etc'" "$tmp/save2.out"
ok $? "save refuses a directory of $qu's (or writable by all) and writes nothing in it"
rm -rf "$lab/r1"

# test: the whole path to what it runs.
[ "$qu" != "$me" ] && chown "$qu" "$lab/tests" || chmod 777 "$lab/tests"
n test "$lab" >"$tmp/test.out" 2>&1
rc=$?
diag <"$tmp/test.out"
[ $rc -ne 0 ] && grep -q "refusing to run tests: '$lab/tests' is not a directory of the user's" "$tmp/test.out" &&
  ! grep -q "ok 1 - ran" "$tmp/test.out" && [ -z "$(procs_of "$lab")" ]
ok $? "test refuses a tests/ directory of $qu's (or writable by all), runs nothing"
chown "$me" "$lab/tests"
chmod 755 "$lab/tests"

# A test listed before `up` is checked again when it runs: the first one
# makes the second writable by all, which is then not run.
rm -f "$lab/tests/"*
printf '#!/bin/sh\nchmod 777 "$NETLAB_LAB/tests/02-later"\necho "1..1"\necho "ok 1 - first"\n' >"$lab/tests/01-first"
printf '#!/bin/sh\ntouch "%s"\necho "1..1"\necho "ok 1 - later"\n' "$tmp/later-ran" >"$lab/tests/02-later"
chmod 755 "$lab/tests/01-first" "$lab/tests/02-later"
n test "$lab" >"$tmp/test2.out" 2>&1
rc=$?
diag <"$tmp/test2.out"
[ $rc -ne 0 ] && [ ! -e "$tmp/later-ran" ] && grep -q "^not ok 2 - 02-later.*writable by others" "$tmp/test2.out"
ok $? "a test changed after it was listed is checked again and not run"
art=$(sed -n 's/^# .* tests failed; artifacts in \(.*\) (see INDEX)$/\1/p' "$tmp/test2.out")
[ -n "$art" ] && grep -q "/etc/big" "$art/r1/changes.txt" && [ -s "$art/r1/ip-addr.txt" ] &&
  [ "$(stat -c %U "$art/r1/changes.txt")" = "$me" ]
ok $? "the post-mortem kept the node's changes and probes, in files of $me's ($art)"

# A disk whose qcow2 header names a host file (a backing file).
disk=$("$NETLAB" status --json "$lab" | python3 -c '
import json, sys
print(next(d["file"] for d in json.load(sys.stdin)["disks"] if d["node"] == "r1"))')
mv "$disk" "$disk.good"
qemu-img create -q -f qcow2 -b "$secret" -F raw "$disk"
[ "$qu" != "$me" ] && chown "$qu" "$disk"
n cat --dir "$lab" r1:/etc/small >"$tmp/q.out" 2>"$tmp/q.err"
rc=$?
[ $rc -ne 0 ] && grep -q "refusing disk '$disk': its qcow2 header names a backing file" "$tmp/q.err"
ok $? "cat refuses a disk with a backing file, naming it ($(head -c 200 "$tmp/q.err"))"
n up "$lab" >"$tmp/q-up.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "refusing disk '$disk'" "$tmp/q-up.out" && [ -z "$(procs_of "$lab")" ]
ok $? "up refuses it too, and leaves nothing running"
n down "$lab" >/dev/null 2>&1
mv "$disk.good" "$disk"

# A kernel tree whose kernel.release points out of /lib/modules.
tree=$tmp/tree
mkdir -p "$tree/include/config"
vmlinux=$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/netlab/kernels/vmlinux-* 2>/dev/null | head -1)
if [ -n "$vmlinux" ]; then
  cp "$vmlinux" "$tree/vmlinux"
  echo "../../../root" >"$tree/include/config/kernel.release"
  kl=$tmp/kl
  mkdir "$kl"
  printf 'r1[0]="A"\nr1[kernel]="%s"\n' "$tree/vmlinux" >"$kl/lab.conf"
  n up "$kl" >"$tmp/kl.out" 2>&1
  rc=$?
  diag <"$tmp/kl.out"
  [ $rc -ne 0 ] && grep -q "$tree/include/config/kernel.release:1: '../../../root' is not a kernel release" "$tmp/kl.out" &&
    [ -z "$(procs_of "$kl")" ]
  ok $? "a kernel.release of '../../../root' is an error naming the file and line"
else
  echo "ok $((tap_n += 1)) - # SKIP no extracted vmlinux in the cache"
fi
finish
