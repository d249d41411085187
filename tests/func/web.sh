#!/bin/sh
# netlab events and netlab web on labs/hello. events: link down/up and
# impairment events as the commands run, a killed QEMU seen as `stopped`
# with its reason within a second. web, in headless Chromium (web.mjs): the
# token, the topology, r1's console, a link cut and restored from the page,
# a capture downloaded as pcap; the server's refusals (Origin, POST without
# the token header); a page that reads slowly costs the server no memory
# (wsslow.py). Screenshots go to $NETLAB_BUILD/meson-logs/web/.
. "$(dirname "$0")/lib.sh"

if ! [ -x /usr/bin/chromium ] || ! command -v node >/dev/null ||
  ! [ -d "$NETLAB_SRC/web/node_modules/playwright-core" ] ||
  ! [ -d "$NETLAB_SRC/web/node_modules/@xterm/xterm" ]; then
  echo "1..0 # SKIP chromium, node or the npm packages of web/ are missing (scripts/setup)"
  exit 0
fi
art=${NETLAB_BUILD:-$tmp}/meson-logs/web
mkdir -p "$art"
rm -f "$art"/*.png "$art"/capture.pcap "$art"/kill-ms

lab=$(copy_lab hello)
"$NETLAB" events --json --initial-state "$lab" >"$tmp/ev.json" 2>"$tmp/ev.err" &
evpid=$!
# Its first line, the initial state, before the lab starts.
wait_for 10 grep -q '"type":"lab"' "$tmp/ev.json"
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
rc=$?
ok $rc "labs/hello comes up"
[ $rc -eq 0 ] || { diag <"$tmp/up.out"; kill $evpid; finish; exit 1; }
"$NETLAB" events "$lab" >"$tmp/ev.txt" 2>&1 &
evtxt=$!
has() { grep -q "$1" "$2"; }
wait_for 10 has '"type":"lab","state":"up"' "$tmp/ev.json"
ok $? "events: lab up"
grep -q '"node":"r1","state":"booting"' "$tmp/ev.json" &&
  grep -q '"node":"r1","state":"ready"' "$tmp/ev.json"
ok $? "events: r1 booting, then ready"
grep -q '"type":"lab","state":"down"' "$tmp/ev.json"
ok $? "events --initial-state began with the lab down"

"$NETLAB" link -d "$lab" r1:eth0 down >/dev/null &&
  wait_for 10 has '"type":"link","node":"r1","interface":"eth0","lan":"A","state":"down"' "$tmp/ev.json"
ok $? "events: r1:eth0 down"
"$NETLAB" link -d "$lab" r1:eth0 set delay=20ms >/dev/null &&
  wait_for 10 has '"impairment":"delay=20ms"' "$tmp/ev.json"
ok $? "events: an impairment set"
"$NETLAB" link -d "$lab" r1:eth0 reset >/dev/null && "$NETLAB" link -d "$lab" r1:eth0 up >/dev/null &&
  wait_for 10 has '"type":"link","node":"r1","interface":"eth0","lan":"A","state":"up"' "$tmp/ev.json"
ok $? "events: r1:eth0 up"
wait_for 10 has 'hello link r1:eth0 A up' "$tmp/ev.txt"
ok $? "events without --json: one line of text per event"

# One `netlab events` listens to the VMs' QEMU (it holds STATE/events.lock),
# the first, here; when it ends, another takes over.
"$NETLAB" events --json "$lab" >"$tmp/ev2.json" 2>&1 &
ev2=$!
sd=$(state_dir "$lab")
holder() {
  ino=$(stat -c %i "$sd/events.lock")
  awk -v ino="$ino" '$2 == "FLOCK" && $6 ~ (":" ino "$") { print $5 }' /proc/locks
}
[ "$(holder)" = "$evpid" ]
ok $? "the first netlab events watches the VMs"
kill $evpid
wait $evpid
ok $? "netlab events stops on SIGTERM with status 0"
took() { h=$(holder); [ "$h" = "$ev2" ] || [ "$h" = "$evtxt" ]; }
wait_for 10 took
ok $? "another netlab events takes over the watch"

# A paused VM is frozen, and thawed when it runs again (QMP STOP, RESUME).
"$NETLAB" monitor -d "$lab" r1 -- stop >/dev/null 2>&1 &&
  wait_for 10 has '"node":"r1","state":"frozen","why":"paused"' "$tmp/ev2.json"
ok $? "events: r1 frozen (paused)"
"$NETLAB" monitor -d "$lab" r1 -- cont >/dev/null 2>&1 &&
  wait_for 10 has '"node":"r1","state":"thawed"' "$tmp/ev2.json"
ok $? "events: r1 thawed"

# The server, on a port of its own.
"$NETLAB" web --listen 127.0.0.1:0 "$lab" >"$tmp/web.out" 2>"$tmp/web.err" &
webpid=$!
wait_for 10 has '^http://127.0.0.1:[0-9]*/?token=[0-9a-f]\{48\}$' "$tmp/web.out"
ok $? "netlab web prints its URL with a token"
url=$(head -1 "$tmp/web.out")
base=${url%%/\?token=*}
tok=${url##*token=}
host=${base#http://}
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
[ "$(code -X POST -b "netlab_token=$tok" -d "{\"lab\":\"$lab\",\"interface\":\"r1:eth0\",\"action\":\"down\"}" "$base/api/link")" = 403 ]
ok $? "a POST with the cookie but without the token header is refused"
[ "$(code -X POST -H "X-Netlab-Token: $tok" -H 'Origin: http://evil.example' -d '{}' "$base/api/link")" = 403 ]
ok $? "a POST from another origin is refused"
[ "$(code -H "Host: evil.example:80" "$base/?token=$tok")" = 403 ]
ok $? "a request for another host name is refused (DNS rebinding)"
ws() { code -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$@"; }
[ "$(ws -H 'Origin: http://evil.example' "$base/ws/events?token=$tok")" = 403 ]
ok $? "a WebSocket from another origin is refused"
[ "$(ws -H "Origin: http://$host" "$base/ws/events?token=$tok")" = 101 ]
ok $? "a WebSocket from the page's origin with the token is accepted"
[ "$(code "$base/api/link")" = 403 ] && [ "$(code "$base/api/link?token=$tok")" = 404 ]
ok $? "state-changing calls are not reachable with GET"

NETLAB_SRC="$NETLAB_SRC" timeout 600 node "$NETLAB_SRC/tests/func/web.mjs" "$url" "$lab" "$NETLAB" "$art" \
  >"$tmp/mjs.out" 2>&1
while read -r word what; do
  case "$word" in
  PASS) ok 0 "web: $what" ;;
  FAIL) ok 1 "web: $what" ;;
  *) echo "# $word $what" ;;
  esac
done <"$tmp/mjs.out"
grep -q '^PASS the page shows r2 stopped' "$tmp/mjs.out"
ok $? "the browser run got to its end"

if [ -f "$art/capture.pcap" ] && tcpdump -nr "$art/capture.pcap" >"$tmp/cap.txt" 2>/dev/null; then
  grep -q 'ICMP echo request' "$tmp/cap.txt" && grep -q 'ICMP echo reply' "$tmp/cap.txt"
  ok $? "the pcap downloaded from the page holds r1's ping to r2"
else
  ok 1 "the pcap downloaded from the page is valid pcap"
fi
grep -q 'console of r1 .* attached' "$tmp/web.err"
ok $? "the server logged the console's attach"
grep -q '"type":"console","node":"r1","state":"attached"' "$tmp/ev2.json"
ok $? "events: the console's attach"
grep -q '"type":"capture","target":"r1:eth0","lan":"A","state":"started"' "$tmp/ev2.json" &&
  grep -q '"type":"capture","target":"r1:eth0","lan":"A","state":"stopped"' "$tmp/ev2.json"
ok $? "events: capture started and stopped"
grep -q '"node":"r2","state":"stopped","why":"QEMU died' "$tmp/ev2.json"
ok $? "events: r2 stopped, its QEMU died (killed)"
[ -f "$art/kill-ms" ] && [ "$(cat "$art/kill-ms")" -lt 1000 ]
ok $? "the kill reached the page within a second ($(cat "$art/kill-ms" 2>/dev/null) ms)"
ls "$art"/*.png >/dev/null 2>&1
ok $? "screenshots kept in $art"

# Backpressure: a shell whose page reads nothing while r1 writes 64 MiB
# into it; the server's memory stays bounded (it stops reading the shell),
# another page's shell works meanwhile, and once the slow page reads, it gets
# every byte.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$webpid/status"; }
rss0=$(rss)
flood=$((64 << 20))
python3 "$NETLAB_SRC/tests/func/wsslow.py" "$url" "/ws/shell?lab=$lab&node=r1" \
  "head -c $flood /dev/zero | tr '\\0' x; exit$(printf '\r')" 25 "$tmp/slow.ready" >"$tmp/slow.got" 2>&1 &
slow=$!
wait_for 10 test -e "$tmp/slow.ready"
sleep 15
rss1=$(rss)
[ $((rss1 - rss0)) -lt 16384 ]
ok $? "web: a page that reads nothing of a 64 MiB flood costs the server $((rss1 - rss0)) KiB (< 16 MiB)"
python3 "$NETLAB_SRC/tests/func/wsslow.py" "$url" "/ws/shell?lab=$lab&node=r1" \
  "echo other-page-\$((6*7)); exit$(printf '\r')" 0 "$tmp/other.ready" "$tmp/other.out" >/dev/null 2>&1
grep -q 'other-page-42' "$tmp/other.out"
ok $? "web: another page's shell works meanwhile"
wait $slow
got=$(cat "$tmp/slow.got")
[ "${got:-0}" -ge "$flood" ]
ok $? "web: the slow page then gets all of the flood ($got bytes of $flood and more)"

# Why a node stopped: a panic, a poweroff (QEMU's SHUTDOWN and its reason).
"$NETLAB" restart -d "$lab" r2 >/dev/null 2>&1
ok $? "r2 boots again"
echo 'echo c >/proc/sysrq-trigger' | "$NETLAB" console -d "$lab" r2 >/dev/null 2>&1
wait_for 30 has '"node":"r2","state":"stopped","why":"panic"' "$tmp/ev2.json"
ok $? "events: r2 stopped after a kernel panic (why: panic)"
{ grep '"r2"' "$tmp/ev2.json" | tail -4; "$NETLAB" console -d "$lab" --log r2 2>&1 | tail -6; } | diag
echo 'busybox poweroff -f' | "$NETLAB" console -d "$lab" r1 >/dev/null 2>&1
wait_for 30 has '"node":"r1","state":"stopped","why":"poweroff"' "$tmp/ev2.json"
ok $? "events: r1 stopped after its poweroff (why: poweroff)"

kill $webpid
wait $webpid
ok $? "netlab web stops on SIGTERM with status 0"
"$NETLAB" down "$lab" >/dev/null 2>&1
wait_for 10 has '"type":"lab","state":"down"' "$tmp/ev2.json"
ok $? "events: lab down"
kill $ev2 $evtxt 2>/dev/null
cat "$tmp/web.err" | diag
finish
