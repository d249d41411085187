#!/usr/bin/python3
# A hostile GDB remote stub, for tests/func/hostile.sh: it answers gdb just
# enough to be debugged, and when gdb lets the target run it asks gdb, by
# GDB's File-I/O protocol, to create a host file with content it chooses.
# Usage: fakestub.py tty DEVICE TARGET | fakestub.py unix SOCKET TARGET
import os, socket, sys, termios, tty

mode, where, target = sys.argv[1:4]
path = target.encode() + b"\0"
payload = b"written by a guest's gdb stub\n"
PATH_ADDR, DATA_ADDR = 0x10000, 0x20000


def checksum(b):
    return b"%02x" % (sum(b) & 0xFF)


class Line:
    def __init__(self, rd, wr):
        self.rd, self.wr, self.buf = rd, wr, b""

    def byte(self):
        while not self.buf:
            self.buf = self.rd(4096)
            if not self.buf:
                raise EOFError
        c, self.buf = self.buf[:1], self.buf[1:]
        return c

    def packet(self):
        while True:
            c = self.byte()
            if c == b"\x03":
                return b"\x03"
            if c == b"$":
                break
        data = b""
        while (c := self.byte()) != b"#":
            data += c
        self.byte(), self.byte()
        self.wr(b"+")
        return data

    def send(self, data):
        self.wr(b"$" + data + b"#" + checksum(data))


def memory(addr, n):
    out = b""
    for a in range(addr, addr + n):
        if PATH_ADDR <= a < PATH_ADDR + len(path):
            out += path[a - PATH_ADDR : a - PATH_ADDR + 1]
        elif DATA_ADDR <= a < DATA_ADDR + len(payload):
            out += payload[a - DATA_ADDR : a - DATA_ADDR + 1]
        else:
            out += b"\0"
    return out.hex().encode()


def serve(line):
    step = 0  # 0: nothing asked yet; 1: open asked; 2: write asked; 3: close asked
    fd = 0
    while True:
        p = line.packet()
        if p == b"\x03":
            line.send(b"S02")
        elif p.startswith(b"qSupported"):
            line.send(b"PacketSize=4000")
        elif p == b"?":
            line.send(b"S05")
        elif p.startswith(b"H") or p.startswith(b"qSymbol") or p.startswith(b"D"):
            line.send(b"OK")
        elif p == b"qAttached":
            line.send(b"1")
        elif p == b"qfThreadInfo":
            line.send(b"m1")
        elif p == b"qsThreadInfo":
            line.send(b"l")
        elif p == b"qC":
            line.send(b"QC1")
        elif p == b"g":
            line.send(b"00" * 164)  # a register boundary for i386 and amd64 alike
        elif p.startswith(b"p"):
            line.send(b"00" * 8)
        elif p.startswith(b"m"):
            a, n = p[1:].split(b",")
            line.send(memory(int(a, 16), int(n, 16)))
        elif p in (b"c", b"s") or p.startswith(b"vCont;") or p.startswith(b"c") or p.startswith(b"s"):
            # The target "runs": ask gdb to open the host file.
            step = 1
            line.send(b"Fopen,%x/%x,601,1a4" % (PATH_ADDR, len(path)))
        elif p.startswith(b"F"):
            # gdb's answer to a File-I/O request: F<result>[,errno][;C]
            res = p[1:].split(b",")[0].split(b";")[0]
            if step == 1 and not res.startswith(b"-"):
                fd = int(res, 16)
                step = 2
                line.send(b"Fwrite,%x,%x,%x" % (fd, DATA_ADDR, len(payload)))
            elif step == 2:
                step = 3
                line.send(b"Fclose,%x" % fd)
            else:
                line.send(b"W00")
        elif p.startswith(b"k"):
            return
        else:
            line.send(b"")


if mode == "tty":
    fd = os.open(where, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    serve(Line(lambda n: os.read(fd, n), lambda b: os.write(fd, b)))
else:
    if os.path.lexists(where):
        os.unlink(where)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(where)
    os.chmod(where, 0o777)
    s.listen(1)
    while True:
        c, _ = s.accept()
        try:
            serve(Line(c.recv, c.sendall))
        except (EOFError, OSError):
            pass
        c.close()
