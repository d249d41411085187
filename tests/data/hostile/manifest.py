#!/usr/bin/python3
# A manifest of a tree, for tests/func/hostile.sh: one line per entry with
# its type, mode, owner, size, mtime and ctime (which no process can set
# back, so any write, chmod, chown, rename or link shows), and with --full
# a content hash and the POSIX ACLs too; a diff of two manifests shows any
# change.
# Usage: manifest.py [--full] ROOT [EXCLUDED-RELATIVE-PATH-PREFIX...]
import hashlib, os, stat, sys

args = sys.argv[1:]
full = args[0] == "--full"
if full:
    args = args[1:]
root, excluded = args[0], [e.rstrip("/") for e in args[1:]]


def skip(rel):
    return any(rel == e or rel.startswith(e + "/") for e in excluded)


def acl(path):
    if not full:
        return ""
    out = []
    for name in ("system.posix_acl_access", "system.posix_acl_default"):
        try:
            out.append(os.getxattr(path, name, follow_symlinks=False).hex())
        except OSError:
            out.append("-")
    return ",".join(out)


def line(path, rel):
    try:
        st = os.lstat(path)
    except OSError as e:
        return "%s gone:%s" % (rel, e.errno)
    kind = stat.S_IFMT(st.st_mode)
    what = "t:%d:%d" % (st.st_mtime_ns, st.st_ctime_ns)
    if stat.S_ISREG(kind) and full:
        if st.st_size <= 4 << 20:
            try:
                with open(path, "rb", buffering=0) as f:
                    what += " " + hashlib.sha256(f.read()).hexdigest()[:24]
            except OSError as e:
                what += " unreadable:%d" % e.errno
    elif stat.S_ISLNK(kind):
        what += " ->" + os.readlink(path)
    return "%s %o %d:%d %d %s %s" % (rel, st.st_mode, st.st_uid, st.st_gid,
                                     st.st_size if stat.S_ISREG(kind) else 0, what, acl(path))


print(line(root, "."))
for d, dirs, files in os.walk(root):
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, root)
        if skip(rel):
            if n in dirs:
                dirs.remove(n)
            continue
        print(line(p, rel))
    dirs.sort()
