#!/bin/sh
# A guest is not trusted: what it writes on its control port or in place of
# the agent makes `up` or `exec` fail at once with a clear message, never
# stall to a timeout or make the host allocate what the guest asks.
. "$(dirname "$0")/lib.sh"

# port_of NAME: the guest's device of the virtio-serial port NAME (no udev in
# the VMs, so no /dev/virtio-ports/ links: through sysfs, as the init does).
port_of='port_of() { for f in /sys/class/virtio-ports/*/name; do
  [ "$(cat "$f")" = "$1" ] && { d=${f%/name}; echo "/dev/${d##*/}"; }; done; }'

# ctl_lab SCRIPT: a one-node lab whose startup script is SCRIPT.
lab=$tmp/ctl
ctl_lab() {
  mkdir -p "$lab"
  printf 'r1[0]="A"\nr1[mem]="256m"\n' >"$lab/lab.conf"
  printf '%s\n%s\n' "$port_of" "$1" >"$lab/r1.startup"
}
ctl_lab 'printf "junk\000\n" >"$(port_of netlab.ctl)"'
start=$(date +%s)
"$NETLAB" up --timeout 200 "$lab" >"$tmp/out" 2>&1
rc=$?
secs=$(($(date +%s) - start))
[ $rc -ne 0 ] && grep -q "VM 'r1' wrote \"junk\.\.\.\" on its control port" "$tmp/out"
ok $? "junk with a NUL on the control port fails up ($rc) and says what came"
grep 'netlab: [^ ]' "$tmp/out" | diag
[ $secs -lt 150 ]
ok $? "at once, not at the 200 s timeout ($secs s)"
[ -z "$(procs_of "$lab")" ]
ok $? "and nothing of the lab runs any more"
[ -f "$lab/lab.conf" ] && [ -f "$lab/r1.startup" ]
ok $? "the failed up's teardown leaves the lab's own files alone"
"$NETLAB" down "$lab" >/dev/null 2>&1

ctl_lab 'printf "ready%075d" 0 >"$(port_of netlab.ctl)"'
"$NETLAB" up --timeout 200 "$lab" >"$tmp/out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "VM 'r1' wrote \"ready0000*\.\.\.\" on its control port" "$tmp/out"
ok $? "a line longer than 64 bytes fails up ($rc)"
grep 'netlab: [^ ]' "$tmp/out" | diag
"$NETLAB" down "$lab" >/dev/null 2>&1

# A fake agent in place of the real one on the first port: after the host's
# hello, the hello back with the host's token, a valid STARTED frame, then
# what the case gives (printf octal escapes, integers little-endian); then the
# real agent again. In Python, off the host's root: it finds the host's hello
# among whatever earlier attempts left in the port.
lab=$(copy_lab hello "$tmp/x")
cat >"$lab/fake-agent.py" <<'EOF'
import os, sys, time
port, answer = sys.argv[1], open(sys.argv[2], "rb").read()
hello = b"NLH\0\x08\0\0\0"
fd = os.open(port, os.O_RDWR | os.O_NONBLOCK)
buf = b""
open("/shared/fake-agent-up", "w").close()
while not os.path.exists("/shared/fake-agent-done"):
    try:
        buf += os.read(fd, 65536)
    except OSError:
        pass
    at = buf.rfind(hello)
    if at >= 0 and len(buf) >= at + 16:
        os.write(fd, buf[at:at + 16] + b"NLP\0\x04\0\0\0\x01\0\0\0" + answer)
        buf = b""
    time.sleep(0.05)
os.unlink("/shared/fake-agent-done")
EOF
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "up" || diag <"$tmp/up.out"
export NETLAB_LAB="$lab"
fake_agent() {
  "$NETLAB" exec --detach r1 -- sh -c "$port_of"'
    p=$(port_of netlab.agent.0)
    printf "'"$1"'" >/tmp/answer
    pid=$(pidof netlab-agent)
    agent=$(readlink /proc/$pid/exe)
    sleep 1
    kill $pid
    while [ -e /proc/$pid ]; do sleep 0.1; done
    python3 /hostlab/fake-agent.py "$p" /tmp/answer
    "$agent" </dev/null >/dev/console 2>&1 &'
}
expect_broken() { # expect_broken FRAME MESSAGE DESCRIPTION
  fake_agent "$1"
  wait_for 60 test -e "$lab/shared/fake-agent-up"
  rm -f "$lab/shared/fake-agent-up"
  start=$(date +%s)
  timeout 60 "$NETLAB" exec r1 -- true >"$tmp/o" 2>"$tmp/e"
  rc=$?
  secs=$(($(date +%s) - start))
  [ $rc -eq 125 ] && grep -q "the agent of VM 'r1' broke the protocol: $2" "$tmp/e" && [ $secs -lt 15 ]
  ok $? "$3: status 125 ($rc) in $secs s, said so"
  diag <"$tmp/e"
  : >"$lab/shared/fake-agent-done"
  wait_for 60 "$NETLAB" exec r1 -- true
  ok $? "the real agent answers again"
}
expect_broken 'NLQ\000\004\000\000\000\000\001\000\000' "an exit status out of 0..255" \
  "an exit status of 256"
expect_broken 'NLQ\000\004\000\000\000\377\377\377\377' "an exit status out of 0..255" \
  "an exit status of -1"
expect_broken 'NLO\000\377\377\377\377' "a frame longer than 64 KiB" \
  "a 4 GiB output frame"
expect_broken 'junkjunkjunk' "bytes between frames that start no frame" \
  "junk after a frame"
"$NETLAB" down "$lab" >/dev/null 2>&1
[ -z "$(procs_of "$lab")" ]
ok $? "down leaves nothing running"
finish
