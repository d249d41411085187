#!/bin/sh
# netlab gdb on r1's kernel through QEMU's GDB stub: without symbols, with a
# distro debug file when one is installed, and with the vmlinux of the kernel
# tree the lab names; gdb on a program under gdbserver in r1, over ttyS1;
# netlab monitor.
. "$(dirname "$0")/lib.sh"

# piped CMD: what r1's console prints for CMD fed from a pipe.
piped() { echo "$1" | "$NETLAB" console -d "$a" r1 2>&1 | clean; }
answers() { piped 'echo ans-$((40+2))' | grep -q '^ans-42$'; }

a=$(copy_lab hello "$tmp/a")
# The lab boots the host's kernel as if from a kernel tree of its own, so
# that the test can later give that tree a vmlinux with symbols.
boot=$(ls /boot/vmlinuz-* | sort -V | tail -1)
ver=${boot#/boot/vmlinuz-}
tree="$tmp/linux"
mkdir -p "$tree/arch/x86/boot"
cp -p "$boot" "$tree/arch/x86/boot/bzImage"
echo "LAB_KERNEL=\"$tree/arch/x86/boot/bzImage\"" >>"$a/lab.conf"
"$NETLAB" up "$a" >"$tmp/up.out" 2>&1
ok $? "netlab up (kernel $ver, from $tree)"
diag <"$tmp/up.out"

# Once the shell is idle, the CPU is mostly in the kernel's idle loop; the
# profile the shell reads at start runs in user space for seconds.
wait_for 60 answers
kernel_rip() {
  "$NETLAB" gdb -d "$a" r1 -- -batch -ex 'info registers rip' >"$tmp/rip.out" 2>"$tmp/rip.err" &&
    grep -Eq '^rip +0xffffffff8[0-9a-f]{7} ' "$tmp/rip.out"
}
wait_for 20 kernel_rip
ok $? "netlab gdb r1 -- -batch -ex 'info registers rip' prints a kernel address: $(grep '^rip' "$tmp/rip.out")"
grep -q "netlab: no symbols for kernel $ver: install linux-image-$ver-dbg or use a built kernel" \
  "$tmp/rip.err"
ok $? "says that the kernel has no symbols"
diag <"$tmp/rip.err"
status_of "$a" 'vm("r1")["state"] == "running"' >/dev/null
ok $? "r1 runs on after gdb detached"
wait_for 60 answers
ok $? "and its console answers"

dbg=""
for f in "/usr/lib/debug/boot/vmlinux-$ver" "/usr/lib/debug/lib/modules/$ver/vmlinux"; do
  [ -f "$f" ] && dbg=$f
done
if [ -n "$dbg" ]; then
  "$NETLAB" gdb -d "$a" r1 -- -batch -ex bt >"$tmp/bt.out" 2>&1
  grep -Eq '^#0 .* in [A-Za-z_][A-Za-z0-9_.]* \(' "$tmp/bt.out"
  ok $? "with $dbg installed, bt shows named frames"
  diag <"$tmp/bt.out"
else
  tap_n=$((tap_n + 1))
  echo "ok $tap_n - bt with the distro's debug symbols # SKIP no /usr/lib/debug/boot/vmlinux-$ver: linux-image-$ver-dbg is not installed (858 MB)"
fi

# A built tree's vmlinux has a symbol table and the image's build ID. Make
# one from the image QEMU boots and the running kernel's /proc/kallsyms
# (text symbols only), and give the tree a vmlinux-gdb.py.
NETLAB_LAB="$a" "$NETLAB" exec r1 -- cp /proc/kallsyms /shared/kallsyms >"$tmp/cp.out" 2>&1
ok $? "r1 copied its /proc/kallsyms to /shared ($(wc -l <"$a/shared/kallsyms" 2>/dev/null) lines)"
diag <"$tmp/cp.out"
# The image QEMU boots, as up recorded it (QEMU itself opens a bind of it).
image=$(cat "$(state_dir "$a")/kernel.r1")
base=$(readelf -SW "$image" | sed -n 's/.* \.text  *PROGBITS  *\(ffffffff81000000\) .*/\1/p')
[ "$base" = ffffffff81000000 ] &&
  sed -n 's/^ffffffff81\([0-9a-f]\{6\}\) [Tt] \([A-Za-z0-9_.]*\)$/--add-symbol \2=.text:0x\1,function,global/p' \
    "$a/shared/kallsyms" | awk '!seen[$2]++' >"$tmp/syms.args" &&
  objcopy @"$tmp/syms.args" "$image" "$tree/vmlinux"
ok $? "a vmlinux with $(wc -l <"$tmp/syms.args") symbols in the lab's kernel tree"
cat >"$tree/vmlinux-gdb.py" <<'EOF'
import gdb
class Probe(gdb.Command):
    def __init__(self):
        super().__init__("lx-netlab-probe", gdb.COMMAND_USER)
    def invoke(self, arg, from_tty):
        gdb.write("vmlinux-gdb.py is loaded\n")
Probe()
EOF
named_bt() {
  "$NETLAB" gdb -d "$a" r1 -- -batch -ex bt -ex lx-netlab-probe >"$tmp/bt2.out" 2>"$tmp/bt2.err" &&
    grep -Eq '^#0 .* in [A-Za-z_][A-Za-z0-9_.]* \(' "$tmp/bt2.out"
}
wait_for 20 named_bt
ok $? "with the tree's vmlinux, bt shows named frames"
diag <"$tmp/bt2.out"
diag <"$tmp/bt2.err"
grep -q 'no symbols' "$tmp/bt2.err"
[ $? -ne 0 ]
ok $? "and no complaint about missing symbols"
grep -qx 'vmlinux-gdb.py is loaded' "$tmp/bt2.out"
ok $? "the tree's vmlinux-gdb.py is loaded"

# Userland: the VM sees the host's root, but not the host's /tmp (its own
# is a tmpfs): the program goes in the lab, at /hostlab in the VM.
cat >"$a/prog.c" <<'EOF'
#include <stdio.h>
static int square(int x) { return x * x; }
int main(void) {
  printf("%d\n", square(7));
  return 0;
}
EOF
gcc -g -O0 -o "$a/prog" "$a/prog.c"
ok $? "a small program, built on the host"
piped 'gdbserver /dev/ttyS1 /hostlab/prog >/shared/gdbserver.log 2>&1 &' >/dev/null
wait_for 30 grep -q 'Remote debugging using /dev/ttyS1' "$a/shared/gdbserver.log"
ok $? "gdbserver runs it in r1 on /dev/ttyS1"
diag <"$a/shared/gdbserver.log"
"$NETLAB" gdb -d "$a" r1 --serial "$a/prog" -- -batch -ex 'break main' -ex continue -ex bt \
  >"$tmp/user.out" 2>&1
grep -q '^Breakpoint 1, main () at .*prog.c:4' "$tmp/user.out" &&
  grep -q '^#0  main () at .*prog.c:4' "$tmp/user.out"
ok $? "netlab gdb --serial stops at the breakpoint in main"
diag <"$tmp/user.out"
"$NETLAB" gdb -d "$a" r1 --serial "$tmp/nothing" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "--serial with no such program is a usage error"

"$NETLAB" monitor -d "$a" r1 info status >"$tmp/mon.out" 2>&1
grep -qx 'VM status: running' "$tmp/mon.out"
ok $? "netlab monitor r1 info status: $(cat "$tmp/mon.out")"
"$NETLAB" monitor -d "$a" r1 info network | grep -q 'type=vde'
ok $? "netlab monitor r1 info network shows the VDE NIC"
printf 'info name\n\nexit\ninfo status\n' | "$NETLAB" monitor -d "$a" r1 >"$tmp/mon2.out" 2>&1
[ "$(cat "$tmp/mon2.out")" = r1 ]
ok $? "commands on stdin, until 'exit'"
# A prompt open after its first command keeps no other command out.
mkfifo "$tmp/mon.in"
"$NETLAB" monitor -d "$a" r1 <"$tmp/mon.in" >"$tmp/mon3.out" 2>&1 &
mon=$!
exec 7>"$tmp/mon.in"
echo 'info name' >&7
wait_for 60 grep -qx r1 "$tmp/mon3.out"
"$NETLAB" status "$a" >"$tmp/status.out" 2>&1
ok $? "status runs while a monitor prompt is open"
diag <"$tmp/status.out"
echo exit >&7
exec 7>&-
wait $mon
"$NETLAB" monitor -d "$a" r9 info status >/dev/null 2>&1
[ $? -eq 1 ]
ok $? "the monitor of an unknown VM is an error"

"$NETLAB" down "$a" >/dev/null 2>&1
ok $? "netlab down"
"$NETLAB" gdb -d "$a" r1 -- -batch >"$tmp/gone.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "is not up" "$tmp/gone.out"
ok $? "gdb on a lab that is down is an error (status $rc)"
finish
