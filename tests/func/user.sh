#!/bin/sh
# The same lab as an ordinary user, up, used and down: the embedded libvirt
# driver and VDE need no root, and neither do exec, console, tmux, gdb and
# monitor. Run as root, it borrows the user netlab-test.
. "$(dirname "$0")/lib.sh"

as_user() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  id netlab-test >/dev/null 2>&1 ||
    useradd --create-home --shell /bin/sh netlab-test
  as_user() { runuser -u netlab-test -- env NETLAB="$NETLAB" "$@"; }
fi

lab=$(copy_lab hello "$tmp/u")
# lib.sh's cleanup runs as root, and root's netlab does not see this user's labs.
udd=$(as_user python3 -c "$data_dir_py" "$lab")
trap 'as_user "$NETLAB" down "$lab" >/dev/null 2>&1; as_user rm -rf "$udd"; cleanup' EXIT
[ "$(id -u)" -eq 0 ] && chown -R netlab-test "$lab"
as_user "$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up as $(as_user id -un)"
diag <"$tmp/up.out"
grep -qx 'r1 reached r2' "$lab/shared/ping.r1" 2>/dev/null
ok $? "r1 reached r2"
as_user "$NETLAB" status --json "$lab" >"$tmp/status.json"
sd=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state_dir"])' "$tmp/status.json")
n=$(python3 -c 'import json, sys; print(sum(v["state"] == "running" and v["pid"] > 0 for v in json.load(open(sys.argv[1]))["vms"]))' "$tmp/status.json")
[ "$n" -eq 2 ]
ok $? "both VMs run ($n), state in $sd"
qemu_user=$(for p in $(procs_of "$sd"); do stat -c %U /proc/$p; done | sort -u | tr '\n' ' ')
[ "$qemu_user" = "$(as_user id -un) " ]
ok $? "QEMU and vde_switch run as that user ($qemu_user)"
as_user env NETLAB_LAB="$lab" "$NETLAB" exec r2 -- hostname >"$tmp/exec.out" 2>&1
[ "$(cat "$tmp/exec.out")" = r2 ]
ok $? "exec r2 -- hostname prints r2"
piped() { echo "$1" | as_user "$NETLAB" console -d "$lab" r1 2>&1 | clean; }
answers() { piped 'echo ans-$((40+2))' | grep -q '^ans-42$'; }
wait_for 60 answers
ok $? "a command piped into console runs in r1's shell"
piped 'id -un; hostname' >"$tmp/console.out"
grep -qx root "$tmp/console.out" && grep -qx r1 "$tmp/console.out"
ok $? "where it is root on r1"
diag <"$tmp/console.out"

as_user "$NETLAB" tmux "$lab" </dev/null >"$tmp/tmux.out" 2>&1
s=$(sed -n "s/^tmux session '\([^']*\)'.*/\1/p" "$tmp/tmux.out")
[ "$(as_user tmux list-windows -t "=$s" -F '#{window_name}' 2>/dev/null | tr '\n' ' ')" = "r1 r2 " ]
ok $? "tmux makes a session with a window per VM, on the user's tmux server"
as_user tmux kill-server >/dev/null 2>&1

kernel_rip() {
  as_user "$NETLAB" gdb -d "$lab" r1 -- -batch -ex 'info registers rip' >"$tmp/rip.out" 2>&1 &&
    grep -Eq '^rip +0xffffffff8[0-9a-f]{7} ' "$tmp/rip.out"
}
wait_for 20 kernel_rip
ok $? "gdb on r1's kernel prints a kernel address"
diag <"$tmp/rip.out"
echo 'int main(void) { return 0; }' >"$lab/prog.c"
as_user gcc -g -O0 -o "$lab/prog" "$lab/prog.c" &&
  piped 'gdbserver /dev/ttyS1 /hostlab/prog >/shared/gdbserver.log 2>&1 &' >/dev/null &&
  wait_for 30 grep -q 'Remote debugging using /dev/ttyS1' "$lab/shared/gdbserver.log" &&
  as_user "$NETLAB" gdb -d "$lab" r1 --serial "$lab/prog" -- -batch -ex 'break main' \
    -ex continue >"$tmp/serial.out" 2>&1 &&
  grep -q '^Breakpoint 1, main () at .*prog.c:1' "$tmp/serial.out"
ok $? "gdb --serial stops in a program under gdbserver in r1"
diag <"$tmp/serial.out"
as_user "$NETLAB" monitor -d "$lab" r1 info status >"$tmp/mon.out" 2>&1
grep -qx 'VM status: running' "$tmp/mon.out"
ok $? "monitor r1 info status: $(cat "$tmp/mon.out")"

as_user "$NETLAB" down "$lab" >/dev/null 2>&1
ok $? "down"
[ -z "$(procs_of "$sd")" ] && [ ! -e "$sd" ]
ok $? "nothing left behind"

# A lab is found wherever its state went: up under one XDG_RUNTIME_DIR, down
# from an environment without it (a su shell, cron).
xdg=$tmp/xdg
mkdir -m 700 "$xdg"
[ "$(id -u)" -eq 0 ] && chown netlab-test "$xdg"
as_user env XDG_RUNTIME_DIR="$xdg" "$NETLAB" up "$lab" >"$tmp/up2.out" 2>&1
ok $? "up with XDG_RUNTIME_DIR=$xdg"
sd2=$(as_user env XDG_RUNTIME_DIR="$xdg" "$NETLAB" status --json "$lab" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["state_dir"])')
case $sd2 in "$xdg"/*) true ;; *) false ;; esac
ok $? "its state is under it ($sd2)"
as_user env -u XDG_RUNTIME_DIR "$NETLAB" status "$lab" >"$tmp/st2.out" 2>&1 &&
  grep -q "^state $sd2 " "$tmp/st2.out"
ok $? "status without XDG_RUNTIME_DIR finds it"
# Even with that record lost, down finds the lab through its processes.
as_user rm -f "$udd/state"
as_user env -u XDG_RUNTIME_DIR "$NETLAB" down "$lab" >"$tmp/down2.out" 2>&1
rc=$?
diag <"$tmp/down2.out"
[ $rc -eq 0 ] && ! grep -q 'is not up' "$tmp/down2.out" && [ -z "$(procs_of "$sd2")" ] && [ ! -e "$sd2" ]
ok $? "down without XDG_RUNTIME_DIR nor the record takes it down: nothing left running"

# Another user took /tmp/netlab-UID first: a private directory instead.
if [ "$(id -u)" -eq 0 ]; then
  uid=$(id -u netlab-test)
  squat=/tmp/netlab-$uid
  rm -rf "$squat" && mkdir -m 777 "$squat"
  as_user env -u XDG_RUNTIME_DIR "$NETLAB" up "$lab" >"$tmp/up3.out" 2>&1
  ok $? "up with $squat made by root, mode 777"
  diag <"$tmp/up3.out"
  sd3=$(as_user env -u XDG_RUNTIME_DIR "$NETLAB" status --json "$lab" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["state_dir"])')
  fallback=${sd3%/*}
  case $sd3 in "$squat".*/*) true ;; *) false ;; esac &&
    [ "$(stat -c '%a %U' "$fallback")" = "700 netlab-test" ] && [ -z "$(ls -A "$squat")" ]
  ok $? "its state is in a private directory of its own ($sd3), none in $squat"
  as_user env -u XDG_RUNTIME_DIR "$NETLAB" down "$lab" >/dev/null 2>&1 &&
    [ -z "$(procs_of "$sd3")" ] && [ ! -e "$sd3" ]
  ok $? "and down finds it there"
  rm -rf "$squat" "$fallback"
  as_user rm -f "${udd%/*}/runtime"
fi
finish
