// SPDX-License-Identifier: GPL-2.0-or-later
#include "link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

/* A growable array filled by dump callbacks. */
struct collect {
	void *items;
	size_t n, cap, size;
	int family, index;
	uint32_t table;
	int failed;
};

static void *collect_slot(struct collect *c)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		void *p = realloc(c->items, cap * c->size);

		if (!p) {
			c->failed = 1;
			return NULL;
		}
		c->items = p;
		c->cap = cap;
	}
	return memset((char *)c->items + c->n++ * c->size, 0, c->size);
}

/* Runs a dump into c; on failure frees what was collected and says what
 * could not be listed. */
static int collect_dump(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
			struct collect *c, const char *what, struct error *err)
{
	int ret = nl_talk(nl, nlh, cb, c);

	if (ret == 0 && c->failed)
		ret = -ENOMEM;
	if (ret < 0) {
		free(c->items);
		c->items = NULL;
		error_set(err, "listing %s: %s", what, strerror(-ret));
	}
	return ret;
}

static int copy_ip(const struct nlattr *a, int family, struct ip_addr *ip)
{
	size_t len = family == AF_INET6 ? 16 : 4;

	if (mnl_attr_get_payload_len(a) != len)
		return -1;
	ip->family = family;
	memcpy(ip->bytes, mnl_attr_get_payload(a), len);
	return 0;
}

/* ---- links ---- */

static void parse_linkinfo_kind(const struct nlattr *linkinfo, struct link_info *li)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
			snprintf(li->kind, sizeof(li->kind), "%s", mnl_attr_get_str(a));
	}
}

static int parse_link(const struct nlmsghdr *nlh, struct link_info *li)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	li->index = ifi->ifi_index;
	li->up = ifi->ifi_flags & IFF_UP;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			snprintf(li->name, sizeof(li->name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_MTU:
			li->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == LINK_MAC_LEN)
				memcpy(li->mac, mnl_attr_get_payload(a), LINK_MAC_LEN);
			break;
		case IFLA_LINKINFO:
			parse_linkinfo_kind(a, li);
			break;
		case IFLA_IFALIAS:
			if (mnl_attr_get_payload_len(a) < sizeof(li->alias))
				snprintf(li->alias, sizeof(li->alias), "%s", mnl_attr_get_str(a));
			break;
		}
	}
	return MNL_CB_OK;
}

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct link_info *li = collect_slot(c);

	return li ? parse_link(nlh, li) : MNL_CB_ERROR;
}

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, int index)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return ifi;
}

int link_get(struct nl *nl, const char *name, struct link_info *out, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, 0);
	struct collect c = { .size = sizeof(*out) };
	int ret;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	ret = nl_talk(nl, nlh, on_link, &c);
	if (ret == 0 && (c.failed || c.n != 1))
		ret = c.failed ? -ENOMEM : -ENODEV;
	if (ret == 0)
		*out = *(struct link_info *)c.items;
	else
		error_set(err, "link %s: %s", name, strerror(-ret));
	free(c.items);
	return ret;
}

int link_list(struct nl *nl, struct link_info **out, size_t *n, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, NLM_F_DUMP);
	struct collect c = { .size = sizeof(**out) };
	int ret;

	put_ifinfo(nlh, 0);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	ret = collect_dump(nl, nlh, on_link, &c, "links", err);
	if (ret < 0)
		return ret;
	*out = c.items;
	*n = c.n;
	return 0;
}

static void put_link_basics(struct nlmsghdr *nlh, const char *name, uint32_t mtu)
{
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
}

/* The kernel takes IFLA_IFALIAS only on an existing link. */
static int link_set_alias(struct nl *nl, const char *name, const char *alias,
			  struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, 0);
	int ret;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		error_set(err, "link %s: setting alias: %s", name, strerror(-ret));
	return ret;
}

int link_veth_create(struct nl *nl, const char *name, const char *peer,
		     int peer_netns_fd, uint32_t mtu, struct error *err)
{
	return link_veth_create_alias(nl, name, peer, peer_netns_fd, mtu, NULL, err);
}

int link_veth_create_alias(struct nl *nl, const char *name, const char *peer,
			   int peer_netns_fd, uint32_t mtu, const char *alias,
			   struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *linkinfo, *data, *peer_attr;
	struct ifinfomsg *ifi, *peer_ifi;
	int ret;

	ifi = put_ifinfo(nlh, 0);
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	put_link_basics(nlh, name, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer_attr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's ifinfomsg sits in the attribute's payload, then its
	 * own attributes follow. It cannot come up here: the kernel opens it
	 * before the pair is joined (ENOTCONN), unlike `name`. */
	peer_ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*peer_ifi));
	peer_ifi->ifi_family = AF_UNSPEC;
	put_link_basics(nlh, peer, mtu);
	if (peer_netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	mnl_attr_nest_end(nlh, peer_attr);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		error_set(err, "creating veth %s (peer %s): %s", name, peer, strerror(-ret));
	else if (alias && (ret = link_set_alias(nl, name, alias, err)) < 0)
		link_delete(nl, name, NULL); /* all or nothing */
	return ret;
}

static int link_change(struct nl *nl, int index, uint32_t mtu, bool up,
		       struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = put_ifinfo(nlh, index);
	int ret;

	if (up)
		ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		error_set(err, "link %d: setting %s: %s", index, up ? "up" : "MTU",
			  strerror(-ret));
	return ret;
}

int link_set_up(struct nl *nl, int index, struct error *err)
{
	return link_change(nl, index, 0, true, err);
}

int link_set_mtu(struct nl *nl, int index, uint32_t mtu, struct error *err)
{
	return link_change(nl, index, mtu, false, err);
}

int link_delete(struct nl *nl, const char *name, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_DELLINK, 0);
	int ret;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		error_set(err, "deleting link %s: %s", name, strerror(-ret));
	return ret;
}

/* ---- addresses ---- */

static int addr_request(struct nl *nl, uint16_t type, uint16_t flags, int index,
			const struct cidr *addr, uint32_t ifa_flags)
{
	struct nlmsghdr *nlh = nl_msg(nl, type, flags);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t len = ip_len(&addr->ip);

	ifa->ifa_family = (uint8_t)addr->ip.family;
	ifa->ifa_prefixlen = addr->prefix;
	ifa->ifa_index = (uint32_t)index;
	ifa->ifa_flags = (uint8_t)ifa_flags;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr->ip.bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr->ip.bytes);
	if (ifa_flags > 0xff)
		mnl_attr_put_u32(nlh, IFA_FLAGS, ifa_flags);
	return nl_talk(nl, nlh, NULL, NULL);
}

int link_addr_add(struct nl *nl, int index, const struct cidr *addr,
		  uint32_t flags, struct error *err)
{
	int ret = addr_request(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, addr, flags);
	char buf[CIDR_STRLEN];

	if (ret < 0)
		error_set(err, "adding address %s to link %d: %s",
			  cidr_format(addr, buf), index, strerror(-ret));
	return ret;
}

int link_addr_del(struct nl *nl, int index, const struct cidr *addr, struct error *err)
{
	int ret = addr_request(nl, RTM_DELADDR, 0, index, addr, 0);
	char buf[CIDR_STRLEN];

	if (ret < 0)
		error_set(err, "deleting address %s from link %d: %s",
			  cidr_format(addr, buf), index, strerror(-ret));
	return ret;
}

static int on_addr(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct collect *c = data;
	const struct nlattr *a, *local = NULL, *address = NULL;
	struct cidr *out;

	if (c->index && (int)ifa->ifa_index != c->index)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(a) == IFA_LOCAL)
			local = a;
		else if (mnl_attr_get_type(a) == IFA_ADDRESS)
			address = a;
	}
	/* IFA_LOCAL is the interface's own address when a peer is set. */
	if (!local)
		local = address;
	if (!local)
		return MNL_CB_OK;
	out = collect_slot(c);
	if (!out)
		return MNL_CB_ERROR;
	out->prefix = ifa->ifa_prefixlen;
	if (copy_ip(local, ifa->ifa_family, &out->ip) < 0)
		c->n--;
	return MNL_CB_OK;
}

int link_addr_list(struct nl *nl, int index, int family, struct cidr **out,
		   size_t *n, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct collect c = { .size = sizeof(**out), .index = index };
	int ret;

	ifa->ifa_family = (uint8_t)family;
	ret = collect_dump(nl, nlh, on_addr, &c, "addresses", err);
	if (ret < 0)
		return ret;
	*out = c.items;
	*n = c.n;
	return 0;
}

/* ---- routes ---- */

static uint16_t route_request_flags(bool replace)
{
	return NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
}

static void put_route(struct nlmsghdr *nlh, const struct link_route *r)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	uint32_t table = r->table ? r->table : RT_TABLE_MAIN;
	size_t len = ip_len(&r->dst.ip);

	rtm->rtm_family = (uint8_t)r->dst.ip.family;
	rtm->rtm_dst_len = r->dst.prefix;
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = r->protocol ? r->protocol : RTPROT_BOOT;
	rtm->rtm_scope = r->scope;
	rtm->rtm_type = RTN_UNICAST;
	if (r->onlink)
		rtm->rtm_flags |= RTNH_F_ONLINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (r->dst.prefix)
		mnl_attr_put(nlh, RTA_DST, len, r->dst.ip.bytes);
	if (r->gateway.family)
		mnl_attr_put(nlh, RTA_GATEWAY, ip_len(&r->gateway), r->gateway.bytes);
	if (r->src.family)
		mnl_attr_put(nlh, RTA_PREFSRC, ip_len(&r->src), r->src.bytes);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (r->mtu) {
		struct nlattr *metrics = mnl_attr_nest_start(nlh, RTA_METRICS);

		mnl_attr_put_u32(nlh, RTAX_MTU, r->mtu);
		mnl_attr_nest_end(nlh, metrics);
	}
}

static int route_error(int ret, const char *what, const struct link_route *r,
		       struct error *err)
{
	char dst[CIDR_STRLEN], gw[INET6_ADDRSTRLEN] = "-";

	if (r->gateway.family)
		ip_format(&r->gateway, gw);
	error_set(err, "%s route %s via %s dev %d: %s", what, cidr_format(&r->dst, dst),
		  gw, r->oif, strerror(-ret));
	return ret;
}

int link_route_add(struct nl *nl, const struct link_route *r, bool replace, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWROUTE, route_request_flags(replace));
	int ret;

	put_route(nlh, r);
	ret = nl_talk(nl, nlh, NULL, NULL);
	return ret < 0 ? route_error(ret, "adding", r, err) : 0;
}

int link_route_del(struct nl *nl, const struct link_route *r, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_DELROUTE, 0);
	struct rtmsg *rtm;
	int ret;

	put_route(nlh, r);
	/* Match any scope and protocol: only dst/table/oif/gw identify it. */
	rtm = (struct rtmsg *)mnl_nlmsg_get_payload(nlh);
	rtm->rtm_scope = RT_SCOPE_NOWHERE;
	rtm->rtm_protocol = 0;
	rtm->rtm_flags = 0;
	ret = nl_talk(nl, nlh, NULL, NULL);
	return ret < 0 ? route_error(ret, "deleting", r, err) : 0;
}

static void parse_route_attr(const struct nlattr *a, int family, struct link_route *r,
			     uint32_t *table)
{
	const struct nlattr *m;

	switch (mnl_attr_get_type(a)) {
	case RTA_DST:
		copy_ip(a, family, &r->dst.ip);
		break;
	case RTA_GATEWAY:
		copy_ip(a, family, &r->gateway);
		break;
	case RTA_PREFSRC:
		copy_ip(a, family, &r->src);
		break;
	case RTA_OIF:
		r->oif = (int)mnl_attr_get_u32(a);
		break;
	case RTA_TABLE:
		*table = mnl_attr_get_u32(a);
		break;
	case RTA_METRICS:
		mnl_attr_for_each_nested(m, a) {
			if (mnl_attr_get_type(m) == RTAX_MTU)
				r->mtu = mnl_attr_get_u32(m);
		}
		break;
	}
}

static int on_route(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct collect *c = data;
	struct link_route r = { 0 };
	const struct nlattr *a;
	uint32_t table = rtm->rtm_table;
	struct link_route *out;

	if (rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	if (c->family && rtm->rtm_family != c->family)
		return MNL_CB_OK;
	r.dst.ip.family = rtm->rtm_family;
	r.dst.prefix = rtm->rtm_dst_len;
	r.scope = rtm->rtm_scope;
	r.protocol = rtm->rtm_protocol;
	r.onlink = rtm->rtm_flags & RTNH_F_ONLINK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm))
		parse_route_attr(a, rtm->rtm_family, &r, &table);
	r.table = table;
	if (table != c->table || (c->index && r.oif != c->index))
		return MNL_CB_OK;
	out = collect_slot(c);
	if (!out)
		return MNL_CB_ERROR;
	*out = r;
	return MNL_CB_OK;
}

int link_route_list(struct nl *nl, int family, uint32_t table, int oif,
		    struct link_route **out, size_t *n, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	struct collect c = {
		.size = sizeof(**out), .family = family, .index = oif,
		.table = table ? table : RT_TABLE_MAIN,
	};
	int ret;

	rtm->rtm_family = (uint8_t)family;
	ret = collect_dump(nl, nlh, on_route, &c, "routes", err);
	if (ret < 0)
		return ret;
	*out = c.items;
	*n = c.n;
	return 0;
}
