#!/bin/sh
# scripts/kathara-survey's oracle, with no VM: the expectations file parses
# and names each lab once, and evaluate() judges recorded observations as
# the table says (a pair that must not reach, a missing BGP session, a
# LAN-only exercise, a command's output, a lab Kathará refuses too).
: "${NETLAB_SRC:?set by meson}"
exec python3 - "$NETLAB_SRC" <<'PY'
import importlib.machinery
import importlib.util
import os
import sys

src = sys.argv[1]
loader = importlib.machinery.SourceFileLoader("survey", os.path.join(src, "scripts", "kathara-survey"))
spec = importlib.util.spec_from_loader("survey", loader)
ks = importlib.util.module_from_spec(spec)
loader.exec_module(ks)
n = 0
failed = False


def ok(cond, what):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, what))
    failed |= not cond


labs = ks.load_expectations(ks.EXPECT)
paths = [e["path"] for e in labs]
ok(len(paths) == len(set(paths)), "expectations.toml names each lab once (%d labs)" % len(paths))
ok(all(e.get("why") and e.get("kind") for e in labs), "every lab has a kind and a why")
known = {"path", "zip", "kind", "why", "pairs", "reach", "noreach", "route", "noroute", "proto", "bgp",
         "ospf", "service", "noservice", "tc", "command", "exclude", "needs_image", "up", "nodes_up",
         "cause", "cause_debian", "cause_built", "nodes", "except", "late"}
odd = sorted({k for e in labs for k in e} - known)
ok(not odd, "expectations.toml uses only the keys the survey reads %s" % (odd or ""))
order = ks.order_by_kind([{"path": p, "kind": k} for p, k in
                          [("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")]] +
                         [{"path": "b3", "kind": "b", "late": True}])
ok([e["path"] for e in order] == ["a1", "b1", "c1", "a2", "b2", "b3"],
   "labs run one of each kind in turn, the late ones last")

# r1 (10.0.0.1/24, 10.0.1.1/24) between h1 (10.0.0.2) and h2 (10.0.1.2).
def node(*cidrs, routes=(), bgp=(), services=()):
    return {"addrs": [{"dev": "eth%d" % i, "cidr": c} for i, c in enumerate(cidrs)],
            "routes": list(routes), "bgp": list(bgp), "ospf": [], "services": list(services),
            "tc": [], "listen": []}


nodes = {"r1": node("10.0.0.1/24", "10.0.1.1/24", routes=["10.9.0.0/24 via 10.0.1.2 dev eth1 proto bgp metric 20"],
                    bgp=["10.0.1.2"], services=["frr"]),
         "h1": node("10.0.0.2/24"), "h2": node("10.0.1.2/24")}
targets = {n: ks.ping_targets(nodes, n) for n in nodes}
ok(targets["h1"] == ["10.0.0.1", "10.0.1.1", "10.0.1.2"], "h1 pings every address of the others")
lan_only = {"h1": ["10.0.0.1"], "h2": ["10.0.1.1"], "r1": ["10.0.0.2", "10.0.1.2"]}
rec = {"up": True, "nodes": nodes, "targets": targets, "reached": lan_only, "extra": {}, "commands": []}
fails, passed = ks.evaluate({"pairs": "lan", "noreach": [["h1", "h2"]]}, rec)
ok(not fails and passed == 2, "an exercise reaching only its LANs meets pairs = lan, h1 does not reach h2")
fails, _ = ks.evaluate({"pairs": "all"}, rec)
ok(len(fails) == 1 and fails[0].startswith("4 all pairs unreached"), "pairs = all counts the 4 unreached pairs")
fails, _ = ks.evaluate({"pairs": "all", "except": [["*", "10.0.1.0/24"], ["h2", "10.0.0.0/16"]]}, rec)
ok(fails == [], "pairs = all spares the pairs its except names")
rec_all = dict(rec, reached={n: targets[n] for n in nodes})
fails, _ = ks.evaluate({"pairs": "all", "noreach": [["h1", "h2"]]}, rec_all)
ok(fails == ["h1 reaches h2"], "a filter that does not hold is named")
exp = {"bgp": [["r1", 1], ["h1", 1]], "route": [["r1", "10.9.0.0/24"]], "noroute": [["h1", "10.9.0.0/24"]],
       "proto": [["r1", "bgp", 1]], "service": [["r1", "frr"]], "noservice": [["h1", "frr"]]}
fails, passed = ks.evaluate(exp, rec)
ok(fails == ["h1: 0 BGP sessions established, 1 expected"] and passed == 6,
   "sessions, routes, protocols and services are checked node by node")
cmd = {"command": [{"node": "h1", "run": "curl", "match": "Hello"},
                   {"node": "h1", "run": "curl 2", "match": "secret", "expect": False}]}
fails, _ = ks.evaluate(cmd, dict(rec, commands=[{"out": "<p>Hello</p>"}, {"out": "public"}]))
ok(not fails, "a command's output matches, another's must not")
fails, _ = ks.evaluate(cmd, dict(rec, commands=[{"out": "refused"}, {"out": "secret"}]))
ok(len(fails) == 2, "a page not served and a leak are both differences")
ok(ks.outcome({"up": False}, {"up": False, "up_stderr": "x"})[1] is True,
   "a lab Kathará refuses is the same when up refuses it")
ok(ks.outcome({}, {"up": False, "up_stderr": "lab.conf:3: bad"})[1] is False, "a failed up is a difference")
ok(ks.outcome({}, None) == ("not run (time)", None), "a lab without a record is not run, not a result")
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
