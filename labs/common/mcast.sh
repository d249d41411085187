# Multicast sender and counting receiver for the tests of labs/multicast*,
# with socat in the VMs. Source it after lib.sh.
#
# mcast_recv VM GROUP PORT: in VM, join GROUP on eth0 (IGMP) and append every
# datagram to PORT to /tmp/recv.PORT, one line each. Returns once the socket
# has joined and is bound. mcast_stop VM PORT ends it (and leaves GROUP).
mcast_recv() {
  bg "$1" "recv$3" socat -u "UDP4-RECV:$3,reuseaddr,ip-add-membership=$2:eth0" \
    "OPEN:/tmp/recv.$3,creat,trunc"
  wait_for 30 on "$1" "ip maddr show dev eth0 | grep -q ' $2\$' && ss -Hlun 'sport = :$3' | grep -q ."
}
mcast_stop() {
  stop "$1" "recv$2"
}

# mcast_send VM GROUP PORT COUNT TTL: from VM, send COUNT datagrams to
# GROUP:PORT with this TTL, about 50 a second. Each is a 10-byte record
# "nSSSSSSSS\n" (S: its sequence number from 0); socat -b 10 reads, and so
# sends, one record at a time.
mcast_send() {
  on "$1" "i=0; while [ \$i -lt $4 ]; do printf 'n%08d\n' \$i; i=\$((i + 1)); sleep 0.02; done |
    socat -u -b 10 - UDP4-DATAGRAM:$2:$3,ip-multicast-ttl=$5"
}

# mcast_count VM PORT: what VM's receiver on PORT got, as
# "received N duplicates D [first F last L]": N distinct datagrams, D more
# copies, F and L the lowest and highest records.
mcast_count() {
  on "$1" "f=/tmp/recv.$2; [ -f \$f ] || exit 1
    n=\$(sort -u \$f | wc -l); t=\$(wc -l <\$f)
    echo received \$n duplicates \$((t - n)) \$([ \$n -eq 0 ] || echo first \$(sort \$f | head -1) last \$(sort \$f | tail -1))"
}
