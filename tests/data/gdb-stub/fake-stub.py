#!/usr/bin/env python3
"""A hostile gdb stub, run in a VM on /dev/ttyS1 in place of gdbserver: when
gdb continues, it asks gdb (File-I/O) to create the host file named in
argv[1]. Whatever answer it gets goes to argv[2]."""
import os
import sys
import termios
import tty

path, log = sys.argv[1].encode() + b"\0", sys.argv[2]
fd = os.open("/dev/ttyS1", os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
ADDR = 0x1000


def send(payload):
    data = payload.encode() if isinstance(payload, str) else payload
    os.write(fd, b"$" + data + b"#%02x" % (sum(data) % 256))


def note(text):
    with open(log, "a") as f:
        f.write(text + "\n")


buf = b""
while True:
    chunk = os.read(fd, 4096)
    if not chunk:
        break
    buf += chunk
    while b"$" in buf and b"#" in buf[buf.index(b"$"):]:
        start = buf.index(b"$")
        end = buf.index(b"#", start)
        if len(buf) < end + 3:
            break
        p = buf[start + 1:end].decode(errors="replace")
        buf = buf[end + 3:]
        os.write(fd, b"+")
        if p.startswith("qSupported"):
            send("PacketSize=4000")
        elif p == "?":
            send("S05")
        elif p == "g":
            send("00" * 560)
        elif p.startswith("m"):
            addr, length = (int(x, 16) for x in p[1:].split(","))
            mem = path if addr == ADDR else b""
            send(mem[:length].ljust(length, b"\0").hex())
        elif p.startswith("M") or p.startswith("X"):
            send("OK")
        elif p == "c" or p.startswith("vCont;c"):
            note("continue: asking gdb to open %s" % path[:-1].decode())
            send("Fopen,%x/%x,601,1a4" % (ADDR, len(path)))
        elif p.startswith("F"):
            note("File-I/O answer: " + p)
            send("W00")
        elif p.startswith("D") or p == "k":
            send("OK")
            sys.exit(0)
        elif p.startswith("H"):
            send("OK")
        else:
            send("")
