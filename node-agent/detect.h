/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's underlay: the interface that carries its private address
 * (for routes to nodes of the same location, the VXLAN device and the
 * automatic MTU) and that address with its prefix length. Only reads.
 *
 * The address is found in this order: a wanted address (--internal-ip or
 * the force-internal-ip annotation) on whatever interface holds it; else
 * the interface of the default route (IPv4 first), where the Node's
 * InternalIP wins if it is there, then the route's preferred source, then
 * the first global address.
 */
#ifndef SKEIN_DETECT_H
#define SKEIN_DETECT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"

struct underlay {
	char ifname[IF_NAMESIZE];   /* "" when nothing was found */
	int index;
	uint32_t mtu;
	struct cidr address;        /* family 0: none */
};

/* wanted, prefer: family 0 when unknown. Finding nothing is not an error
 * (out->ifname stays ""); only a failed netlink read is. */
int underlay_detect(struct nl *nl, const struct cidr *wanted, const struct ip_addr *prefer,
		    struct underlay *out, struct error *err);

/* fe80::/10 or 169.254.0.0/16: addresses the kernel or a DHCP client
 * manage, never the node's. */
bool ip_is_link_local(const struct ip_addr *ip);
/* Pure: which of an interface's addresses is the node's: prefer, else src,
 * else the first that is not link-local. NULL when none fits. */
const struct cidr *underlay_pick_address(const struct cidr *addrs, size_t n,
					  const struct ip_addr *prefer, const struct ip_addr *src);

#endif
