#!/bin/sh
# Nodes' disks with real VMs and real libguestfs: a node's changes outlive
# `down`; cat/cp/ls/diff with the lab up (agent) and down (libguestfs);
# save into <node>/; a VM killed mid-write; a panic under `netlab test`.
# libguestfs launches cost ~10-40 s each under TCG: the test makes six.
. "$(dirname "$0")/lib.sh"

lab=$tmp/disk
mkdir -p "$lab/tests"
cat >"$lab/lab.conf" <<'EOF'
LAB_DISK="256m"
r1[0]="A"
r2[0]="A"
r2[disk]="none"
EOF
echo 'ip addr add 10.0.0.1/24 dev eth0' >"$lab/r1.startup"
n() { "$NETLAB" "$@"; }
dd=$(data_dir "$lab")

# Bad input: a size that does not fit in the free space, before anything starts.
bad=$tmp/bad
mkdir -p "$bad"
printf 'r1[0]="A"\nr1[disk]="1000g"\n' >"$bad/lab.conf"
n up "$bad" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "^netlab: $bad/lab.conf:2: the disk of 'r1' (1024000 MiB) does not fit in the [0-9]* MiB free" "$tmp/err" &&
  [ ! -e "$(data_dir "$bad")/disks/r1.qcow2" ] && [ -z "$(procs_of "$bad")" ]
ok $? "a disk larger than the free space: status 2 ($rc), file:line, nothing created"
cat "$tmp/err" | diag

# First up: one libguestfs launch makes r1's disk; r2 keeps a tmpfs.
n up "$lab" >"$tmp/out" 2>&1
ok $? "up with a disk for r1"
grep -q '^r1: disk created, 256 MiB' "$tmp/out" && ! grep -q '^r2: disk' "$tmp/out"
ok $? "up created r1's disk only"
n exec --dir "$lab" r1 -- sh -c 'mount | grep -q "^/dev/vda on /run/netlab/rw type ext4"'
ok $? "r1's overlay layer is on its virtio disk (ext4)"
if [ "$(id -u)" = 0 ]; then qu=netlab-qemu; else qu=$(id -un); fi
[ ! -e "$lab/.netlab" ] && [ "$(stat -c '%a %U' "$dd/disks/r1.qcow2")" = "600 $qu" ] &&
  [ "$(stat -c '%a %U' "$dd/disks")" = "700 $(id -un)" ] &&
  [ "$(stat -c '%a %U' "$dd/disks/r1.dirty")" = "600 $(id -un)" ]
ok $? "the disk is in the data directory, 0600 and $qu's; its directory and marks are not $qu's ($(stat -c '%a %U' "$dd/disks/r1.qcow2" 2>&1))"
sd=$(state_dir "$lab")
grep -q '<backingStore/>' "$sd"/run/qemu/*r1.xml
ok $? "its domain says no backing chain (<backingStore/>)"
n exec --dir "$lab" r1 -- sh -c 'echo kept >/srv/note && mkdir -p /etc/frr &&
  printf "hostname r1-by-hand\n" >/etc/frr/frr.conf && rm /etc/motd && mkdir -p /var/log &&
  echo r1-log-line >/var/log/netlab-test.log'
ok $? "r1 writes a file, an FRR config and a log"
n status "$lab" >"$tmp/out"
grep -q "^r1 *256.0 MiB .*$dd/disks/r1.qcow2" "$tmp/out" && ! grep -q '^r2 .*qcow2' "$tmp/out"
ok $? "status shows r1's disk and its size"
n cat --dir "$lab" r1:/srv/note >"$tmp/out" && [ "$(cat "$tmp/out")" = kept ]
ok $? "cat through the agent"
n cp --dir "$lab" r1:/nope "$tmp/x" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "nope" "$tmp/err" && [ ! -e "$tmp/x" ]
ok $? "cp of a missing path: status 1, named, nothing left"
n diff --dir "$lab" r1 >"$tmp/out"
grep -q '^A /srv/note$' "$tmp/out" && grep -q '^D /etc/motd$' "$tmp/out" &&
  grep -q '^[AM] /etc/frr/frr.conf$' "$tmp/out"
ok $? "diff through the agent: added, modified, deleted"
cat "$tmp/out" | diag

n down "$lab" >/dev/null 2>&1
[ ! -e "$dd/disks/r1.dirty" ]
ok $? "down synced r1's disk (not left dirty)"

# Down: libguestfs reads the disk (read-only), one launch per command.
n cat --dir "$lab" r1:/srv/note r1:/etc/frr/frr.conf >"$tmp/out" 2>"$tmp/err"
[ "$(cat "$tmp/out")" = "kept
hostname r1-by-hand" ]
ok $? "cat of two files from the stopped node's disk"
cat "$tmp/err" | diag
n diff -p --dir "$lab" r1 >"$tmp/out" 2>"$tmp/err"
grep -q '^A /srv/note$' "$tmp/out" && grep -q '^D /etc/motd$' "$tmp/out" &&
  grep -q '^+hostname r1-by-hand$' "$tmp/out"
ok $? "diff -p from the stopped node's disk: whiteout as deletion, content diff"
cat "$tmp/out" "$tmp/err" | diag
n diff --dir "$lab" r2 >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "'r2' has no disk" "$tmp/err"
ok $? "a stopped node without a disk: says it keeps nothing"

# Save puts the FRR config into r1/etc/frr/; a fresh lab boots with it.
n save --dir "$lab" r1 >"$tmp/out" 2>&1
grep -q 'hostname r1-by-hand' "$lab/r1/etc/frr/frr.conf" 2>/dev/null &&
  grep -q '/etc/frr/frr.conf -> r1/etc/frr/frr.conf (new)' "$tmp/out" &&
  [ ! -e "$lab/r1/srv/note" ] && [ ! -e "$lab/r1/etc/hostname" ]
ok $? "save writes /etc/frr/frr.conf into r1/etc/frr/ (and not /srv or netlab's files)"
cat "$tmp/out" | diag
fresh=$tmp/fresh
mkdir "$fresh"
printf 'r1[0]="A"\n' >"$fresh/lab.conf"
cp -r "$lab/r1" "$fresh/r1"
n up "$fresh" >/dev/null 2>&1 &&
  [ "$(n exec --dir "$fresh" r1 -- cat /etc/frr/frr.conf)" = "hostname r1-by-hand" ]
ok $? "a fresh lab without a disk boots with the saved configuration"
n down "$fresh" >/dev/null 2>&1
n save --dir "$fresh" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "nothing to save: lab '$fresh' is not up and no node has a disk" "$tmp/err"
ok $? "save on a lab with no disks and not up says why"

# Up again: no libguestfs launch, and r1's files are there.
n up "$lab" >"$tmp/out" 2>&1
! grep -q 'disk created\|disk checked' "$tmp/out" &&
  [ "$(n exec --dir "$lab" r1 -- cat /srv/note)" = kept ] &&
  [ "$(n exec --dir "$lab" r1 -- cat /etc/frr/frr.conf)" = "hostname r1-by-hand" ]
ok $? "up again: no disk work, the file and the FRR config are there"

# A VM killed with -9 mid-write: the next up checks the disk and says so.
n exec --dir "$lab" --detach r1 -- sh -c 'while :; do dd if=/dev/zero of=/srv/blob bs=64k count=64 2>/dev/null; sync; done'
wait_for 60 n exec --dir "$lab" r1 -- test -s /srv/blob
pid=$(status_of "$lab" 'vm("r1")["pid"]')
[ -n "$pid" ] && kill -9 "$pid"
ok $? "killed r1's QEMU ($pid) while it writes"
wait_for 30 sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"
n down "$lab" >/dev/null 2>&1
[ -e "$dd/disks/r1.dirty" ]
ok $? "its disk is left marked dirty"
n up "$lab" >"$tmp/out" 2>&1 &&
  grep -Eq '^r1: disk checked \(e2fsck\): (clean|errors found and repaired)' "$tmp/out" &&
  [ "$(n exec --dir "$lab" r1 -- cat /srv/note)" = kept ]
ok $? "up checks it offline (e2fsck through libguestfs), says so, and the node's files are there"
cat "$tmp/out" | diag
n down "$lab" >/dev/null 2>&1

# A panic under `netlab test`: its logs come from its disk, after it stopped.
cat >"$lab/tests/01-panic" <<'EOF'
#!/bin/sh
netlab exec r1 -- sh -c 'echo before-panic >>/var/log/netlab-test.log; sync'
netlab exec --detach r1 -- sh -c 'echo c >/proc/sysrq-trigger'
exit 1
EOF
chmod +x "$lab/tests/01-panic"
art=$tmp/artifacts
n test --artifacts "$art" "$lab" >"$tmp/out" 2>&1
[ $? -eq 1 ]
ok $? "netlab test fails"
cat "$tmp/out" | diag
tar -xzOf "$art/r1/var-log.tar.gz" 2>/dev/null | grep -q before-panic
ok $? "r1's /var/log is in the artifacts, with the line written before the panic"
grep -q '^r1/var-log.tar.gz: .*read through its disk (libguestfs)' "$art/INDEX" &&
  grep -q '^r2/changes.txt: .*through the agent' "$art/INDEX" &&
  grep -q '^A /srv/note$' "$art/r1/changes.txt"
ok $? "the INDEX says where each came from; r1's changed files are listed"
cat "$art/INDEX" | diag

# Wipe removes the disk; the next up starts r1 fresh.
n down --wipe "$lab" >"$tmp/out" 2>&1
[ ! -e "$dd/disks/r1.qcow2" ] && grep -q "removed the disk of 'r1'" "$tmp/out"
ok $? "down --wipe removes the disk"
finish
