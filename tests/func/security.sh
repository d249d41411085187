#!/bin/sh
# A guest is untrusted root: from inside a VM, every way a guest could reach
# the host through the lab's shares is tried, and none may give it anything.
# Also: QEMU and the switch never run as root; a lab under /root (0700) works
# when root runs netlab; `netlab gdb` ignores a decoy process.
. "$(dirname "$0")/lib.sh"

x() { "$NETLAB" exec --dir "$lab" --timeout 30 r1 -- sh -c "$1"; }

lab=$(copy_lab hello "$tmp/s")
echo original >"$lab/shared/file"
# What an older netlab left in the lab, where guests could write.
mkdir -p "$lab/.netlab/disks"
echo planted >"$lab/.netlab/disks/r1.qcow2"
: >"$lab/.netlab/disks/r1.dirty"
# A port listens on the host's loopback unless the lab names an address.
echo 'r1[port]="47833:80/tcp"' >>"$lab/lab.conf"
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up (with a shared/ directory)"
diag <"$tmp/up.out"
sd=$(state_dir "$lab")
grep -q "$lab/.netlab is ignored" "$tmp/up.out" && [ "$(cat "$lab/.netlab/disks/r1.qcow2")" = planted ]
ok $? "up says an old .netlab is ignored, and leaves it unread"
ss -Htln 'sport = :47833' >"$tmp/ss.out"
diag <"$tmp/ss.out"
grep -q '127.0.0.1:47833' "$tmp/ss.out" && ! grep -Eq '(0.0.0.0|\*|\[::\]):47833' "$tmp/ss.out"
ok $? "r1[port]=\"47833:80/tcp\" listens on 127.0.0.1 only"
rm -rf "$lab/.netlab"

if [ "$(id -u)" = 0 ]; then qu=netlab-qemu; else qu=$(id -un); fi
users=$(for p in $(procs_of "$sd"); do stat -c %U /proc/$p; done | sort -u | tr '\n' ' ')
[ "$users" = "$qu " ]
ok $? "QEMU and vde_switch run as $qu ($users)"

# /hostlab is read-only: guest root cannot add, rename or replace anything
# of the lab (lab.conf, tests/, NODE/, shared/ itself).
before=$(ls -A "$lab" | tr '\n' ' ')
x 'touch /hostlab/x; mv /hostlab/lab.conf /hostlab/y; mkdir /hostlab/tests/z; mv /hostlab/shared /hostlab/s2; mount | grep " /hostlab "' >"$tmp/ro.out" 2>&1
diag <"$tmp/ro.out"
[ "$(ls -A "$lab" | tr '\n' ' ')" = "$before" ] && [ -f "$lab/lab.conf" ] && [ ! -e "$lab/tests/z" ] &&
  grep -q '^hostlab on /hostlab type 9p (ro' "$tmp/ro.out"
ok $? "/hostlab is read-only in the guest: the lab directory is unchanged ($(ls -A "$lab" | tr '\n' ' '))"
if [ "$(id -u)" = 0 ]; then
  ! getfacl -p "$lab" 2>/dev/null | grep -q netlab-qemu && getfacl -p "$lab/shared" 2>/dev/null | grep -q '^user:netlab-qemu:rwx'
  ok $? "the QEMU user has no ACL entry on the lab directory, one on shared/ only"
fi
dd=$(data_dir "$lab")
[ ! -e "$lab/.netlab" ] && [ "$(stat -c '%a %U' "$dd")" = "700 $(id -un)" ] &&
  [ "$(stat -c '%a %U' "$dd/logs")" = "700 $(id -un)" ] &&
  [ "$(stat -c '%a %U' "$dd/logs/r1.console.log")" = "600 $(id -un)" ]
ok $? "netlab's data is in $dd (0700, not in the lab); the console log is 0600"

# /shared is the writable exchange: what the guest makes there is plain.
x 'cp /bin/sh /shared/suid && chown 0:0 /shared/suid && chmod 4755 /shared/suid && ls -l /shared/suid' >"$tmp/suid.out" 2>&1
diag <"$tmp/suid.out"
grep -q '^-rwsr-xr-x 1 root root' "$tmp/suid.out"
ok $? "inside the VM, /shared/suid looks setuid root to the guest"
[ -f "$lab/shared/suid" ] && [ ! -u "$lab/shared/suid" ] && [ ! -x "$lab/shared/suid" ] &&
  [ "$(stat -c %U "$lab/shared/suid")" = "$qu" ]
ok $? "on the host it is a plain file of $qu: not setuid, not executable ($(stat -c '%A %U' "$lab/shared/suid"))"
x 'mknod -m 666 /shared/disk b 254 0 && ls -l /shared/disk' >"$tmp/mknod.out" 2>&1
diag <"$tmp/mknod.out"
[ -e "$lab/shared/disk" ] && [ ! -b "$lab/shared/disk" ] && [ ! -c "$lab/shared/disk" ] && [ -f "$lab/shared/disk" ]
ok $? "a device node made by the guest is a plain file on the host"
x 'ln -s / /shared/root; ln -s /etc/shadow /shared/x' >/dev/null 2>&1
[ -z "$(find "$lab" -type l)" ]
ok $? "no symlink anywhere in the lab directory ($(find "$lab" -type l | head -3))"

# Locks live in netlab's own directory of the state dir, never in the one
# QEMU owns.
"$NETLAB" exec --dir "$lab" r1 -- true
echo 'true' | "$NETLAB" console -d "$lab" r1 >/dev/null 2>&1
[ ! -e "$sd/vm/r1/agent-0.lock" ] && [ ! -e "$sd/vm/r1/console.lock" ] &&
  [ -f "$sd/locks/r1/agent-0.lock" ] && [ -f "$sd/locks/r1/console.lock" ] &&
  [ "$(stat -c '%a %U' "$sd/locks/r1")" = "700 $(id -un)" ]
ok $? "exec's and console's locks are in $sd/locks/r1 (0700, $(id -un)'s), none in vm/r1"

# Host files the QEMU user cannot read stay unreadable through the root share.
x 'cat /etc/shadow' >"$tmp/shadow.out" 2>&1
rc=$?
[ $rc -ne 0 ] && ! grep -q '^root:' "$tmp/shadow.out"
ok $? "the guest cannot read the host's /etc/shadow ($(head -c 80 "$tmp/shadow.out"))"
if [ "$(id -u)" = 0 ]; then
  x 'ls /root/.cache' >/dev/null 2>&1
  [ $? -ne 0 ]
  ok $? "nor list root's home"
fi

# gdb: a decoy process naming the VM's gdb socket and a kernel of its own.
sh -c 'sleep 60; :' -kernel /tmp/netlab-decoy-vmlinux "unix:$sd/vm/r1/gdb.sock,server=on" &
decoy=$!
"$NETLAB" gdb -d "$lab" r1 -- -batch -ex 'info files' >"$tmp/gdb.out" 2>&1
kill $decoy 2>/dev/null
! grep -q netlab-decoy "$tmp/gdb.out"
ok $? "netlab gdb ignores a decoy process that names the VM's gdb socket"

# A socket in the QEMU user's directory served by someone else (root here):
# netlab checks its peer (SO_PEERCRED) and does not talk to it.
if [ "$(id -u)" = 0 ]; then
  c=$sd/vm/r1/console.sock
  mv "$c" "$c.real"
  python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(30)' "$c" &
  fake=$!
  wait_for 10 test -S "$c"
  echo true | "$NETLAB" console -d "$lab" r1 >"$tmp/fake.out" 2>&1
  rc=$?
  kill $fake
  rm -f "$c"
  mv "$c.real" "$c"
  [ $rc -ne 0 ] && grep -q 'served by uid 0, not by the QEMU user' "$tmp/fake.out"
  ok $? "console refuses a socket the QEMU user does not serve ($(head -c 120 "$tmp/fake.out"))"
fi

# shared/ renamed while the lab is up: down takes the ACL entry back from
# the directory it was given to, not from whatever has the name then.
mv "$lab/shared" "$lab/shared.moved"
mkdir "$lab/shared"
"$NETLAB" down "$lab" >"$tmp/down.out" 2>&1
ok $? "down"
diag <"$tmp/down.out"
if [ "$(id -u)" = 0 ]; then
  ! getfacl -R -p "$lab" 2>/dev/null | grep -q '^user:netlab-qemu:'
  ok $? "the QEMU user's access to shared/ is taken back, though it was renamed"
fi
rm -rf "$lab/shared"
mv "$lab/shared.moved" "$lab/shared"
[ ! -e "$dd/state" ]
ok $? "down removed the record of the state directory"

"$NETLAB" up "$lab" >"$tmp/up2.out" 2>&1
ok $? "up again after the guest's attempts"
diag <"$tmp/up2.out"
x 'test -e /shared/etc/shadow || test -e /shared/etc/passwd'
[ $? -ne 0 ]
ok $? "/shared in the guest is not the host's root"
"$NETLAB" test "$lab" >"$tmp/test.out" 2>&1
diag <"$tmp/test.out"
[ ! -e /tmp/netlab-pwned ]
ok $? "netlab test ran nothing the guest wrote"
"$NETLAB" down "$lab" >/dev/null 2>&1

# A lab in root's home (0700): QEMU's user cannot reach it, up binds it.
if [ "$(id -u)" = 0 ]; then
  home=$(mktemp -d /root/netlab-test.XXXXXX)
  rl=$(copy_lab hello "$home/hello")
  "$NETLAB" up "$rl" >"$tmp/root.out" 2>&1
  ok $? "a lab under /root (mode $(stat -c %a /root)) comes up"
  diag <"$tmp/root.out"
  grep -qx 'r1 reached r2' "$rl/shared/ping.r1" 2>/dev/null
  ok $? "and its VMs write to /shared"
  "$NETLAB" down "$rl" >/dev/null 2>&1
  ok $? "and goes down"
  [ "$(stat -c %a /root)" = 700 ] || [ "$(stat -c %a /root)" = "$(stat -c %a "$home/..")" ]
  ok $? "/root's mode was not changed"
  rm -rf "$(data_dir "$rl")" "$home"
fi
finish
