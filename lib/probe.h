/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starting a WireGuard handshake on demand. WireGuard handshakes only when
 * it has a packet for a peer without a session, so an idle tunnel (no
 * traffic, no keepalive) has none, and when a peer's first handshake
 * initiation reaches a node that does not know that peer yet, it is dropped
 * and retried only after REKEY_TIMEOUT (5 s). A probe is one tiny UDP
 * datagram handed to the device for a peer: the device queues it, sends a
 * handshake initiation at once and the datagram once the session is up.
 * Used by skein-agent after it adds or re-points peers, and by
 * `skeinctl status --probe`.
 */
#ifndef SKEIN_PROBE_H
#define SKEIN_PROBE_H

#include "cidr.h"
#include "error.h"
#include "topology.h"

/* UDP "discard" (RFC 863): no reply is wanted, only the handshake the
 * datagram causes, and no service on the peer acts on it (nodes run none
 * there; at most the peer's kernel answers "port unreachable", which comes
 * back to a socket already closed). */
#define PROBE_PORT 9

/* Pure: where a probe for p goes. The first host-sized allowed IP (/32,
 * /128) inside wg_subnet (a node's WireGuard IP, which the local node routes
 * through the device and which ends at the peer itself), else the first
 * host-sized one (an external peer's own address); "first" in the plan's
 * order, IPv4 before IPv6. -1 when p has no host-sized allowed IP (it only
 * carries networks): such a peer is not probed. */
int probe_address(const struct plan_peer *p, const struct cidr *wg_subnet, struct ip_addr *out);

/* Sends one datagram to dst:PROBE_PORT from the caller's network namespace,
 * through device ifname only (SO_BINDTODEVICE: it enters that device or
 * the send fails; it never leaves on the underlay). Non-blocking, reads
 * nothing back. The device picks the peer whose allowed IPs hold dst. */
int probe_send(const char *ifname, const struct ip_addr *dst, struct error *err);

#endif
