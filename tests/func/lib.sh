# Shared by the functional tests: TAP output, a private copy of a lab, and a
# teardown that runs whatever happens (NETLAB_KEEP=1 keeps the lab for a look).
# Each test boots real VMs with the real QEMU, vde_switch and libvirt.
set -u

: "${NETLAB:?set by meson: the netlab binary}"
: "${NETLAB_SRC:?set by meson: the source tree}"

tap_n=0
tap_failed=0
tap_last=0
# A failure and the diagnostics after it go to stderr as well: meson shows a
# failed test's stderr, not its TAP stream, so that is what a CI log keeps.
# A description is one line, as written: dash's echo would turn a "\n" in
# it (a JSON string, say) into a line TAP does not know.
ok() { # ok CONDITION-STATUS DESCRIPTION
  tap_n=$((tap_n + 1))
  tap_last=$1
  tap_what=$(printf '%s' "$2" | tr '\n' ' ')
  if [ "$1" -eq 0 ]; then
    printf 'ok %s - %s\n' "$tap_n" "$tap_what"
  else
    printf 'not ok %s - %s\n' "$tap_n" "$tap_what"
    printf 'not ok %s - %s\n' "$tap_n" "$tap_what" >&2
    tap_failed=$((tap_failed + 1))
  fi
}
# Sets no variable a test may use (dash has no `local`).
diag() {
  tap_diag=$(sed -e 's/^/# /')
  [ -z "$tap_diag" ] || printf '%s\n' "$tap_diag"
  [ -z "$tap_diag" ] || [ "$tap_last" -eq 0 ] || printf '%s\n' "$tap_diag" >&2
}

tmp=$(mktemp -d /tmp/netlab-test.XXXXXX)
chmod 755 "$tmp"
# Every lab a test made lives in $tmp: take each down, whatever the test did.
cleanup() {
  if [ "${NETLAB_KEEP:-}" = 1 ]; then
    echo "# kept: $tmp"
    return
  fi
  for l in "$tmp"/*/lab.conf; do
    [ -f "$l" ] && "$NETLAB" down "${l%/lab.conf}" >/dev/null 2>&1
  done
  # The data directories (disks, logs) of the labs made here.
  for l in "$tmp"/*/ "$tmp"/*/*/; do
    [ -d "$l" ] && rm -rf "$(data_dir "${l%/}")"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
# A shell killed by a signal skips its EXIT trap (meson's timeout sends TERM).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# copy_lab NAME [DEST]: a private copy of labs/NAME, so that tests never share
# a state directory with each other or with a user's lab.
copy_lab() {
  dest=${2:-$tmp/$1}
  cp -r "$NETLAB_SRC/labs/$1" "$dest"
  rm -rf "$dest/.netlab"
  echo "$dest"
}

# up_data_lab NAME: brings up a private copy of tests/data/NAME as $lab (and
# NETLAB_LAB); the test stops there when up fails.
up_data_lab() {
  lab="$tmp/$1"
  cp -r "$NETLAB_SRC/tests/data/$1" "$lab"
  "$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
  rc=$?
  ok $rc "up"
  [ $rc -eq 0 ] || { diag <"$tmp/up.out"; finish; exit 1; }
  export NETLAB_LAB="$lab"
}

# status_of LAB EXPR: the Python expression EXPR over `netlab status --json
# LAB` (as s; vm(NAME), lan(NAME) and nic(NODE, N) pick one), printed; a
# false one (False, None, nothing found) makes it fail.
status_of() {
  "$NETLAB" status --json "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
def pick(items, **k):
    return next((i for i in items if all(i.get(a) == b for a, b in k.items())), {})
vm = lambda n: pick(s["vms"], name=n)
lan = lambda n: pick(s["lans"], name=n)
nic = lambda n, i: pick(s["interfaces"], node=n, interface="eth%d" % i)
v = eval(sys.argv[1])
print("" if v is True else v)
sys.exit(0 if v not in (False, None, {}) else 1)' "$2"
}

# data_dir LAB: where netlab keeps LAB's disks, console logs and test
# artifacts for the user running it (src/layout.h).
data_dir_py='
import hashlib, os, pwd, sys
lab = os.path.abspath(sys.argv[1]).encode()
name = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_-") else ord("_")
             for c in os.path.basename(lab))[:16].decode()
base = "/var/lib/netlab" if os.geteuid() == 0 else \
    os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".local/share/netlab")
print(os.path.join(base, name + "-" + hashlib.sha256(lab).hexdigest()[:8]))'
data_dir() { python3 -c "$data_dir_py" "$1"; }

# state_dir LAB: where `netlab status --json` says the lab's state lives.
state_dir() { status_of "$1" 's["state_dir"]'; }

# procs_of DIR: pids of live processes whose command line names DIR/.
procs_of() {
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$1/" || continue
    grep -q '^State:.*Z' "$p/status" 2>/dev/null && continue
    echo "${p#/proc/}"
  done
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds, for SECONDS at most.
wait_for() {
  end=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -lt $end ] || return 1
    sleep 0.2
  done
}

# clean: console output without CRs and terminal escapes (bash's bracketed
# paste mode wraps every command's output in them).
clean() { tr -d '\r' | sed 's/\x1b\[[?0-9;]*[A-Za-z]//g'; }

finish() {
  echo "1..$tap_n"
  [ "$tap_failed" -eq 0 ]
}

# lan3 DIR [EXTRA-LAB.CONF-LINES]: a lab of three nodes a, b, c on LAN A,
# 10.0.0.1 to 10.0.0.3.
lan3() {
  mkdir -p "$1"
  printf 'LAB_NAME="lan3"\na[0]="A"\nb[0]="A"\nc[0]="A"\n%s\n' "${2:-}" >"$1/lab.conf"
  for n in a:1 b:2 c:3; do
    echo "ip addr add 10.0.0.${n#*:}/24 dev eth0" >"$1/${n%:*}.startup"
  done
}
