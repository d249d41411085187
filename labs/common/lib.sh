# Shared by the multicast and VXLAN labs' tests, which `netlab test` runs on
# the host with NETLAB_LAB set and netlab on PATH. Source it from a test:
#   . "$(dirname "$0")/lib.sh"                 (a test in labs/common/)
#   COMMON=$(dirname "$0")/../../common         (a test in labs/LAB/tests/)
#   . "$COMMON/lib.sh"
# It gives TAP output (ok, diag, finish), bounded waits (wait_for), and
# helpers to run things in VMs.
set -u
: "${NETLAB_LAB:?run me through netlab test LABDIR (or set NETLAB_LAB)}"
COMMON=${COMMON:-$(dirname "$0")}

tap_n=0
tap_failed=0
ok() { # ok STATUS DESCRIPTION
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $tap_n - $2"
  else
    echo "not ok $tap_n - $2"
    tap_failed=$((tap_failed + 1))
  fi
}
diag() { sed -e 's/^/# /'; }
finish() {
  echo "1..$tap_n"
  [ "$tap_failed" -eq 0 ]
}

# on VM CMD...: run the shell command CMD (its words joined) in VM.
on() {
  vm=$1
  shift
  netlab exec "$vm" -- sh -c "$*"
}

# wait_for SECS CMD...: run CMD every second until it succeeds (status 0) or
# SECS seconds have passed. Once a wait has timed out, the test is failing:
# later waits in the same test get 5 s at most, so that it still checks and
# reports everything, in minutes rather than a quarter of an hour.
timed_out=0
wait_for() {
  secs=$1
  [ "$timed_out" -eq 0 ] || [ "$secs" -le 5 ] || secs=5
  deadline=$(($(date +%s) + secs))
  shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      timed_out=1
      return 1
    fi
    sleep 1
  done
}

# bg VM NAME CMD: start CMD detached in VM, its pid in /tmp/NAME.pid and its
# output in /tmp/NAME.out; stop it with `stop VM NAME`.
bg() {
  vm=$1 name=$2
  shift 2
  netlab exec --detach "$vm" -- sh -c "echo \$\$ >/tmp/$name.pid; exec $* >/tmp/$name.out 2>&1"
}
stop() {
  netlab exec "$1" -- sh -c "[ -f /tmp/$2.pid ] && kill \$(cat /tmp/$2.pid) 2>/dev/null; rm -f /tmp/$2.pid; true"
}

# capture_start VM IFACE NAME FILTER: tcpdump on IFACE into /tmp/NAME.pcap,
# returning once tcpdump listens. capture_stop VM NAME ends it.
capture_start() {
  vm=$1 ifc=$2 name=$3
  shift 3
  bg "$vm" "$name" tcpdump -i "$ifc" -n -U -w "/tmp/$name.pcap" "'$*'"
  wait_for 30 on "$vm" "grep -q 'listening on' /tmp/$name.out"
}
capture_stop() {
  stop "$1" "$2"
}
