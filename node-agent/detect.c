// SPDX-License-Identifier: GPL-2.0-or-later
#include "detect.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "link.h"

bool ip_is_link_local(const struct ip_addr *ip)
{
	if (ip->family == AF_INET6)
		return ip->bytes[0] == 0xfe && (ip->bytes[1] & 0xc0) == 0x80;
	return ip->bytes[0] == 169 && ip->bytes[1] == 254;
}

static const struct cidr *find_address(const struct cidr *addrs, size_t n, const struct ip_addr *ip)
{
	for (size_t i = 0; ip->family && i < n; i++)
		if (ip_equal(&addrs[i].ip, ip))
			return &addrs[i];
	return NULL;
}

const struct cidr *underlay_pick_address(const struct cidr *addrs, size_t n,
					  const struct ip_addr *prefer, const struct ip_addr *src)
{
	const struct cidr *hit = find_address(addrs, n, prefer);

	if (!hit)
		hit = find_address(addrs, n, src);
	for (size_t i = 0; !hit && i < n; i++)
		if (!ip_is_link_local(&addrs[i].ip))
			hit = &addrs[i];
	return hit;
}

static void fill_link(const struct link_info *l, struct underlay *out)
{
	strcpy(out->ifname, l->name);
	out->index = l->index;
	out->mtu = l->mtu;
}

/* Picks the address of link l, or returns 0 with out untouched. */
static int pick_on_link(struct nl *nl, const struct link_info *l, int family,
			const struct ip_addr *prefer, const struct ip_addr *src, struct underlay *out,
			struct error *err)
{
	struct cidr *addrs;
	const struct cidr *hit;
	size_t n;
	int rc = link_addr_list(nl, l->index, family, &addrs, &n, err);

	if (rc < 0)
		return rc;
	hit = underlay_pick_address(addrs, n, prefer, src);
	if (hit) {
		fill_link(l, out);
		out->address = *hit;
	}
	free(addrs);
	return 0;
}

/* The link holding `wanted`, whatever its name. */
static int detect_wanted(struct nl *nl, const struct link_info *links, size_t n_links,
			 const struct cidr *wanted, struct underlay *out, struct error *err)
{
	for (size_t i = 0; i < n_links && !out->ifname[0]; i++) {
		struct cidr *addrs;
		size_t n;
		int rc = link_addr_list(nl, links[i].index, wanted->ip.family, &addrs, &n, err);

		if (rc < 0)
			return rc;
		if (find_address(addrs, n, &wanted->ip))
			fill_link(&links[i], out);
		free(addrs);
	}
	return 0;
}

/* The default route of family in the main table: its link and source. */
static int default_route(struct nl *nl, int family, int *oif, struct ip_addr *src, struct error *err)
{
	struct link_route *routes;
	size_t n;
	int rc = link_route_list(nl, family, 0, 0, &routes, &n, err);

	if (rc < 0)
		return rc;
	*oif = 0;
	for (size_t i = 0; i < n && !*oif; i++) {
		if (routes[i].dst.prefix == 0 && routes[i].oif) {
			*oif = routes[i].oif;
			*src = routes[i].src;
		}
	}
	free(routes);
	return 0;
}

static int detect_default(struct nl *nl, const struct link_info *links, size_t n_links,
			  const struct ip_addr *prefer, struct underlay *out, struct error *err)
{
	static const int families[] = { AF_INET, AF_INET6 };

	for (size_t f = 0; f < 2 && !out->ifname[0]; f++) {
		struct ip_addr src = { 0 };
		int oif, rc = default_route(nl, families[f], &oif, &src, err);

		if (rc < 0)
			return rc;
		for (size_t i = 0; oif && i < n_links; i++)
			if (links[i].index == oif &&
			    (rc = pick_on_link(nl, &links[i], families[f], prefer, &src, out, err)) < 0)
				return rc;
	}
	return 0;
}

int underlay_detect(struct nl *nl, const struct cidr *wanted, const struct ip_addr *prefer,
		    struct underlay *out, struct error *err)
{
	struct link_info *links;
	size_t n;
	int rc = link_list(nl, &links, &n, err);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return error_prefix(err, "detecting the underlay");
	if (wanted->ip.family) {
		rc = detect_wanted(nl, links, n, wanted, out, err);
		prefer = &wanted->ip;
	}
	/* A wanted address on no local link still gets the default route's
	 * link, for the MTU. */
	if (rc == 0 && !out->ifname[0])
		rc = detect_default(nl, links, n, prefer, out, err);
	if (wanted->ip.family)
		out->address = *wanted;
	free(links);
	return rc < 0 ? error_prefix(err, "detecting the underlay") : 0;
}
