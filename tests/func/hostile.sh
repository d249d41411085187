#!/bin/sh
# The hostile-guest suite: root in a VM, with patience, tries every known way
# out (tests/data/hostile/attack.sh: the lab's top directory through
# /hostlab, planted disk images whose headers name host files, executables
# for `save` to copy, symlinks, sparse files, a flooded console, a fake gdb
# stub), and the QEMU user, as after a QEMU escape, plants links and pids in
# its VM's state directory. Meanwhile root runs the documented commands on
# that lab: save, test (failing, so the post-mortem runs), cat, cp, diff,
# console, exec, gdb, capture, web's file browser, down, cat and save of a
# stopped node, up again (the disk path) and down. r2 is bridged with port
# forwards: it tries the host's loopback services through its uplink. The
# QEMU user also makes a console log huge through netlab-log, and links and
# FIFOs stand in for others, before the post-mortem copies them. Then the host is checked:
#  (a) nothing outside the lab's shared/ changed: manifests of the lab
#      directory, /etc and /root taken before and after; the victims of
#      the planted images are intact; the secret is nowhere root wrote;
#  (b) nothing ran as root with guest content: no canary left its mark, no
#      QEMU or gdb on the lab's guest data ran as root, save made no
#      executable in a guest's directory;
#  (c) nothing of the lab's state, data, logs or artifacts is readable by
#      another user;
#  (d) the flooded console log stays within its documented bound;
#  (e) the host is still fine: down leaves no process, socket or file.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP needs root: the suite checks what a guest gets of root's host"
  exit 0
fi
data=$NETLAB_SRC/tests/data/hostile
n() { "$NETLAB" "$@"; }
t0=$(date +%s)

# The targets: a root-only secret (one 4 KiB block: the VMDK maps it), a
# root-only victim for the planted data file, a file the QEMU user's links
# point at, and a directory where a canary run on the host leaves a mark.
token="HOSTILE-SECRET-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
secret=/root/netlab-hostile-$$.secret
victim=/root/netlab-hostile-$$.victim
victim2=/root/netlab-hostile-$$.victim2
created=/root/netlab-hostile-$$.created
mark=$(mktemp -d /tmp/netlab-hostile-mark.XXXXXX)
chmod 1777 "$mark"
(umask 077 && yes "$token" | head -c 4096 >"$secret" && head -c 1048576 /dev/urandom >"$victim" &&
  echo "root's own file" >"$victim2")
sha256sum <"$victim" >"$tmp/victim.sum"
decoy=
netsrv=
hostile_cleanup() {
  [ -n "$decoy" ] && kill "$decoy" 2>/dev/null
  for p in $netsrv; do kill "$p" 2>/dev/null; done
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  [ -n "${holder:-}" ] && kill "$holder" 2>/dev/null
  [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null
  rm -rf "$secret" "$victim" "$victim2" "$created".* "$mark"
  # An initramfs that packed the secret is of no use to anyone.
  grep '\.cpio$' "$tmp/leaks" 2>/dev/null | xargs -r rm -f
  cleanup
}
trap hostile_cleanup EXIT

# The lab: r1 with a disk (and files of its own in r1/), r2 without; a
# test that fails, so that the post-mortem runs.
lab=$tmp/hostile
mkdir -p "$lab/tests" "$lab/shared" "$lab/r1/etc"
# r2 is bridged through its port forwards (Kathará's port="HOST:GUEST"):
# host port $pfwd to its 8080, and a udp one; $plo is a host service on
# the loopback only.
pfwd=$((30000 + $$ % 20000))
pudp=$((pfwd + 1))
plo=$((pfwd + 2))
cat >"$lab/lab.conf" <<EOF
LAB_NAME="hostile"
r1[0]="A"
r2[0]="A"
r1[disk]="64m"
r1[mem]="256m"
r2[mem]="256m"
r2[port]="$pfwd:8080/tcp"
r2[port]="$pudp:8081/udp"
EOF
echo 'ip addr add 10.0.0.1/24 dev eth0' >"$lab/r1.startup"
echo 'ip addr add 10.0.0.2/24 dev eth0' >"$lab/r2.startup"
echo "the lab's own file" >"$lab/r1/etc/motd-lab"
printf '#!/bin/sh\necho "not ok 1 - fails on purpose: the post-mortem runs"\nexit 1\n' >"$lab/tests/01-fails"
chmod 755 "$lab/tests/01-fails"
# bytes SIZE: "16 MiB" and the like in bytes.
bytes() { echo "$1" | awk '{ v = $0 + 0; u = toupper($0); print v * (u ~ /G/ ? 1073741824 : u ~ /M/ ? 1048576 : 1024) }'; }
# What save and diff bring back from a node is bounded: netlab(1) says how
# much under *save* (else 64 MiB is taken); the guest's sparse files are
# 32 MiB larger.
copy_bound=$(awk '/^\*save\* / { f = 1; next } /^\*[a-z]+\*/ { f = 0 } f' "$NETLAB_SRC/doc/netlab.1.scd" |
  grep -o -i -E '[0-9]+ ?[KMG]i?B' | head -1)
copy_bound=${copy_bound:-64 MiB}
huge=$(($(bytes "$copy_bound") + (32 << 20)))
sed -e "s|@SECRET@|$secret|" -e "s|@VICTIM@|$victim|" -e "s|@MARK@|$mark|" -e "s|@HUGE@|$huge|" -e "s|@LAB@|$lab|" \
  "$data/attack.sh" >"$lab/shared/attack.sh"
cp "$data/fakestub.py" "$lab/shared/"
chmod 755 "$lab/shared/attack.sh"

# Manifests: type, mode, owner, size, times (a directory's entries show
# as lines of their own, so its times are left out). The lab directory is
# taken once the lab is up, before the guests act, and hashed; without
# shared/ and what netlab writes there by design (logs, disks, artifacts:
# their content is the guests', and what root does with it is checked
# below; ACLs are checked apart). /etc and /root by stat (ctime shows any
# write): without the account files and caches that other programs on this
# host change while the suite runs.
lab_manifest() {
  /usr/bin/python3 "$data/manifest.py" --full "$lab" shared .netlab/logs .netlab/disks .netlab/artifacts |
    sed '/^\. /d; s/^\([^ ]* 4[0-7]* [0-9:]* [0-9]*\) t:[0-9:]*/\1/; s/ [-0-9a-f]*,[-0-9a-f]*$//'
}
host_manifest() {
  find /etc /root -xdev \( -path /root/.cache -o -path /root/.claude -o -path /root/.npm \
    -o -regex '/etc/\(passwd\|group\|shadow\|gshadow\|subuid\|subgid\)-?' \) -prune -o \
    -printf '%p %y %m %U:%G %s %T@ %C@ %l\n' | awk '$2 == "d" { $6 = $7 = "" } 1' | sort
}
# Packages dpkg set up while the suite ran (other work on this host) change
# /etc: their files are left out of the comparison, and named.
started=$(date '+%Y-%m-%d %H:%M:%S')
host_diff() {
  diff "$tmp/host.before" "$tmp/host.after" | grep '^[<>]' >"$tmp/host.raw"
  awk -v t="$started" '($1 " " $2) >= t && $3 == "status" && $4 == "installed" { sub(/:.*/, "", $5); print $5 }' \
    /var/log/dpkg.log 2>/dev/null | sort -u >"$tmp/pkgs"
  while read -r p; do dpkg -L "$p"; done <"$tmp/pkgs" | sort -u >"$tmp/pkgfiles"
  awk 'NR == FNR { own[$0] = 1; next } !own[$2]' "$tmp/pkgfiles" "$tmp/host.raw"
}
saved_paths=
host_manifest >"$tmp/host.before"

# Processes that touch the lab's guest data (the VMs' QEMU, libguestfs'
# QEMU, gdb), with their user, sampled all along root's commands: those whose
# command line, or an ancestor's command line or environment, names the lab.
/usr/bin/python3 - "$lab" "$tmp/procs.seen" <<'EOF' &
import os, sys, time
lab, out = sys.argv[1].encode(), sys.argv[2]
seen = set()
def read(pid, what):
    try:
        return open("/proc/%s/%s" % (pid, what), "rb").read()
    except OSError:
        return b""
def ours(pid):
    for _ in range(6):
        if lab in read(pid, "cmdline") or b"NETLAB_LAB=" + lab in read(pid, "environ"):
            return True
        st = read(pid, "stat")
        pid = st[st.rfind(b")") + 2:].split()[1].decode() if st else "0"
        if pid in ("0", "1"):
            return False
    return False
while True:
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        comm = read(p, "comm").decode(errors="replace").strip()
        if not comm.startswith(("qemu", "gdb")) or not ours(p):
            continue
        try:
            uid = read(p, "status").decode().split("\nUid:\t")[1].split("\t")[1]
        except IndexError:
            continue
        if (uid, comm) not in seen:
            seen.add((uid, comm))
            cmd = read(p, "cmdline").replace(b"\0", b" ").decode(errors="replace")
            with open(out, "a") as f:
                f.write("uid %s %s: %s\n" % (uid, comm, cmd[:240]))
    time.sleep(0.2)
EOF
sampler=$!

n up "$lab" >"$tmp/up.out" 2>&1
rc=$?
ok $rc "up: r1 with a disk, r2 without"
diag <"$tmp/up.out"
[ $rc -eq 0 ] || { finish; exit 1; }
export NETLAB_LAB="$lab"
sd=$(state_dir "$lab")
lab_manifest >"$tmp/lab.before"
# r2's console log, held open: the guest may rename its directory.
exec 7<"$(status_of "$lab" 'vm("r2")["console_log"]')"
# The lab's own files: the state directory, .netlab, the artifacts, and
# every directory status names but the lab's and the system's.
dirs="$sd $lab/.netlab $tmp/artifacts $(n status --json "$lab" |
  grep -o '"/[^"]*"' | tr -d '"' | grep -v "^$lab/\?\$" | grep -v '^/\(usr\|boot\|lib\|bin\|sbin\)/' |
  while read -r p; do if [ -d "$p" ]; then echo "$p"; else dirname "$p"; fi; done | sort -u | tr '\n' ' ')"
cp "$data/fakestub.py" "$tmp/"

# (c) What another user can read of the lab's own files, looked at now and
# after the guests and the tests had their turn.
readable() { # readable DIR...
  setpriv --reuid=nobody --regid=nogroup --clear-groups find "$@" -type f -readable 2>/dev/null
}
readable $dirs >"$tmp/readable"
x() { node=$1; shift; n exec --timeout 300 "$node" -- "$@"; }
as_qemu="setpriv --reuid=netlab-qemu --regid=netlab-qemu --init-groups"

# A lab that is up is up whatever the environment of the command says.
mkdir -m 700 "$tmp/xdg"
XDG_RUNTIME_DIR=$tmp/xdg n status "$lab" >/dev/null 2>&1 &&
  env -u XDG_RUNTIME_DIR -u TMPDIR "$NETLAB" status "$lab" >/dev/null 2>&1
ok $? "status finds the lab up with another XDG_RUNTIME_DIR, and with none"

# The guest's turn: r2 floods its console, r1 serves a fake gdb stub on
# ttyS1 and plants everything else.
n exec --detach r2 -- sh /shared/attack.sh flood
n exec --detach r1 -- sh /shared/attack.sh stub
x r1 sh /shared/attack.sh plant >"$tmp/plant.out" 2>&1
rc=$?
# The guests' /shared is the directory they were given, even renamed.
guest() { x r1 cat "/shared/$1" 2>/dev/null; }
guest guest.log >"$tmp/guest.log"
ok $rc "guest root in r1 tried every vector ($(grep -c '^done' "$tmp/guest.log") worked, $(grep -c '^refused' "$tmp/guest.log") refused)"
[ $rc -eq 0 ] || diag <"$tmp/plant.out"
diag <"$tmp/plant.out"
grep -v '^done: \(appended to\|new file in\|chmod\)' "$tmp/guest.log" | diag

# The network. Host services on 127.0.0.1:$plo only (TCP answers the
# secret, UDP datagrams are recorded); r2 tries them through its uplink: at
# the gateway's address, at 127.0.0.1 itself (its own loopback routes
# replaced by one through the uplink), from its forwarded ports, TCP and UDP.
socat TCP-LISTEN:$plo,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo $token" &
netsrv="$!"
socat -u UDP-RECV:$plo,bind=127.0.0.1 OPEN:"$tmp/udp.got",creat,append &
netsrv="$netsrv $!"
# The same on ::1, where the host has IPv6 (passt then gives the uplink
# IPv6 too, bound to the default route's interface).
v6=$(ip -6 route show default 2>/dev/null | head -1)
if [ -n "$v6" ]; then
  socat TCP6-LISTEN:$plo,bind='[::1]',ipv6only=1,reuseaddr,fork SYSTEM:"echo $token" &
  netsrv="$netsrv $!"
  socat -u UDP6-RECV:$plo,bind='[::1]',ipv6only=1 OPEN:"$tmp/udp6.got",creat,append &
  netsrv="$netsrv $!"
fi
sleep 0.5
x r2 sh -c "try() { socat -T 3 - \"\$1\",connect-timeout=3 </dev/null 2>&1 | head -c 300; echo; }
  echo \"gateway: \$(try TCP:10.0.2.2:$plo)\"
  echo \"gateway, forwarded port: \$(try TCP:10.0.2.2:$pfwd)\"
  echo udp-gateway | socat -u - UDP-SENDTO:10.0.2.2:$plo,sourceport=8081
  ip route del local 127.0.0.1 dev lo table local; ip route del local 127.0.0.0/8 dev lo table local
  ip route add 127.0.0.0/8 via 10.0.2.2 dev eth1 onlink
  echo \"127.0.0.1 through the uplink: \$(try TCP:127.0.0.1:$plo)\"
  echo \"127.0.0.1 from the forwarded port: \$(try TCP:127.0.0.1:$plo,sourceport=8080)\"
  echo udp-loopback | socat -u - UDP-SENDTO:127.0.0.1:$plo
  echo udp-loopback-forwarded | socat -u - UDP-SENDTO:127.0.0.1:$plo,sourceport=8081
  ip route del 127.0.0.0/8 via 10.0.2.2
  ip route add local 127.0.0.0/8 dev lo table local; ip route add local 127.0.0.1 dev lo table local
  ip route get 127.0.0.1 | head -1" >"$tmp/net.out" 2>&1
sleep 1
diag <"$tmp/net.out"
! grep -q -- "$token" "$tmp/net.out" && [ ! -s "$tmp/udp.got" ] && grep -q '^127.0.0.1 through the uplink' "$tmp/net.out"
ok $? "r2 reached no service on the host's loopback (gateway, 127.0.0.1 through its uplink, from its forwarded ports; $(wc -c <"$tmp/udp.got" 2>/dev/null || echo 0) bytes of datagrams)"
# IPv6: guest root turns it on (the lab leaves it off), takes an address
# on the uplink and sends ::1 there, its own ::1 route removed.
if [ -n "$v6" ]; then
  x r2 sh -c "try() { socat -T 3 - \"\$1\",connect-timeout=3 </dev/null 2>&1 | head -c 300; echo; }
    sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth1.disable_ipv6=0
    ip -6 addr add fd00::15/64 dev eth1 nodad
    ip -6 route del local ::1 dev lo table local
    ip -6 route add ::1/128 via fe80::1 dev eth1 onlink
    echo \"::1 through the uplink: \$(try TCP6:[::1]:$plo)\"
    echo \"::1 from the forwarded port: \$(try TCP6:[::1]:$plo,sourceport=8080)\"
    echo udp6-loopback | socat -u - UDP6-SENDTO:[::1]:$plo
    echo udp6-loopback-forwarded | socat -u - UDP6-SENDTO:[::1]:$plo,sourceport=8081
    ip -6 route get ::1 | head -1
    ip -6 route del ::1/128 via fe80::1 dev eth1
    ip -6 route add local ::1 dev lo table local" >"$tmp/net6.out" 2>&1
  sleep 1
  diag <"$tmp/net6.out"
  ! grep -q -- "$token" "$tmp/net6.out" && [ ! -s "$tmp/udp6.got" ] &&
    grep -q '^::1 through the uplink' "$tmp/net6.out" && grep -q '^::1 .*dev eth1' "$tmp/net6.out"
  ok $? "r2 reached no service on the host's ::1 through its uplink, TCP or UDP ($(wc -c <"$tmp/udp6.got" 2>/dev/null || echo 0) bytes of datagrams)"
else
  tap_n=$((tap_n + 1))
  echo "ok $tap_n - r2 and the host's ::1 # SKIP the host has no IPv6 default route: passt gives the uplink no IPv6"
fi
ss -Hltnu >"$tmp/ss.out"
grep -E "[:.]$pfwd[[:space:]]" "$tmp/ss.out" >"$tmp/ss.fwd"
[ "$(awk '{ print $5 }' "$tmp/ss.fwd")" = "127.0.0.1:$pfwd" ] && ! grep -qE "[:.]$pudp[[:space:]]" "$tmp/ss.out" &&
  grep -q "lab.conf:[0-9]*: udp port $pudp of 'r2' is not forwarded" "$tmp/up.out"
ok $? "r2's port forward listens on 127.0.0.1:$pfwd only; its udp port, which would let it send to the loopback, is not forwarded, with a warning at its line"
diag <"$tmp/ss.fwd"
n exec --detach r2 -- socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo r2-port-8080'
fwd() { [ "$(socat -T 5 - TCP:127.0.0.1:$pfwd 2>/dev/null)" = r2-port-8080 ]; }
out=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
wait_for 60 fwd && { [ -z "$out" ] || ! socat -T 3 - TCP:"$out":$pfwd,connect-timeout=3 </dev/null >/dev/null 2>&1; }
ok $? "the forward reaches r2's port 8080 from the host's loopback, not from its address ${out:-(none)}"

# The console logs as the post-mortem will find them. The QEMU user, as
# after an escape, drives r1's netlab-log with gdb (same user: ptrace is
# allowed) to make the log's head, root's file, 256 MiB long; and, as if it
# could write the logs directory (it cannot: it is root's), r2's console
# log's tail becomes a link to the secret and a FIFO, its cut counter a FIFO.
logs=$(dirname "$(status_of "$lab" 'vm("r1")["console_log"]')")
keeper=
for p in $(pgrep -x netlab-log); do
  [ "$(readlink "/proc/$p/fd/3")" = "$logs/r1.console.log" ] && keeper=$p
done
[ -n "$keeper" ] && timeout 60 $as_qemu gdb -p "$keeper" -batch -ex 'set $spc = $pc' \
  -ex 'set $srax = $rax' -ex 'set $srdi = $rdi' -ex 'set $srsi = $rsi' -ex 'set $pc = $pc - 2' \
  -ex 'set $rax = 77' -ex 'set $rdi = 3' -ex 'set $rsi = 268435456' -ex stepi -ex 'print $rax' \
  -ex 'set $pc = $spc' -ex 'set $rax = $srax' -ex 'set $rdi = $srdi' -ex 'set $rsi = $srsi' \
  >"$tmp/keeper.out" 2>&1
echo "# the QEMU user's ftruncate through r1's netlab-log ($keeper): $(grep '^\$1' "$tmp/keeper.out"), the head holds $(stat -c %s "$logs/r1.console.log") bytes"
rm -f "$logs/r2.console.log.1" "$logs/r2.console.log.2" "$logs/r2.console.log.cut"
ln -s "$secret" "$logs/r2.console.log.1" && mkfifo "$logs/r2.console.log.2" "$logs/r2.console.log.cut"

# Root's turn, while the lab is up.
n save r1 r2 >"$tmp/save.out" 2>&1
echo "# save: status $?"
diag <"$tmp/save.out"
# What save wrote, and the directories it made for it, are its to write.
saved() { sed -n 's/^r[12]: [^ ]* -> \(r[12]\/[^ ]*\) .*/\1/p' "$@" | while read -r f; do
  while :; do echo "$f"; [ "${f%/*}" = "$f" ] && break; f=${f%/*}; done; done | sort -u | tr '\n' ' '; }
# A manifest without the entries save wrote (files, and the directories it
# made or added to): those alone, not what lies below them.
unsaved() { awk -v s=" $saved_paths " 'index(s, " " $1 " ") == 0' "$1"; }
saved_paths=$(saved "$tmp/save.out")
x r1 sh /shared/attack.sh after-save >/dev/null 2>&1
guest guest.log | tail -2 | diag
timeout -k 10 300 "$NETLAB" test --artifacts "$tmp/artifacts" "$lab" >"$tmp/test.out" 2>&1
rc=$?
echo "# test: status $rc"
diag <"$tmp/test.out"
a1=$(stat -c %s "$tmp/artifacts/r1/console.log" 2>/dev/null)
[ $rc -ne 124 ] && [ -n "$a1" ] && [ "$a1" -le $(((9 << 20) + 65536)) ] &&
  grep -q 'r1.console.log holds 268435456 bytes' "$tmp/artifacts/r1/console.log" &&
  grep -q 'r2.console.log.1 is not a regular file' "$tmp/artifacts/r2/console.log" &&
  grep -q 'r2.console.log.2 is not a regular file' "$tmp/artifacts/r2/console.log"
ok $? "the post-mortem's console logs: $a1 bytes of r1's 256 MiB one, r2's link and FIFO left out, no wait (status $rc)"
n cat r1:/etc/zz-link-secret r1:/srv/zz-link r1:/etc/zz-link-shadow >"$tmp/cat.out" 2>&1
n cp r1:/etc/zz-link-secret "$tmp/cp.out" >"$tmp/cp.err" 2>&1
# The same through root's `netlab web` file browser (its `ls --json` and
# `cat` children): the link to the secret, a guest's FIFO in /shared, the
# sparse file; the server holds none of it whole. (Not through a function:
# $! is its pid.)
"$NETLAB" web --listen 127.0.0.1:0 "$lab" >"$tmp/web.url" 2>"$tmp/web.err" &
webpid=$!
wait_for 10 grep -q 'token=' "$tmp/web.url"
wurl=$(head -1 "$tmp/web.url")
wf() { curl -s --max-time 150 -H "X-Netlab-Token: ${wurl##*token=}" \
  "${wurl%%/\?token=*}/api/files/$1?lab=$lab&node=r1&path=$2"; }
wf view /etc/zz-link-secret >"$tmp/web-secret.out" 2>&1
wf get /etc/zz-link-secret >"$tmp/web-secret-get.out" 2>&1
wf ls /etc >"$tmp/web-ls.out" 2>&1
t=$(date +%s)
wf view /shared/zz-fifo >"$tmp/web-fifo.out" 2>&1
tfifo=$(($(date +%s) - t))
wf view /etc/zz-huge >"$tmp/web-huge.out" 2>&1
wf get /etc/zz-huge | wc -c >"$tmp/web-huge.bytes"
web_peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$webpid/status")
kill "$webpid"
wait "$webpid"
grep -q '"error":"r1:/shared/zz-fifo: not a regular file' "$tmp/web-fifo.out" && [ "$tfifo" -lt 10 ]
ok $? "web: r1's FIFO is refused at once ($tfifo s)"
grep -q '^{"truncated":true,"shown":1048576,' "$tmp/web-huge.out" &&
  [ "$(cat "$tmp/web-huge.bytes")" -le $((64 << 20)) ] && [ "$web_peak" -lt 65536 ]
ok $? "web: r1's sparse file is shown truncated, downloads $(cat "$tmp/web-huge.bytes") bytes at most (64 MiB), the server's peak $web_peak KiB"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["path"] == "/etc" and d["entries"]' "$tmp/web-ls.out" &&
  ! grep -q -- "$token" "$tmp"/web-*.out
ok $? "web: r1's /etc lists as JSON, and neither view nor download gives the secret"
head -c 300 "$tmp/web-secret.out" | diag
/usr/bin/time -f '%M' -o "$tmp/diff.rss" "$NETLAB" diff -p r1 >"$tmp/diff.out" 2>"$tmp/diff.err"
echo "# diff -p: status $?, $(wc -c <"$tmp/diff.out") bytes, $(tail -n 1 "$tmp/diff.rss") KiB at most"

# The QEMU user, as after a QEMU escape: a lock holding the pid of a root
# process for `console --force` to kill, then links where root opens its
# console and agent locks.
# (Run in the background without a function, so that $! is its pid.)
qemu_user() { $as_qemu "$@"; }
vmdir=$sd/vm/r1
sleep 600 &
decoy=$!
qemu_user sh -c "rm -f '$vmdir/console.lock' && echo $decoy >'$vmdir/console.lock'" 2>"$tmp/q1.err" &&
  { $as_qemu /usr/bin/python3 -c 'import fcntl, sys, time
f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(120)' "$vmdir/console.lock" &
    holder=$!; }
echo "# the QEMU user's lock holding pid $decoy: $(cat "$tmp/q1.err")"
sleep 0.5
echo 'echo console-ok' | n console --force r1 >"$tmp/force.out" 2>&1
[ -n "${holder:-}" ] && kill "$holder" 2>/dev/null
qemu_user sh -c "cd '$vmdir' && ln -sf '$victim2' console.lock &&
  for i in 0 1 2 3 4 5 6 7; do ln -sf '$created.'\$i agent-\$i.lock; done" 2>&1 |
  sed 's/^/the QEMU user: /' | diag
echo 'echo console-ok' | n console r1 2>&1 | clean >"$tmp/console.out"
grep -q '^console-ok' "$tmp/console.out"
ok $? "console: root's piped command ran in r1"
x r1 echo exec-ok >"$tmp/exec.out" 2>&1
grep -qx exec-ok "$tmp/exec.out"
ok $? "exec works"
/usr/bin/time -f '%M' -o "$tmp/exec.rss" "$NETLAB" exec r1 -- head -c $((48 << 20)) /dev/zero | wc -c >"$tmp/exec.bytes"
echo "# exec of 48 MiB of output: $(cat "$tmp/exec.bytes") bytes, $(tail -n 1 "$tmp/exec.rss") KiB at most"

# gdb: on the guest's own stub (--serial), and on a stub the QEMU user put
# in place of QEMU's socket; each asks gdb to write a host file.
timeout 30 "$NETLAB" gdb --serial /bin/true r1 -- -batch -ex continue >"$tmp/gdb1.out" 2>&1
echo "# gdb --serial: status $?"
diag <"$tmp/gdb1.out"
$as_qemu /usr/bin/python3 "$tmp/fakestub.py" unix "$vmdir/gdb.sock" "$mark/gdb-kernel" 2>"$tmp/fake.err" &
fake=$!
sleep 1
timeout 10 "$NETLAB" gdb r1 -- -batch -ex continue >"$tmp/gdb2.out" 2>&1
echo "# gdb on the QEMU user's stub: status $?"
diag <"$tmp/gdb2.out"
kill "$fake" 2>/dev/null

timeout 30 "$NETLAB" capture -w "$tmp/cap.pcap" --duration 3 A >"$tmp/cap.out" 2>&1 &
capture=$!
x r1 ping -c 3 -i 0.3 10.0.0.2 >/dev/null 2>&1
wait $capture
ok $? "capture of LAN A for 3 s ($(stat -c %s "$tmp/cap.pcap" 2>/dev/null) bytes)"
diag <"$tmp/cap.out"

readable $dirs "$(dirname "$(readlink /proc/$$/fd/7)")" >>"$tmp/readable"
sort -u -o "$tmp/readable" "$tmp/readable"
[ ! -s "$tmp/readable" ]
ok $? "no file of the lab's state, data, logs or artifacts is readable by another user ($(wc -l <"$tmp/readable") are)"
head -20 "$tmp/readable" | diag

# (d) The flooded console log, against its documented bound.
x r2 touch /shared/flood-stop
sleep 2
flood=$(guest flood.mib)
flood=${flood:-0}
size=$(stat -L -c %s /proc/$$/fd/7)
bound=$(grep -i -B2 -A4 'console.*log\|log.*console' "$NETLAB_SRC/doc/netlab.1.scd" |
  grep -o -i -E '[0-9]+ ?[KMG]i?B' | head -1)
if [ -n "$bound" ]; then
  ok 0 "the console log's bound is documented in netlab(1): $bound"
else
  ok 1 "the console log's bound is documented in netlab(1) (it is not: 64 MiB assumed)"
  bound="64 MiB"
fi
bbytes=$(bytes "$bound")
if [ $((flood << 20)) -gt "$bbytes" ]; then
  [ "$size" -le $((bbytes + (1 << 20))) ]
  ok $? "the console log of r2 holds $size bytes of the $flood MiB r2 wrote: within $bound"
else
  tap_n=$((tap_n + 1))
  echo "ok $tap_n - the console log of r2 within $bound # SKIP r2 wrote only $flood MiB to its serial port (${size} bytes logged)"
fi

n down "$lab" >"$tmp/down.out" 2>&1
ok $? "down"
diag <"$tmp/down.out"

# The stopped node, through its disk: what the guest left as r1's disk.
n cat r1:/etc/leak r1:/etc/leak-link >"$tmp/cat2.out" 2>&1
echo "# cat of the stopped r1: status $?, $(grep -c -- "$token" "$tmp/cat2.out") lines of the secret (a path that leaks it gives $((4096 / (${#token} + 1))))"
grep -v -- "$token" "$tmp/cat2.out" | head -c 300 | diag
n save r1 >"$tmp/save2.out" 2>&1
echo "# save of the stopped r1: status $?"
diag <"$tmp/save2.out"
saved_paths=$(saved "$tmp/save.out" "$tmp/save2.out")

# Up again: the disk path meets the planted images (and lab.conf, if the
# guest could replace it).
n up "$lab" >"$tmp/up2.out" 2>&1
echo "# up again: status $?"
diag <"$tmp/up2.out"
n down "$lab" >"$tmp/down2.out" 2>&1
ok $? "down again"
diag <"$tmp/down2.out"
kill "$sampler" 2>/dev/null
sampler=
kill "$decoy" 2>/dev/null
decoy_alive=$?
decoy=

# (e) The host is fine.
sleep 2
left=$(procs_of "$lab"; procs_of "${sd:?}")
[ -z "$left" ]
ok $? "no process names the lab or its state directory ($(echo $left))"
# shellcheck disable=SC2086
[ -n "$left" ] && ps -o pid,user,args -p "$(echo $left | tr ' ' ,)" | diag
[ ! -e "$sd" ] && [ -z "$(find /run/netlab -type s -path "*$(basename "$sd")*" 2>/dev/null)" ]
ok $? "the state directory and its sockets are gone ($sd)"

# (a) Nothing changed outside shared/.
lab_manifest >"$tmp/lab.after"
unsaved "$tmp/lab.before" >"$tmp/lab.before.unsaved"
unsaved "$tmp/lab.after" >"$tmp/lab.after.unsaved"
diff "$tmp/lab.before.unsaved" "$tmp/lab.after.unsaved" >"$tmp/lab.diff"
ok $? "the lab directory is unchanged outside shared/ and netlab's own files ($(grep -c '^[<>]' "$tmp/lab.diff") lines differ)"
head -40 "$tmp/lab.diff" | diag
host_manifest >"$tmp/host.after"
host_diff >"$tmp/host.diff"
[ ! -s "$tmp/host.diff" ]
ok $? "/etc and /root are unchanged ($(wc -l <"$tmp/host.diff") lines differ)"
head -20 "$tmp/host.diff" | diag
[ -s "$tmp/pkgs" ] && echo "# left out: the files of $(tr '\n' ' ' <"$tmp/pkgs")(installed by dpkg meanwhile)"
[ "$(sha256sum <"$victim")" = "$(cat "$tmp/victim.sum")" ]
ok $? "the victim named as r2's external data file is intact ($(stat -c %s "$victim") bytes)"
[ "$(cat "$victim2")" = "root's own file" ] && ! ls "$created".* >/dev/null 2>&1
ok $? "root's console and exec followed none of the QEMU user's links ($(head -c 40 "$victim2" | tr '\n' ' '), $(ls "$created".* 2>/dev/null | wc -l) files created)"
[ "$decoy_alive" -eq 0 ]
ok $? "console --force killed no process the QEMU user named"
# (ACL entries only: what the guests made in shared/ is the QEMU user's.)
! getfacl -R -p "$lab" 2>/dev/null | grep -q '^\(default:\)\{0,1\}user:netlab-qemu:'
ok $? "no ACL of the QEMU user is left anywhere in the lab"
# (Initramfs archives made meanwhile included: one goes into a VM.)
find "${XDG_CACHE_HOME:-$HOME/.cache}/netlab" -name '*.cpio' -newer "$tmp/host.before" >"$tmp/cpios" 2>/dev/null
# shellcheck disable=SC2046
grep -rl -- "$token" "$lab" "$tmp"/*.out "$tmp"/*.err "$tmp/artifacts" $(cat "$tmp/cpios") 2>/dev/null >"$tmp/leaks"
[ ! -s "$tmp/leaks" ]
ok $? "the secret reached no output of root's commands, no file of the lab, no initramfs ($(wc -l <"$tmp/leaks") files)"
diag <"$tmp/leaks"

# (b) Nothing ran as root with guest content.
ls "$mark" | grep -v '^gdb-' >"$tmp/marks"
[ ! -s "$tmp/marks" ]
ok $? "no guest canary ran on the host ($(cd "$mark" && cat $(cat "$tmp/marks") </dev/null 2>/dev/null | tr '\n' ' '))"
[ ! -e "$mark/gdb-serial" ]
ok $? "gdb wrote no host file for the guest's stub on ttyS1"
[ ! -e "$mark/gdb-kernel" ]
ok $? "gdb wrote no host file for a stub in QEMU's place"
find "$lab" -type f -perm -4000 >"$tmp/suid"
find "$lab" -type f -user root -perm -100 | while read -r f; do
  d=$(dirname "$f")
  while [ "$d" != "$lab" ]; do
    [ "$(stat -c %u "$d")" = 0 ] || { echo "$f (in $d, of $(stat -c %U "$d"))"; break; }
    d=$(dirname "$d")
  done
done >>"$tmp/suid"
[ ! -s "$tmp/suid" ]
ok $? "no setuid file in the lab, no root-executable file in a directory a guest made"
diag <"$tmp/suid"
grep '^uid 0 ' "$tmp/procs.seen" >"$tmp/rootprocs"
[ ! -s "$tmp/rootprocs" ]
ok $? "no QEMU, gdb or fsck on the lab's guest data ran as root"
diag <"$tmp/procs.seen"

# (d) Sizes bounded: what save, diff and the post-mortem wrote.
find "$lab" "$tmp/artifacts" -path "$lab/.netlab/disks" -prune -o -path "$lab/shared" -prune -o \
  -type f -size +$(($(bytes "$copy_bound") / 1024))k -print >"$tmp/big"
find "$tmp/diff.out" -size +$(($(bytes "$copy_bound") / 1024))k >>"$tmp/big"
[ ! -s "$tmp/big" ]
ok $? "save, diff -p and the post-mortem wrote no file over $copy_bound of a ${huge}-byte sparse file"
diag <"$tmp/big"
[ "$(cat "$tmp/exec.rss")" -lt 32768 ]
ok $? "exec streams: 48 MiB of output with $(cat "$tmp/exec.rss") KiB resident at most"

echo "# $(($(date +%s) - t0)) s"
finish
