/* Kathará's bridged and port options: a node's uplink, one more NIC (after
 * the lab's) on a NAT'd network of its own that passt(1) joins to the
 * host's sockets, so the node reaches the outside as a host program would,
 * and host ports forwarded to it. passt's mapping of the gateway's address
 * to the host's loopback is off (--no-map-gw): the node cannot reach what
 * listens on the host's 127.0.0.1. */
#pragma once

#include "lab.h"
#include "sandbox.h"
#include "state.h"

/* The node's side of the NAT'd network, as the guest sets it up. */
#define NL_UPLINK_ADDR "10.0.2.15/24"
#define NL_UPLINK_GATEWAY "10.0.2.2"

/* Starts NODE's passt (through nl_vde_spawn(), as the QEMU user, recorded
 * for `down`), with NODE's ports forwarded. */
gboolean nl_uplink_start(const NlState *st, const NlQemuUser *qu, const NlNode *node,
                         GError **error);
