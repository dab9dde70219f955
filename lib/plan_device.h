/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The WireGuard device a plan asks for: the node's private key and listen
 * port, and one peer per plan peer with its endpoint, keepalive, preshared
 * key and allowed IPs. wg_device_diff() then turns it into the delta the
 * backend applies. The conversion is pure; resolving endpoint names (DNS)
 * is the separate, impure step before it.
 */
#ifndef SKEIN_PLAN_DEVICE_H
#define SKEIN_PLAN_DEVICE_H

#include <stdint.h>

#include "error.h"
#include "topology.h"
#include "wg.h"

/* out->peers[i] is plan peer i. endpoint_ips[i] is plan peer i's endpoint
 * address; family 0 leaves the peer without endpoint, so the device keeps
 * the one it learned. out owns
 * its peers and their allowed IPs: wg_device_free() it. */
int plan_device(const struct plan *plan, const char *ifname, const struct wg_key *private_key,
		uint16_t listen_port, const struct ip_addr *endpoint_ips, struct wg_device *out,
		struct error *err);

/* Resolves each plan peer's endpoint host: an IP literal as is, a DNS name
 * with getaddrinfo (IPv4 first). A name that does not resolve is logged and
 * left without address. *out (plan->n_peers entries) is malloc'ed. */
int plan_resolve_endpoints(const struct plan *plan, struct ip_addr **out, struct error *err);

#endif
