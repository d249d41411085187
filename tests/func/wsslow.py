#!/usr/bin/python3
"""A WebSocket client of netlab web that reads slowly, for tests/func/web.sh.

wsslow.py URL PATH TEXT STALL READY [KEEP]
connects to URL's server (ws://HOST/PATH, with URL's token and the page's
Origin) with a small receive buffer, sends TEXT as one message, then reads
nothing for STALL seconds (touching the file READY once the message is sent),
then reads as fast as it can until the server closes or 30 s pass without a
byte, and prints the number of payload bytes it received (the first 64 KiB
of them into the file KEEP, when given). How it ended goes to stderr: "close
CODE REASON" for a close frame, "eof" when the connection ended without one,
"silence" after 30 s without a byte.
"""
import base64
import os
import socket
import struct
import sys
import time
import urllib.parse

url, path, text, stall, ready = sys.argv[1:6]
keep = open(sys.argv[6], "wb") if len(sys.argv) > 6 else None
u = urllib.parse.urlsplit(url)
token = urllib.parse.parse_qs(u.query)["token"][0]
host, port = u.hostname, u.port
s = socket.socket()
# The smallest buffer: the server's sends pile up at its end, not ours.
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
key = base64.b64encode(os.urandom(16)).decode()
sep = "&" if "?" in path else "?"
req = (f"GET {path}{sep}token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
       f"Origin: http://{host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
s.sendall(req.encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(1)
    if not chunk:
        sys.exit("the server closed during the handshake")
    head += chunk
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit("handshake refused: " + head.split(b"\r\n")[0].decode())


def frame(payload, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    h = bytes([0x80 | opcode])
    if n < 126:
        h += bytes([0x80 | n])
    elif n < 65536:
        h += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        h += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


s.sendall(frame(text.encode()))
open(ready, "w").close()
time.sleep(float(stall))
# Now read: frames' payload bytes, until the close or 30 s of silence.
s.settimeout(30)
buf = b""
got = 0
ended = "eof"
try:
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, at = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, at = struct.unpack(">Q", buf[2:10])[0], 10
            if len(buf) < at + n:
                break
            if op in (1, 2):
                if keep and got < 65536:
                    keep.write(buf[at:at + min(n, 65536 - got)])
                got += n
            if op == 8:
                body = buf[at:at + n]
                code = struct.unpack(">H", body[:2])[0] if n >= 2 else 0
                ended = f"close {code} {body[2:].decode(errors='replace')}"
                raise EOFError
            buf = buf[at + n:]
    ended = "eof"
except socket.timeout:
    ended = "silence"
except EOFError:
    pass
except ConnectionResetError:
    ended = "eof"
print(ended, file=sys.stderr)
print(got)
