#!/bin/sh
# A guest is untrusted root: from inside a VM, every way a guest could reach
# the host through the lab's shares is tried, and none may give it anything.
# Also: QEMU and the switch never run as root; a lab under /root (0700) works
# when root runs netlab; `netlab gdb` ignores a decoy process.
. "$(dirname "$0")/lib.sh"

x() { "$NETLAB" exec --dir "$lab" --timeout 30 r1 -- sh -c "$1"; }

lab=$(copy_lab hello "$tmp/s")
mkdir "$lab/shared"
echo original >"$lab/shared/file"
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up (with a shared/ directory)"
diag <"$tmp/up.out"
sd=$(state_dir "$lab")

if [ "$(id -u)" = 0 ]; then qu=netlab-qemu; else qu=$(id -un); fi
users=$(for p in $(procs_of "$sd"); do stat -c %U /proc/$p; done | sort -u | tr '\n' ' ')
[ "$users" = "$qu " ]
ok $? "QEMU and vde_switch run as $qu ($users)"

# A setuid-root shell made by guest root in /hostlab.
x 'cp /bin/sh /hostlab/suid && chown 0:0 /hostlab/suid && chmod 4755 /hostlab/suid && ls -l /hostlab/suid' >"$tmp/suid.out" 2>&1
diag <"$tmp/suid.out"
grep -q '^-rwsr-xr-x 1 root root' "$tmp/suid.out"
ok $? "inside the VM, /hostlab/suid looks setuid root to the guest"
[ -f "$lab/suid" ] && [ ! -u "$lab/suid" ] && [ ! -x "$lab/suid" ] &&
  [ "$(stat -c %U "$lab/suid")" = "$qu" ]
ok $? "on the host it is a plain file of $qu: not setuid, not executable ($(stat -c '%A %U' "$lab/suid"))"

# A device node: the host's first disk, readable by whoever opens it.
x 'mknod -m 666 /hostlab/disk b 254 0 && ls -l /hostlab/disk' >"$tmp/mknod.out" 2>&1
diag <"$tmp/mknod.out"
[ -e "$lab/disk" ] && [ ! -b "$lab/disk" ] && [ ! -c "$lab/disk" ] && [ -f "$lab/disk" ]
ok $? "a device node made by the guest is a plain file on the host"

# shared/ replaced by a symlink to /: the next up would share the host's root.
x 'rm -rf /hostlab/shared && ln -s / /hostlab/shared && ls -ld /hostlab/shared' >"$tmp/ln.out" 2>&1
diag <"$tmp/ln.out"
[ ! -L "$lab/shared" ]
ok $? "a symlink made by the guest is no symlink on the host"
x 'ln -s /etc/shadow /hostlab/.netlab/logs/x; ln -s / /hostlab/.netlab/y' >/dev/null 2>&1
[ -z "$(find "$lab" -type l)" ]
ok $? "no symlink anywhere in the lab directory ($(find "$lab" -type l | head -3))"

# An executable for the next `netlab test` to run on the host.
x 'printf "#!/bin/sh\ntouch /tmp/netlab-pwned\n" >/hostlab/tests/00-pwn; chmod 755 /hostlab/tests/00-pwn' >/dev/null 2>&1
if [ -e "$lab/tests/00-pwn" ]; then
  [ ! -x "$lab/tests/00-pwn" ]
  ok $? "a test the guest wrote is not executable on the host"
else
  ok 0 "the guest cannot write into tests/ at all"
fi

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

"$NETLAB" down "$lab" >"$tmp/down.out" 2>&1
ok $? "down"
if [ "$(id -u)" = 0 ]; then
  ! getfacl -p "$lab" 2>/dev/null | grep -q netlab-qemu
  ok $? "the QEMU user's access to the lab directory is taken back"
fi

# The next `up` must not share what the guest left as 'shared'.
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
  ok $? "and its VMs write to /hostlab"
  "$NETLAB" down "$rl" >/dev/null 2>&1
  ok $? "and goes down"
  [ "$(stat -c %a /root)" = 700 ] || [ "$(stat -c %a /root)" = "$(stat -c %a "$home/..")" ]
  ok $? "/root's mode was not changed"
  rm -rf "$home"
fi
finish
