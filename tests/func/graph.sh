#!/bin/sh
# netlab graph: every shipped lab as DOT that Graphviz reads, as JSON that
# parses, as SVG; and, with a lab up, each interface's addresses.
. "$(dirname "$0")/lib.sh"

for l in "$NETLAB_SRC"/labs/*/lab.conf; do
  d=${l%/lab.conf}
  name=${d##*/}
  "$NETLAB" graph -T dot "$d" >"$tmp/$name.dot" 2>"$tmp/err" &&
    dot -Tsvg "$tmp/$name.dot" -o "$tmp/$name.svg" 2>>"$tmp/err"
  ok $? "graph -T dot $name: valid DOT for Graphviz"
  diag <"$tmp/err"
  "$NETLAB" graph -T json "$d" | python3 -m json.tool >/dev/null
  ok $? "graph -T json $name parses"
done
"$NETLAB" graph "$NETLAB_SRC/labs/vxlan" -o "$tmp/vxlan.svg" && grep -q '<svg' "$tmp/vxlan.svg"
ok $? "graph -o FILE.svg writes SVG"
n=$(grep -c ' -- ' "$tmp/vxlan.dot")
[ "$n" -eq "$(grep -c '^[a-z0-9]*\[[0-9]*\]=' "$NETLAB_SRC/labs/vxlan/lab.conf")" ]
ok $? "one edge per interface of lab.conf ($n)"
"$NETLAB" graph -T mermaid "$NETLAB_SRC/labs/hello" | grep -q '^graph LR'
ok $? "graph -T mermaid"
"$NETLAB" graph -T gif "$NETLAB_SRC/labs/hello" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown format 'gif'" "$tmp/err"
ok $? "an unknown format: status 2, named"

lab=$(copy_lab hello)
"$NETLAB" up "$lab" >"$tmp/up.out" 2>&1
ok $? "labs/hello comes up"
diag <"$tmp/up.out"
"$NETLAB" graph -T json "$lab" >"$tmp/up.json"
python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
r1 = [n for n in g["nodes"] if n["name"] == "r1"][0]
sys.exit(0 if g["up"] and "10.0.0.1/24" in r1["interfaces"][0]["addresses"] else 1)
' "$tmp/up.json"
ok $? "with the lab up, r1's eth0 shows 10.0.0.1/24 (from the agent)"
"$NETLAB" graph -T dot "$lab" | grep -q 'label="eth0\\n10.0.0.2/24"'
ok $? "and the DOT labels r2's edge with its address"
"$NETLAB" down "$lab" >/dev/null 2>&1
finish
