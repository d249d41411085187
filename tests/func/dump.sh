#!/bin/sh
# netlab dump: a node's memory as a vmcore that `crash` opens with the
# node's vmlinux: once from a running node, once after its kernel panicked
# (sysrq c), where crash finds the panic's backtrace (this part needs the
# debug kernel, which the kernel test builds with `netlab kernel build
# --config net --config debug`); then `up --vmcore-on-panic` and `test
# --vmcore-on-panic`, where a panic's vmcore is written without asking. The
# vmcore is guest data: crash runs as the QEMU user when the test runs as
# root, else as the test's user.
. "$(dirname "$0")/lib.sh"

line=$("$NETLAB" kernel list 2>/dev/null | awk '$1 ~ /-net-debug$/ {print $1, $2; exit}')
rel=${line%% *}
release=${line#* }
skip=""
[ -n "$rel" ] || skip="no debug kernel: \`netlab kernel build --config net --config debug\` (the kernel test) builds one"
command -v crash >/dev/null || skip="crash is not installed (scripts/setup installs it)"

# The debug kernel's vmcores, opened by crash.
with_crash() {
  lab="$tmp/dump"
  mkdir -p "$lab"
  # panic=0: the kernel stays in panic() rather than rebooting, so its memory
  # is there to dump.
  printf 'r1[0]="A"\nr1[kernel]="%s"\nr1[append]="panic=0"\n' "$rel" >"$lab/lab.conf"
  "$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
  ok $? "up (kernel $rel)"
  diag <"$tmp/up.out"
  export NETLAB_LAB="$lab"

  "$NETLAB" dump r1 >"$tmp/d1.out" 2>"$tmp/d1.err"
  ok $? "netlab dump r1 of the running node"
  diag <"$tmp/d1.err"
  core=$(cat "$tmp/d1.out")
  data=$(data_dir "$lab")
  case "$core" in "$data/vmcores/r1-"*.vmcore) true ;; *) false ;; esac
  ok $? "the vmcore is in the lab's data directory: $core"
  [ "$(stat -c '%a %u' "$core")" = "600 $(id -u)" ]
  ok $? "mode 0600, owned by the user who ran dump ($(stat -c '%a %U' "$core"))"
  [ "$(stat -c '%a' "$data/vmcores")" = 700 ]
  ok $? "in a directory of mode 0700"
  vmlinux=$(sed -n 's/^open it with: crash \(.*\) .*/\1/p' "$tmp/d1.err" | tr -d "'")
  [ -f "$vmlinux" ]
  ok $? "dump names the vmlinux to open it with: $vmlinux"
  status_of "$lab" "[c for c in s['vmcores'] if c['node'] == 'r1' and c['file'] == '$core' and c['size'] > 0]" >/dev/null
  ok $? "status --json lists it under vmcores"
  "$NETLAB" status "$lab" | grep -q "^r1  *[0-9.]* MiB  *$core\$"
  ok $? "and so does status's VMCORE table"
  "$NETLAB" dump r1 -o "$core" >/dev/null 2>&1
  [ $? -ne 0 ]
  ok $? "dump -o refuses to overwrite an existing file"
  status_of "$lab" 'vm("r1")["state"] == "running"' >/dev/null
  ok $? "r1 runs on after the dump"

  # crash as someone other than root: the QEMU user, with the vmlinux as an
  # open file (it lies under root's cache) and its own copy of the vmcore.
  run_crash() { # VMCORE COMMANDS-FILE
    if [ "$(id -u)" = 0 ]; then
      d=$(mktemp -d "$tmp/crash.XXXXXX")
      install -o netlab-qemu -g netlab-qemu -m 600 "$1" "$d/vmcore"
      install -o netlab-qemu -g netlab-qemu -m 644 "$2" "$d/cmds"
      chown netlab-qemu "$d"
      (cd "$d" && setpriv --reuid=netlab-qemu --regid=netlab-qemu --clear-groups \
        env HOME="$d" crash -s -i "$d/cmds" /proc/self/fd/3 "$d/vmcore" 3<"$vmlinux" </dev/null)
    else
      crash -s -i "$2" "$vmlinux" "$1" </dev/null
    fi
  }
  printf 'sys\nexit\n' >"$tmp/sys.cmds"
  run_crash "$core" "$tmp/sys.cmds" >"$tmp/crash1.out" 2>&1
  grep -q "RELEASE: $release\$" "$tmp/crash1.out" && grep -q "NODENAME: r1\$" "$tmp/crash1.out"
  ok $? "crash opens the running node's vmcore (RELEASE: $release, NODENAME: r1)"
  diag <"$tmp/crash1.out"

  # The panic: the agent's exec never returns from it.
  timeout 20 "$NETLAB" exec r1 -- sh -c 'echo c >/proc/sysrq-trigger' >/dev/null 2>&1 &
  log="$data/logs/r1.console.log"
  wait_for 120 grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$log"
  ok $? "r1's kernel panicked (sysrq c)"
  "$NETLAB" dump r1 -o "$tmp/panic.vmcore" >"$tmp/d2.out" 2>"$tmp/d2.err"
  ok $? "netlab dump -o FILE of the panicked node"
  diag <"$tmp/d2.err"
  [ "$(stat -c '%a' "$tmp/panic.vmcore")" = 600 ]
  ok $? "FILE has mode 0600"
  printf 'bt\nlog\nexit\n' >"$tmp/bt.cmds"
  run_crash "$tmp/panic.vmcore" "$tmp/bt.cmds" >"$tmp/crash2.out" 2>&1
  grep -E '^ *#[0-9]+ ' "$tmp/crash2.out" >"$tmp/bt.out"
  grep -q ' panic at ' "$tmp/bt.out" && grep -q ' write_sysrq_trigger at ' "$tmp/bt.out"
  ok $? "crash's bt shows the panicking task in panic(), called from the sysrq write"
  diag <"$tmp/bt.out"
  # sysrq_handle_crash ends in a tail call to panic(): it is in the trace the
  # kernel logged before the dump, which crash reads out of the vmcore.
  grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$tmp/crash2.out" &&
    grep -q 'sysrq_handle_crash' "$tmp/crash2.out"
  ok $? "crash's log shows the panic and its backtrace through sysrq_handle_crash"
  grep -E 'sysrq_handle_crash|not syncing' "$tmp/crash2.out" | diag

  "$NETLAB" down "$lab" >/dev/null 2>&1
  "$NETLAB" status "$lab" | grep -q "^r1  *[0-9.]* MiB  *$core\$"
  ok $? "the vmcore outlives down, and status of the lab down still lists it"
}
if [ -n "$skip" ]; then
  tap_n=$((tap_n + 1))
  echo "ok $tap_n - dump and crash with the debug kernel # SKIP $skip"
else
  with_crash
fi

# ---- up --vmcore-on-panic: the vmcore of a kernel that panicked ----------
# Debian's kernel, whose pvpanic driver tells QEMU of the panic (the debug
# kernel has none); it has no symbols here, so crash does not open these.
boot=$(ls /boot/vmlinuz-* | sort -V | tail -1)
auto="$tmp/auto"
mkdir -p "$auto"
printf 'r1[0]="A"\nr2[0]="A"\nLAB_KERNEL="%s"\n' "$boot" >"$auto/lab.conf"
"$NETLAB" up --vmcore-on-panic "$auto" >"$tmp/up2.out" 2>&1
ok $? "up --vmcore-on-panic (kernel $boot)"
export NETLAB_LAB="$auto"
pvpanic() { "$NETLAB" exec "$1" -- test -e /sys/bus/platform/drivers/pvpanic-mmio/QEMU0001:00; }
wait_for 60 pvpanic r1 && wait_for 60 pvpanic r2
ok $? "each node's pvpanic driver is bound to QEMU's device"
# A guest that only prints a panic's line: netlab waits (bounded) for a
# panic QEMU never hears of, then leaves the node be.
"$NETLAB" exec r1 -- sh -c 'echo "Kernel panic - not syncing: printed by the guest" >/dev/console'
t0=$(date +%s)
status_of "$auto" 'vm("r1")["state"] == "running" and not vm("r1").get("vmcore")' >/dev/null
rc=$?
t=$(($(date +%s) - t0))
[ $rc -eq 0 ] && [ $t -le 15 ] && ! ls "$(data_dir "$auto")/vmcores/"r1-*.vmcore >/dev/null 2>&1
ok $? "a panic line the guest printed: status waits at most 10 s ($t s), r1 runs on, no vmcore"
panic() {
  timeout 20 "$NETLAB" exec "$1" -- sh -c 'echo c >/proc/sysrq-trigger' >/dev/null 2>&1 &
  wait_for 120 grep -q 'Kernel panic - not syncing: sysrq triggered crash' \
    "$(data_dir "$auto")/logs/$1.console.log"
}
panic r1
ok $? "r1's kernel panicked"
wait_for 60 status_of "$auto" 'vm("r1")["state"] == "stopped" and vm("r1")["vmcore"]' \
  >"$tmp/v1" 2>"$tmp/s1.err"
ok $? "the next status wrote its vmcore and stopped r1: $(cat "$tmp/v1")"
diag <"$tmp/s1.err"
v1=$(cat "$tmp/v1")
[ "$(stat -c '%a' "$v1")" = 600 ] && [ "$(stat -c '%s' "$v1")" -gt 1000000 ]
ok $? "the vmcore has mode 0600 and $(stat -c '%s' "$v1") bytes"
case "$v1" in "$(data_dir "$auto")/vmcores/r1-"*.vmcore) true ;; *) false ;; esac
ok $? "in the lab's data directory"
"$NETLAB" status "$auto" | grep -A1 '^r1  *stopped  *-  *kernel panic' | grep -q "vmcore $v1\$"
ok $? "status's table says kernel panic and where the vmcore is"
status_of "$auto" 'vm("r2")["state"] == "running"' >/dev/null
ok $? "r2 runs on"
panic r2
ok $? "r2's kernel panicked"
"$NETLAB" down "$auto" >"$tmp/down2.out" 2>&1
ok $? "down"
diag <"$tmp/down2.out"
ls "$(data_dir "$auto")/vmcores/"r2-*.vmcore >/dev/null 2>&1
ok $? "down wrote r2's vmcore before it stopped the lab"

# A failed `netlab test --vmcore-on-panic` keeps the panic's vmcore.
tl="$tmp/tested"
mkdir -p "$tl/tests"
printf 'r1[0]="A"\nLAB_KERNEL="%s"\n' "$boot" >"$tl/lab.conf"
cat >"$tl/tests/01-panic" <<'EOF'
#!/bin/sh
echo "1..1"
for i in $(seq 60); do
  netlab exec r1 -- test -e /sys/bus/platform/drivers/pvpanic-mmio/QEMU0001:00 && break
  sleep 1
done
timeout 20 netlab exec r1 -- sh -c 'echo c >/proc/sysrq-trigger' >/dev/null 2>&1
for i in $(seq 120); do
  netlab console --log r1 | grep -q 'not syncing' && break
  sleep 1
done
echo "not ok 1 - r1's kernel panicked"
exit 1
EOF
chmod +x "$tl/tests/01-panic"
"$NETLAB" test --vmcore-on-panic "$tl" >"$tmp/test.out" 2>&1
[ $? -eq 1 ]
ok $? "netlab test --vmcore-on-panic of a lab whose test panics a node fails"
diag <"$tmp/test.out"
art=$(sed -n 's/.*artifacts in \(.*\) (see INDEX)$/\1/p' "$tmp/test.out")
ls "$art"/r1-*.vmcore >/dev/null 2>&1 && grep -q "the vmcore of r1's kernel panic" "$art/INDEX"
ok $? "its artifacts keep r1's vmcore, and INDEX says so"
grep vmcore "$art/INDEX" 2>/dev/null | diag
finish
