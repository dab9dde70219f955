// SPDX-License-Identifier: GPL-2.0-or-later
#include "mtu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/rtnetlink.h>

#include "link.h"

int mtu_for_underlay(uint32_t underlay, uint32_t *out, struct error *err)
{
	if (underlay < MTU_MIN + MTU_WIREGUARD_OVERHEAD)
		return error_set(err, "underlay MTU %u is too small for WireGuard (needs at least %u)",
				 underlay, MTU_MIN + MTU_WIREGUARD_OVERHEAD);
	*out = underlay - MTU_WIREGUARD_OVERHEAD;
	return 0;
}

struct addr_search {
	const struct ip_addr *ip;
	int index;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_search *s = data;
	const struct nlattr *a;

	if (ifa->ifa_family != s->ip->family)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
		if ((mnl_attr_get_type(a) == IFA_LOCAL || mnl_attr_get_type(a) == IFA_ADDRESS) &&
		    mnl_attr_get_payload_len(a) == ip_len(s->ip) &&
		    !memcmp(mnl_attr_get_payload(a), s->ip->bytes, ip_len(s->ip)))
			s->index = (int)ifa->ifa_index;
	return MNL_CB_OK;
}

/* Index of the link holding ip; 0 when no link does. */
static int link_holding(struct nl *nl, const struct ip_addr *ip, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct addr_search s = { ip, 0 };
	char buf[INET6_ADDRSTRLEN];
	int ret;

	ifa->ifa_family = (uint8_t)ip->family;
	ret = nl_talk(nl, nlh, addr_cb, &s);
	if (ret < 0)
		return error_set(err, "MTU: find the link of %s: %s", ip_format(ip, buf), strerror(-ret));
	if (!s.index)
		return error_set(err, "MTU: no link holds the internal IP %s", ip_format(ip, buf));
	return s.index;
}

/* Output link of the default route of `family`; 0 when there is none. */
static int default_route_link(struct nl *nl, int family, struct error *err)
{
	struct link_route *routes;
	size_t n;
	int oif = 0;

	if (link_route_list(nl, family, 0, 0, &routes, &n, err) < 0)
		return -1;
	for (size_t i = 0; !oif && i < n; i++)
		if (!routes[i].dst.prefix)
			oif = routes[i].oif;
	free(routes);
	return oif;
}

static int link_mtu(struct nl *nl, int index, uint32_t *mtu, struct error *err)
{
	struct link_info *links;
	size_t n;
	int ret = -1;

	if (link_list(nl, &links, &n, err) < 0)
		return -1;
	for (size_t i = 0; ret && i < n; i++)
		if (links[i].index == index) {
			*mtu = links[i].mtu;
			ret = 0;
		}
	free(links);
	return ret ? error_set(err, "MTU: link %d vanished", index) : 0;
}

int mtu_auto(struct nl *nl, const struct ip_addr *internal_ip, uint32_t *out, struct error *err)
{
	uint32_t underlay = 0;
	int index;

	if (internal_ip && internal_ip->family) {
		index = link_holding(nl, internal_ip, err);
	} else {
		index = default_route_link(nl, AF_INET, err);
		if (index == 0)
			index = default_route_link(nl, AF_INET6, err);
		if (index == 0)
			return error_set(err, "MTU: no internal IP and no default route to find the underlay");
	}
	if (index < 0 || link_mtu(nl, index, &underlay, err) < 0)
		return -1;
	return mtu_for_underlay(underlay, out, err);
}
