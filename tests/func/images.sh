#!/bin/sh
# Nodes on container images' roots (doc/images.md), with no registry of the
# internet: the test builds its images once (a busybox-only one, a hostile
# one on top of it, a Debian one with bird2, which the host lacks, and one
# of Debian 11 with its FRR 7.5) into
# $NETLAB_TEST_IMAGES, serves them from a local registry (Debian's
# docker-registry) and pulls them under Docker Hub names through a
# registries.conf mirror, as from Docker Hub. A lab mixing the host's root
# and both images comes up, routes across them and passes `netlab test`;
# `image rm` and `prune` leave alone what its nodes boot on.
. "$(dirname "$0")/lib.sh"

for p in skopeo umoci docker-registry mmdebstrap; do
  command -v $p >/dev/null || { echo "1..0 # SKIP $p is not installed (scripts/setup)"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP needs root (mknod for the hostile layer, the system cache's users)"; exit 0; }

# ---- the images, built once ----
imgs=${NETLAB_TEST_IMAGES:-/var/tmp/netlab-test-images}
L=$imgs/layout
mkdir -p "$imgs"
if [ ! -f "$imgs/busybox.done" ]; then
  rm -rf "$L" "$imgs/bb"
  umoci init --layout "$L" && umoci new --image "$L:busybox" || exit 1
  mkdir -p "$imgs/bb/bin" "$imgs/bb/etc" "$imgs/bb/root"
  cp /bin/busybox "$imgs/bb/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$imgs/bb/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$imgs/bb/etc/passwd"
  echo 'root:x:0:' >"$imgs/bb/etc/group"
  tar -C "$imgs/bb" --owner=0 --group=0 -cf "$imgs/bb.tar" . &&
    umoci raw add-layer --image "$L:busybox" "$imgs/bb.tar" && touch "$imgs/busybox.done"
fi
if [ ! -f "$imgs/hostile.done" ]; then
  # A layer with a device node, a setuid-root program and an absolute
  # link to the host's /etc/shadow.
  rm -rf "$imgs/evil" && mkdir -p "$imgs/evil/bin" "$imgs/evil/etc" "$imgs/evil/dev"
  mknod "$imgs/evil/dev/evil-disk" b 8 0
  printf '#!/bin/sh\nid\n' >"$imgs/evil/bin/suid" && chmod 4755 "$imgs/evil/bin/suid"
  ln -s /etc/shadow "$imgs/evil/etc/evil"
  tar -C "$imgs/evil" --owner=0 --group=0 -cf "$imgs/evil.tar" . && rm -rf "$imgs/evil" &&
    umoci tag --image "$L:busybox" hostile &&
    umoci raw add-layer --image "$L:hostile" "$imgs/evil.tar" && touch "$imgs/hostile.done"
fi
if [ ! -f "$imgs/debian.done" ]; then
  if [ ! -f "$imgs/deb.tar" ]; then
    mmdebstrap --quiet --variant=minbase --include=bird2,iproute2,kmod,iputils-ping bookworm \
      "$imgs/deb.part.tar" >"$imgs/mmdebstrap.log" 2>&1 && mv "$imgs/deb.part.tar" "$imgs/deb.tar"
  fi
  [ -f "$imgs/deb.tar" ] &&
    umoci new --image "$L:debian" && umoci raw add-layer --image "$L:debian" "$imgs/deb.tar" &&
    rm -f "$imgs/deb.tar" && touch "$imgs/debian.done"
fi
# (c) Another FRR than the host's: Debian 11's 7.5, from the main archive alone
# (its security archive is not always reachable).
if [ ! -f "$imgs/frr7.done" ]; then
  if [ ! -f "$imgs/frr7.tar" ]; then
    mmdebstrap --quiet --variant=minbase --include=frr,iproute2,iputils-ping bullseye \
      "$imgs/frr7.part.tar" http://deb.debian.org/debian >"$imgs/mmdebstrap-frr7.log" 2>&1 && mv "$imgs/frr7.part.tar" "$imgs/frr7.tar"
  fi
  [ -f "$imgs/frr7.tar" ] &&
    umoci new --image "$L:frr7" && umoci raw add-layer --image "$L:frr7" "$imgs/frr7.tar" &&
    rm -f "$imgs/frr7.tar" && touch "$imgs/frr7.done"
fi
for i in busybox hostile debian frr7; do
  [ -f "$imgs/$i.done" ]
  ok $? "image $i built (in $imgs)"
done

# ---- a registry on 127.0.0.1, and Docker Hub mirrored to it ----
port=$((20000 + $$ % 10000))
mkdir -p "$tmp/registry"
cat >"$tmp/registry.yml" <<CONF
version: 0.1
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$port
CONF
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null; cleanup' EXIT
wait_for 20 sh -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null ||
  wait_for 20 curl -s "http://127.0.0.1:$port/v2/" >/dev/null
for i in busybox hostile debian frr7; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$L:$i" \
    "docker://127.0.0.1:$port/kathara/netlab-$i:1" >"$tmp/push.out" 2>&1
  ok $? "pushed $i to the local registry" || diag <"$tmp/push.out"
done
cat >"$tmp/registries.conf" <<CONF
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:$port"
insecure = true
CONF
export CONTAINERS_REGISTRIES_CONF="$tmp/registries.conf"
export NETLAB_IMAGE_CACHE="$tmp/cache"

# ---- pull, the cache, the hostile layer ----
"$NETLAB" image pull kathara/netlab-hostile:1 >"$tmp/pull.out" 2>&1
ok $? "image pull through the mirror" || diag <"$tmp/pull.out"
root=$(tail -1 "$tmp/pull.out")
[ -d "$root/bin" ] && [ "${root#"$tmp/cache/roots/"}" != "$root" ]
ok $? "unpacked under the cache's roots/ ($root)"
[ -d "$root" ] && found=$(find "$root" \( -type b -o -type c -o -type l -o -type p -o -type s -o -perm /7000 \
  -o -perm /022 -o ! -user root \) -print | head -5)
[ -z "$found" ]
ok $? "no device, link, FIFO, setuid or group/other-writable file, all root's, on the host" ||
  echo "$found" | diag
[ -f "$root/dev/evil-disk" ] && [ ! -s "$root/dev/evil-disk" ] && [ -f "$root/etc/evil" ] &&
  [ "$(cat "$root/etc/evil")" = /etc/shadow ] && [ "$(stat -c %a "$root/bin/suid")" = 644 ]
ok $? "the device is an empty file, the link a file holding its target, the setuid file 0644"
qemu_write=$(setpriv --reuid=netlab-qemu --regid=netlab-qemu --clear-groups \
  sh -c "touch '$root/bin/x' 2>/dev/null || echo refused")
[ "$qemu_write" = refused ] && [ ! -e "$root/bin/x" ]
ok $? "the QEMU user cannot write the cache"

# As an ordinary user (umoci unpacks as that user; nothing runs as root):
# the same plain tree, owned by the user, the image's owners in xattrs.
chmod -R a+rX "$L"
mkdir -p "$tmp/ucache" && chown nobody "$tmp/ucache"
setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$tmp/ucache" \
  NETLAB_IMAGE_CACHE="$tmp/ucache/images" "$NETLAB" image pull "oci:$L:hostile" >"$tmp/upull" 2>&1
uroot=$(tail -1 "$tmp/upull")
[ -d "$uroot/bin" ] && [ -z "$(find "$uroot" \( -type b -o -type c -o -type l -o -perm /7000 \
  -o ! -user nobody \) -print)" ] &&
  [ "$(getfattr --only-values -n user.virtfs.mode "$uroot/bin/suid" | od -An -tx4 | tr -d ' ')" = 000089ed ]
ok $? "an ordinary user's pull: plain files of that user, setuid root kept in xattrs only" ||
  diag <"$tmp/upull"

"$NETLAB" image ls >"$tmp/ls.out" 2>&1
grep -q '^docker://docker.io/kathara/netlab-hostile:1 *sha256:[0-9a-f]* .*[0-9.]* [kMG]*B$' "$tmp/ls.out"
ok $? "image ls shows the image, its digest and size" || diag <"$tmp/ls.out"

# ---- a lab: the host's root, busybox and Debian, routed ----
lab=$tmp/mixed
mkdir -p "$lab/tests"
cat >"$lab/lab.conf" <<CONF
h[0]="A"
b[0]="A"
b[1]="B"
b[image]="kathara/netlab-busybox:1"
d[0]="B"
d[image]="kathara/netlab-debian:1"
e[0]="B"
e[image]="kathara/netlab-hostile:1"
f[0]="B"
f[image]="kathara/netlab-frr7:1"
CONF
echo 'ip addr add 10.0.0.1/24 dev eth0; ip route add 10.0.1.0/24 via 10.0.0.2' >"$lab/h.startup"
echo 'ip addr add 10.0.0.2/24 dev eth0; ip addr add 10.0.1.2/24 dev eth1; echo 1 >/proc/sys/net/ipv4/ip_forward' >"$lab/b.startup"
printf 'ip addr add 10.0.1.3/24 dev eth0\nip route add default via 10.0.1.2\nsystemctl start bird\n' >"$lab/d.startup"
echo 'ip addr add 10.0.1.4/24 dev eth0' >"$lab/e.startup"
echo 'ip addr add 10.0.1.5/24 dev eth0' >"$lab/f.startup"
mkdir -p "$lab/shared"
cat >"$lab/tests/01-route" <<'T'
#!/bin/sh
n=0
check() {
  n=$((n + 1))
  if "$@" >/dev/null 2>&1; then echo "ok $n - $*"; else echo "not ok $n - $*"; fi
}
# Under TCG on a loaded host a first echo can take seconds (ARP on two LANs).
check netlab exec h -- ping -c 3 -W 20 10.0.1.3
check netlab exec d -- ping -c 3 -W 20 10.0.0.1
check netlab exec b -- ping -c 3 -W 20 10.0.1.3
echo "1..$n"
T
chmod +x "$lab/tests/01-route"

"$NETLAB" check "$lab" >"$tmp/check.out" 2>&1
grep -q 'root: the host' "$tmp/check.out" &&
  grep -q 'root: image kathara/netlab-busybox:1, not in the cache' "$tmp/check.out" &&
  grep -q 'root: image kathara/netlab-hostile:1, in the cache' "$tmp/check.out"
ok $? "check says which root each node boots and whether its image is there" || diag <"$tmp/check.out"

"$NETLAB" up --pull-images=never "$lab" >"$tmp/never.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "lab.conf:4: image 'kathara/netlab-busybox:1' is not in the cache" "$tmp/never.out"
ok $? "up --pull-images=never: a missing image is a lab.conf:LINE error, exit $rc" || diag <"$tmp/never.out"

"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
rc=$?
ok $rc "up pulls what is missing and boots host, busybox and Debian nodes" || diag <"$tmp/up.out"
grep -q 'pulling docker://docker.io/kathara/netlab-debian:1' "$tmp/up.out"
ok $? "up said what it pulled"
export NETLAB_LAB="$lab"
x() { "$NETLAB" exec "$@"; }
[ "$(x b -- cat /etc/passwd)" = 'root:x:0:0:root:/root:/bin/sh' ] && ! x b -- test -e /usr/lib/frr
ok $? "b runs on the busybox image's root"
# The console's shell: the image's sh where it has no bash.
logs="$(data_dir "$lab")/logs"
wait_for 30 grep -q 'root@b:/# ' "$logs/b.console.log" &&
  wait_for 30 grep -q 'root@d:/# ' "$logs/d.console.log"
ok $? "consoles: a root shell on the busybox node (sh) and the Debian node (bash)"
x d -- sh -c 'grep -q bookworm /etc/os-release && test -x /usr/sbin/bird'
ok $? "d runs on the Debian image, with bird2 the host lacks"
x d -- systemctl is-active bird >"$tmp/bird" 2>&1 && x d -- birdc show status >>"$tmp/bird" 2>&1
ok $? "systemctl start bird through the shim, birdc answers" || diag <"$tmp/bird"
x f -- /usr/lib/frr/zebra --version >"$tmp/frr" 2>&1 && grep -q 'version 7\.5' "$tmp/frr" &&
  x h -- /usr/lib/frr/zebra --version | grep -q 'version 8\.'
ok $? "f runs Debian 11's FRR 7.5 beside the host's FRR 8" || diag <"$tmp/frr"
x d -- modprobe vxlan && x d -- sh -c 'test -d /sys/module/vxlan'
ok $? "modprobe in an image node loads the booted kernel's module"
x b -- sh -c 'echo hi >/shared/from-b && test -f /hostlab/lab.conf' && [ -f "$lab/shared/from-b" ]
ok $? "/shared and /hostlab in a busybox node"
x b -- systemctl start nothing-here >"$tmp/svc" 2>&1
grep -q 'nothing-here' "$tmp/svc"
ok $? "systemctl in a busybox node is netlab's shim" || diag <"$tmp/svc"
# The hostile image in the guest: the guest sees what the image said,
# the host's file is never reached.
[ "$(x e -- stat -c '%a %u' /bin/suid)" = "4755 0" ] &&
  [ "$(x e -- readlink /etc/evil)" = /etc/shadow ] && ! x e -- cat /etc/evil >/dev/null 2>&1
ok $? "in the guest: setuid as the image has it, the link points into the guest's own root"
x e -- sh -c 'echo x >/bin/suid' && [ "$(cat "$root/bin/suid")" = "$(printf '#!/bin/sh\nid')" ]
ok $? "a guest's write lands in its overlay, not in the cache"

# An image a running node boots on stays: rm refuses it, naming the lab and
# the node; prune keeps a root no reference names any more (the name
# re-pulled to another image) while a node boots on it, and removes it once
# the lab is down.
"$NETLAB" image rm kathara/netlab-debian:1 >"$tmp/rm-used.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "in use: node 'd' of lab '$lab'" "$tmp/rm-used.out" &&
  "$NETLAB" image ls | grep -q netlab-debian
ok $? "image rm of the image d boots on is refused, naming lab and node (exit $rc)" || diag <"$tmp/rm-used.out"
bbroot=$(sed -n 's|.*image kathara/netlab-busybox:1: \(/.*\)/rootfs$|\1|p' "$tmp/up.out" | head -1)
skopeo copy --quiet --dest-tls-verify=false "oci:$L:debian" \
  "docker://127.0.0.1:$port/kathara/netlab-busybox:1" >"$tmp/push2.out" 2>&1 &&
  "$NETLAB" image pull kathara/netlab-busybox:1 >"$tmp/pull2.out" 2>&1 &&
  "$NETLAB" image prune >"$tmp/prune-used.out" 2>&1
[ -n "$bbroot" ] && [ -d "$bbroot/rootfs/bin" ] && grep -q "kept $bbroot.*node 'b' of lab '$lab'" "$tmp/prune-used.out" &&
  [ "$(x b -- cat /etc/passwd)" = 'root:x:0:0:root:/root:/bin/sh' ]
ok $? "image prune keeps the root b boots on after its name moved to another image ($bbroot)" ||
  cat "$tmp/push2.out" "$tmp/pull2.out" "$tmp/prune-used.out" | diag

"$NETLAB" test "$lab" >"$tmp/test.out" 2>&1
ok $? "netlab test passes (routes from the host's root through busybox to Debian)" ||
  diag <"$tmp/test.out"
"$NETLAB" down "$lab" >/dev/null 2>&1

# ---- an image without a shell ----
mkdir -p "$imgs/nosh"
if [ ! -f "$imgs/nosh.done" ]; then
  umoci new --image "$L:nosh" && mkdir -p "$imgs/nosh/etc" && echo x >"$imgs/nosh/etc/x" &&
    tar -C "$imgs/nosh" -cf "$imgs/nosh.tar" . && umoci raw add-layer --image "$L:nosh" "$imgs/nosh.tar" &&
    touch "$imgs/nosh.done"
fi
mkdir -p "$tmp/nosh"
printf 'n[0]="A"\nn[image]="oci:%s:nosh"\n' "$L" >"$tmp/nosh/lab.conf"
"$NETLAB" up "$tmp/nosh" >"$tmp/nosh.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'lab.conf:2: .*cannot boot: the image has no /bin/sh' "$tmp/nosh.out"
ok $? "an image without a shell: a lab.conf:LINE error naming why (exit $rc)" || diag <"$tmp/nosh.out"

"$NETLAB" image rm kathara/netlab-hostile:1 && "$NETLAB" image prune >"$tmp/prune.out" &&
  [ ! -d "$root" ] && ! "$NETLAB" image ls | grep -q hostile
ok $? "image rm and prune remove the image and its root"
[ -n "$bbroot" ] && [ ! -d "$bbroot" ]
ok $? "once the lab is down, prune removed the root b booted on"
finish
