#!/usr/bin/env python3
"""A multicast sender and a counting receiver, for the lab tests.

  mcast.py send GROUP PORT COUNT TTL [PPS]
      send COUNT datagrams "netlab <seq>" to GROUP:PORT with this TTL,
      PPS per second (default 50), then print "sent COUNT".
  mcast.py recv GROUP PORT IFACE FILE
      join GROUP on IFACE (IGMP/MLD), receive on PORT, and keep FILE up to
      date with "received N duplicates D": N distinct sequence numbers
      (then, once some arrived, "first F last L": the lowest and highest).
      FILE exists (with N = 0) as soon as the socket has joined.

Works for IPv4 and IPv6 groups. Standard library only.
"""
import os
import socket
import struct
import sys
import time


def family(group):
    return socket.AF_INET6 if ":" in group else socket.AF_INET


def send(group, port, count, ttl, pps=50):
    fam = family(group)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
    for seq in range(count):
        s.sendto(b"netlab %d" % seq, (group, port))
        time.sleep(1.0 / pps)
    print("sent %d" % count)


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def recv(group, port, iface, path):
    fam = family(group)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    idx = socket.if_nametoindex(iface)
    if fam == socket.AF_INET:
        s.bind((group, port))
        mreqn = socket.inet_aton(group) + struct.pack("=4si", b"\0" * 4, idx)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    else:
        s.bind((group, port, 0, idx))
        mreq = socket.inet_pton(fam, group) + struct.pack("=I", idx)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    seen, dups = set(), 0
    write(path, "received 0 duplicates 0")
    while True:
        data = s.recv(2048)
        words = data.split()
        if len(words) != 2 or words[0] != b"netlab":
            continue
        seq = int(words[1])
        if seq in seen:
            dups += 1
        seen.add(seq)
        write(path, "received %d duplicates %d first %d last %d"
              % (len(seen), dups, min(seen), max(seen)))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) in (5, 6) and a[0] == "send":
        send(a[1], int(a[2]), int(a[3]), int(a[4]), *(float(x) for x in a[5:]))
    elif len(a) == 5 and a[0] == "recv":
        recv(a[1], int(a[2]), a[3], a[4])
    else:
        sys.exit(__doc__)
