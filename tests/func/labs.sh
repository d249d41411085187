#!/bin/sh
# The multicast, VXLAN and Kathará-style labs pass their own tests under `netlab test`: one
# TAP line per lab, with the lab's wall time. Arguments: lab names (default:
# all of them). Each lab runs from a private copy, next to a copy of
# labs/common/ (the tests' shared scripts), so that it never shares state
# with a user's lab.
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || set -- multicast multicast-pim vxlan vxlan-unicast vxlan6 \
  kathara-ospf kathara-rip kathara-bgp kathara-quagga kathara-radvd kathara-dns-web kathara-frr-split \
  kathara-lb kathara-netem kathara-tunnel
cp -r "$NETLAB_SRC/labs/common" "$tmp/common"
for name; do
  lab=$(copy_lab "$name")
  t0=$(date +%s)
  "$NETLAB" test "$lab" >"$tmp/$name.out" 2>&1
  rc=$?
  ok $rc "netlab test labs/$name ($(($(date +%s) - t0)) s)"
  [ $rc -eq 0 ] || diag <"$tmp/$name.out"
done
finish
