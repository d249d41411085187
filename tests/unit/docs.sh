#!/bin/sh
# The manual pages against the code, both ways, with no VM:
# - every command of `netlab --help` (the command table) has an entry in
#   netlab(1)'s COMMANDS section, and every entry is a command;
# - each command's --help prints the manual page's synopsis, and its options
#   are the ones that synopsis shows;
# - every lab.conf key of the parser's table (printed by lab-keys) has an
#   entry in netlab-lab.conf(5) that says what the table says (its meaning
#   and its default), and every key that page documents is in the table;
# - doc/performance.md is what scripts/bench-report makes of bench/results/;
#   doc/kathara-labs.md what scripts/kathara-survey --report makes of
#   tests/kathara/runs/.
: "${NETLAB:?set by meson}" "${NETLAB_SRC:?set by meson}" "${NETLAB_LAB_KEYS:?set by meson}"
exec python3 - "$NETLAB" "$NETLAB_SRC" "$NETLAB_LAB_KEYS" <<'EOF'
import os
import re
import subprocess
import sys

netlab, src, lab_keys = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "doc"))
import synopsis  # noqa: E402  doc/synopsis.py: the COMMANDS entries

n = 0
failed = False


def ok(cond, what, detail=""):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}")
    if not cond:
        failed = True
        for line in str(detail).splitlines():
            print(f"# {line}")


def run(*args):
    r = subprocess.run([netlab, *args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


man1 = os.path.join(src, "doc", "netlab.1.scd")
entries = synopsis.entries(man1)
documented = {}
for cmd, line in entries:
    documented.setdefault(cmd, []).append(line)

# The commands, from the binary's own list.
rc, out = run("--help")
commands = re.findall(r"^  ([a-z][a-z-]*) ", out, re.M)
ok(rc == 0 and len(commands) > 5, "netlab --help lists the commands", out)
for c in commands:
    ok(c in documented, f"command '{c}' has an entry in netlab(1)")
for c in documented:
    ok(c in commands, f"netlab(1)'s entry '{c}' is a command of netlab --help")

# The global options of the usage line.
with open(man1, encoding="utf-8") as f:
    man1_text = f.read()
usage = out.splitlines()[0] if out else ""
for opt in re.findall(r"--[a-z][a-z-]*", usage) + ["--version"]:
    ok(f"*{opt}*" in man1_text, f"global option {opt} is in netlab(1)")


def help_options(text):
    """(short, long) options of a --help's option lines."""
    opts = set()
    for m in re.finditer(r"^  (?:-([A-Za-z]), )?--([a-z][a-z-]*)", text, re.M):
        if m.group(2) in ("help",):
            continue
        opts.add(("-" + m.group(1)) if m.group(1) else None)
        opts.add("--" + m.group(2))
    opts.discard(None)
    if "--dir" in opts:
        opts.discard("--dir")  # -d LABDIR: in every synopsis, --dir in DESCRIPTION
    return opts


def synopsis_options(lines):
    found = set()
    for line in lines:
        # the command's words are not options: strip "netlab CMD"
        for tok in re.findall(r"(?<![\w-])(--?[A-Za-z][a-z-]*)", line):
            found.add(tok)
    return found


for c in commands:
    # help is netlab's own usage, not a command of the table.
    if c not in documented or c == "help":
        continue
    rc, text = run(c, "--help")
    ok(rc == 0, f"netlab {c} --help exits 0", text)
    shown = [l.replace("usage: ", "", 1).strip() for l in text.splitlines()
             if l.startswith("usage: ") or l.startswith("       netlab")]
    ok(shown == documented[c], f"netlab {c} --help shows netlab(1)'s synopsis",
       "help: " + "\n".join(shown) + "\nman:  " + "\n".join(documented[c]))
    # A command with subcommands (*kernel build*) has options per subcommand.
    subs = {}
    for cmd, sub, line in synopsis.forms(man1):
        if cmd == c:
            subs.setdefault(sub, []).append(line)
    for sub, lines in subs.items():
        words = [c] + ([sub] if sub else [])
        if sub:
            rc, text = run(*words, "--help")
            ok(rc == 0, f"netlab {' '.join(words)} --help exits 0", text)
        have = help_options(text)
        doc = synopsis_options(lines) - {"--"}
        ok(have == doc, f"{' '.join(words)}: the options of --help are the synopsis's",
           f"only in --help: {sorted(have - doc)}\nonly in netlab(1): {sorted(doc - have)}")

# lab.conf keys: the parser's table against netlab-lab.conf(5).
man5 = os.path.join(src, "doc", "netlab-lab.conf.5.scd")
with open(man5, encoding="utf-8") as f:
    text5 = f.read()


def flat(s):
    """Markup and spacing left out: `code`, *bold*, _underline_, escapes."""
    return re.sub(r"\s+", " ", re.sub(r"[`*_\\]", "", s)).strip()


# Entries: a term line (no leading tab) and its tab-indented description.
man_entries = []
for block in re.split(r"\n(?=[^\t\n])", text5):
    lines = block.split("\n")
    body = "\n".join(l for l in lines[1:] if l.startswith("\t"))
    if body:
        man_entries.append((lines[0], flat(lines[0] + " " + body)))
node_doc, lab_doc = {}, {}
for term, body in man_entries:
    if term.startswith("_r1_"):
        for k in re.findall(r"\[([a-z0-9_]+)\]", term):
            node_doc[k] = body
    elif term.startswith("*LAB_"):
        for k in re.findall(r"LAB_([A-Z_]+)", term):
            lab_doc[k] = body

keys = subprocess.run([lab_keys], capture_output=True, text=True, check=True).stdout
table = [l.split("\t") for l in keys.splitlines()]
ok(len(table) > 10, "lab-keys prints the parser's table", keys)
for kind, name, used, _list, default, meaning in table:
    doc = node_doc if kind == "node" else lab_doc
    label = f"r1[{name}]" if kind == "node" else f"LAB_{name}"
    body = doc.pop(name, None)
    ok(body is not None, f"{label} has an entry in netlab-lab.conf(5)")
    if body is None:
        continue
    if used == "used":
        ok(flat(meaning) in body, f"{label}: netlab-lab.conf(5) says what the parser's table says",
           f"table: {flat(meaning)}\nman:   {body}")
    else:
        ok("ignored" in body, f"{label}: netlab-lab.conf(5) says it is ignored", body)
    if default:
        ok(f"Default {flat(default)}" in body, f"{label}: netlab-lab.conf(5) gives its default",
           f"table: {flat(default)}\nman:   {body}")
for name in node_doc:
    ok(False, f"netlab-lab.conf(5)'s r1[{name}] is a key of the parser's table")
for name in lab_doc:
    ok(False, f"netlab-lab.conf(5)'s LAB_{name} is a key of the parser's table")

# The results page is what the checked-in bench results give.
r = subprocess.run([os.path.join(src, "scripts", "bench-report"), "--check"],
                   capture_output=True, text=True)
ok(r.returncode == 0, "doc/performance.md is generated from bench/results/", r.stderr)

# The collection's table is what the checked-in survey records give.
r = subprocess.run([os.path.join(src, "scripts", "kathara-survey"), "--report", "--check"],
                   capture_output=True, text=True)
ok(r.returncode == 0, "doc/kathara-labs.md is generated from tests/kathara/runs/", r.stderr)

print(f"1..{n}")
sys.exit(1 if failed else 0)
EOF
