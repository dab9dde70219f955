// SPDX-License-Identifier: GPL-2.0-or-later
#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "link.h"

/* ---- pure core: identity, normalization, diff ---- */

struct route route_normalize(const struct route *r)
{
	struct route n = *r;

	n.dst = cidr_network(&r->dst);
	if (!n.table)
		n.table = RT_TABLE_MAIN;
	n.dev[IF_NAMESIZE - 1] = '\0';
	return n;
}

struct rule rule_normalize(const struct rule *r)
{
	struct rule n = *r;

	n.src = cidr_network(&r->src);
	n.dst = cidr_network(&r->dst);
	n.src.ip.family = n.dst.ip.family = r->family;
	if (!n.table)
		n.table = SKEIN_ROUTE_TABLE;
	if (!n.priority)
		n.priority = SKEIN_RULE_PRIORITY;
	return n;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

static int route_key_cmp(const void *a, const void *b)
{
	const struct route *x = a, *y = b;

	int c = cmp_u32(x->table, y->table);

	return c ? c : cidr_cmp(&x->dst, &y->dst);
}

static bool route_same(const void *a, const void *b)
{
	const struct route *x = a, *y = b;

	return ip_equal(&x->gateway, &y->gateway) && ip_equal(&x->src, &y->src) &&
	       !strcmp(x->dev, y->dev) && x->onlink == y->onlink && x->mtu == y->mtu;
}

static int rule_key_cmp(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;

	int c = cmp_u32((uint32_t)x->family, (uint32_t)y->family);

	if (!c)
		c = cmp_u32(x->priority, y->priority);
	if (!c)
		c = cmp_u32(x->table, y->table);
	if (!c)
		c = cidr_cmp(&x->src, &y->src);
	return c ? c : cidr_cmp(&x->dst, &y->dst);
}

int route_diff(const struct route *have, size_t n_have, const struct route *want,
	       size_t n_want, struct change **changes, size_t *n_changes, struct error *err)
{
	static const struct setdiff_ops ops = { "route", route_key_cmp, route_same };
	struct setdiff_list h = { have, n_have, sizeof(*have) }, w = { want, n_want, sizeof(*want) };

	return setdiff(&h, &w, &ops, changes, n_changes, err);
}

int rule_diff(const struct rule *have, size_t n_have, const struct rule *want,
	      size_t n_want, struct change **changes, size_t *n_changes, struct error *err)
{
	static const struct setdiff_ops ops = { "rule", rule_key_cmp, NULL };
	struct setdiff_list h = { have, n_have, sizeof(*have) }, w = { want, n_want, sizeof(*want) };

	return setdiff(&h, &w, &ops, changes, n_changes, err);
}

const char *route_format(const struct route *r, char *buf, size_t len)
{
	char dst[CIDR_STRLEN], gw[INET6_ADDRSTRLEN], src[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s%s%s dev %s%s%s table %u%s", cidr_format(&r->dst, dst),
		 r->gateway.family ? " via " : "",
		 r->gateway.family ? ip_format(&r->gateway, gw) : "", r->dev,
		 r->src.family ? " src " : "", r->src.family ? ip_format(&r->src, src) : "",
		 r->table ? r->table : RT_TABLE_MAIN, r->onlink ? " onlink" : "");
	return buf;
}

const char *rule_format(const struct rule *r, char *buf, size_t len)
{
	char src[CIDR_STRLEN], dst[CIDR_STRLEN];

	snprintf(buf, len, "%s from %s to %s table %u priority %u",
		 r->family == AF_INET6 ? "ipv6" : "ipv4",
		 r->src.prefix ? cidr_format(&r->src, src) : "all",
		 r->dst.prefix ? cidr_format(&r->dst, dst) : "all", r->table, r->priority);
	return buf;
}

/* ---- netlink shell: routes ---- */

/* Device names resolve through nl's own namespace (not the caller's), so
 * a socket opened in another namespace works. */
struct links {
	struct link_info *items;
	size_t n;
};

static const char *link_name(const struct links *l, unsigned index)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].index == (int)index)
			return l->items[i].name;
	return NULL;
}

static unsigned link_index(const struct links *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].name, name))
			return (unsigned)l->items[i].index;
	return 0;
}

/* Entries of skein's collected from a dump (struct route or struct rule). */
struct dump {
	void *items;
	size_t n, cap;
	int err;
	const struct links *links; /* routes: to name their devices */
};

static int run_dump(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, struct dump *d,
		    const char *what, struct error *err)
{
	int ret = nl_talk(nl, nlh, cb, d);

	if (d->err)
		ret = d->err;
	if (ret < 0) {
		free(d->items);
		d->items = NULL;
		d->n = 0;
		return error_set(err, "dump %s: %s", what, strerror(-ret));
	}
	return 0;
}

/* The next zeroed slot of a growing array, or NULL (ENOMEM). */
static void *append(void *items_ptr, size_t *n, size_t *cap, size_t size)
{
	void **items = items_ptr;
	char *slot;

	if (*n == *cap) {
		size_t new_cap = *cap ? *cap * 2 : 16;
		void *p = realloc(*items, new_cap * size);

		if (!p)
			return NULL;
		*items = p;
		*cap = new_cap;
	}
	slot = (char *)*items + (*n)++ * size;
	memset(slot, 0, size);
	return slot;
}

static void attr_ip(const struct nlattr *a, int family, struct ip_addr *out)
{
	size_t len = family == AF_INET6 ? 16 : 4;

	if (mnl_attr_get_payload_len(a) < len)
		return;
	out->family = family;
	memcpy(out->bytes, mnl_attr_get_payload(a), len);
}

static uint32_t metrics_mtu(const struct nlattr *metrics)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, metrics)
		if (mnl_attr_get_type(a) == RTAX_MTU && !mnl_attr_validate(a, MNL_TYPE_U32))
			return mnl_attr_get_u32(a);
	return 0;
}

static void route_parse_attr(const struct nlattr *a, int family, const struct links *links,
			     struct route *r)
{
	const char *name;

	switch (mnl_attr_get_type(a)) {
	case RTA_DST:
		attr_ip(a, family, &r->dst.ip);
		break;
	case RTA_GATEWAY:
		attr_ip(a, family, &r->gateway);
		break;
	case RTA_PREFSRC:
		attr_ip(a, family, &r->src);
		break;
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32))
			break;
		name = link_name(links, mnl_attr_get_u32(a));
		if (name)
			snprintf(r->dev, sizeof(r->dev), "%s", name);
		else /* a link newer than our list: never equal to a wanted route */
			snprintf(r->dev, sizeof(r->dev), "#%u", mnl_attr_get_u32(a));
		break;
	case RTA_TABLE:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			r->table = mnl_attr_get_u32(a);
		break;
	case RTA_METRICS:
		r->mtu = metrics_mtu(a);
		break;
	}
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct dump *d = data;
	const struct nlattr *a;
	struct route *r;

	if (rtm->rtm_protocol != RTPROT_SKEIN || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	r = append(&d->items, &d->n, &d->cap, sizeof(*r));
	if (!r) {
		d->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	r->dst.ip.family = rtm->rtm_family;
	r->dst.prefix = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	r->onlink = rtm->rtm_flags & RTNH_F_ONLINK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm))
		route_parse_attr(a, rtm->rtm_family, d->links, r);
	return MNL_CB_OK;
}

static int route_dump(struct nl *nl, const struct links *links, struct dump *d,
		      struct error *err)
{
	static const int families[] = { AF_INET, AF_INET6 };

	memset(d, 0, sizeof(*d));
	d->links = links;
	for (size_t i = 0; i < 2; i++) {
		struct nlmsghdr *nlh = nl_msg(nl, RTM_GETROUTE, NLM_F_DUMP);
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

		rtm->rtm_family = (unsigned char)families[i];
		if (run_dump(nl, nlh, route_dump_cb, d, "routes", err) < 0)
			return -1;
	}
	return 0;
}

static void put_ip(struct nlmsghdr *nlh, uint16_t type, const struct ip_addr *ip)
{
	mnl_attr_put(nlh, type, ip_len(ip), ip->bytes);
}

static void route_put(struct nlmsghdr *nlh, const struct route *r, unsigned ifindex)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (unsigned char)r->dst.ip.family;
	rtm->rtm_dst_len = r->dst.prefix;
	rtm->rtm_table = r->table < 256 ? (unsigned char)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_SKEIN;
	rtm->rtm_scope = r->gateway.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (r->onlink)
		rtm->rtm_flags |= RTNH_F_ONLINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	if (r->dst.prefix)
		put_ip(nlh, RTA_DST, &r->dst.ip);
	if (r->gateway.family)
		put_ip(nlh, RTA_GATEWAY, &r->gateway);
	if (r->src.family)
		put_ip(nlh, RTA_PREFSRC, &r->src);
	if (ifindex)
		mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	if (r->mtu) {
		struct nlattr *m = mnl_attr_nest_start(nlh, RTA_METRICS);

		mnl_attr_put_u32(nlh, RTAX_MTU, r->mtu);
		mnl_attr_nest_end(nlh, m);
	}
}

struct route_writer {
	struct nl *nl;
	const struct links *links;
};

static int route_write(void *ctx, enum change_op op, const void *item, struct error *err)
{
	const struct route_writer *w = ctx;
	const struct route *r = item;
	static const uint16_t flags[] = {
		[CHANGE_ADD] = NLM_F_CREATE | NLM_F_EXCL,
		[CHANGE_REPLACE] = NLM_F_CREATE | NLM_F_REPLACE,
		[CHANGE_DELETE] = 0,
	};
	static const char *const verbs[] = { "add", "replace", "delete" };
	char buf[160];
	unsigned ifindex = 0;
	struct nlmsghdr *nlh;
	int ret;

	/* A route read back from the kernel may name a vanished device "#N":
	 * deleting it needs no device. */
	if (op != CHANGE_DELETE && r->dev[0] && !(ifindex = link_index(w->links, r->dev)))
		return error_set(err, "add route %s: no device %s", route_format(r, buf, sizeof(buf)), r->dev);
	nlh = nl_msg(w->nl, op == CHANGE_DELETE ? RTM_DELROUTE : RTM_NEWROUTE, flags[op]);
	route_put(nlh, r, ifindex);
	ret = nl_talk(w->nl, nlh, NULL, NULL);
	if (ret < 0)
		return error_set(err, "%s route %s: %s", verbs[op], route_format(r, buf, sizeof(buf)),
				 strerror(-ret));
	return 0;
}

static struct route *normalized_routes(const struct route *in, size_t n)
{
	struct route *out = malloc((n ? n : 1) * sizeof(*out));

	for (size_t i = 0; out && i < n; i++)
		out[i] = route_normalize(&in[i]);
	return out;
}

int route_sync(struct nl *nl, const struct route *want, size_t n_want, struct error *err)
{
	struct route *norm = normalized_routes(want, n_want);
	struct change *changes = NULL;
	struct links links = { NULL, 0 };
	struct dump have;
	size_t n_changes;
	int ret = -1;

	if (!norm)
		return error_set(err, "route sync: out of memory");
	if (link_list(nl, &links.items, &links.n, err) < 0 || route_dump(nl, &links, &have, err) < 0)
		goto out;
	if (route_diff(have.items, have.n, norm, n_want, &changes, &n_changes, err) == 0) {
		struct setdiff_list h = { have.items, have.n, sizeof(*norm) }, w = { norm, n_want, sizeof(*norm) };
		struct route_writer writer = { nl, &links };

		ret = setdiff_apply(changes, n_changes, &h, &w, route_write, &writer, err);
	}
	free(have.items);
out:
	free(links.items);
	free(changes);
	free(norm);
	return ret;
}

/* ---- netlink shell: rules ---- */

static void rule_parse_attr(const struct nlattr *a, struct rule *r)
{
	switch (mnl_attr_get_type(a)) {
	case FRA_SRC:
		attr_ip(a, r->family, &r->src.ip);
		break;
	case FRA_DST:
		attr_ip(a, r->family, &r->dst.ip);
		break;
	case FRA_TABLE:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			r->table = mnl_attr_get_u32(a);
		break;
	case FRA_PRIORITY:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			r->priority = mnl_attr_get_u32(a);
		break;
	}
}

static bool rule_is_skeins(const struct nlmsghdr *nlh, const struct fib_rule_hdr *frh)
{
	const struct nlattr *a;

	if (frh->action != FR_ACT_TO_TBL)
		return false;
	mnl_attr_for_each(a, nlh, sizeof(*frh))
		if (mnl_attr_get_type(a) == FRA_PROTOCOL && !mnl_attr_validate(a, MNL_TYPE_U8))
			return mnl_attr_get_u8(a) == RTPROT_SKEIN;
	return false;
}

static int rule_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct dump *d = data;
	const struct nlattr *a;
	struct rule *r;

	if (!rule_is_skeins(nlh, frh))
		return MNL_CB_OK;
	r = append(&d->items, &d->n, &d->cap, sizeof(*r));
	if (!r) {
		d->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	r->family = frh->family;
	r->src.ip.family = r->dst.ip.family = frh->family;
	r->src.prefix = frh->src_len;
	r->dst.prefix = frh->dst_len;
	r->table = frh->table;
	mnl_attr_for_each(a, nlh, sizeof(*frh))
		rule_parse_attr(a, r);
	return MNL_CB_OK;
}

static int rule_dump(struct nl *nl, struct dump *d, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETRULE, NLM_F_DUMP);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

	memset(d, 0, sizeof(*d));
	frh->family = AF_UNSPEC; /* both families */
	return run_dump(nl, nlh, rule_dump_cb, d, "rules", err);
}

static int rule_write(void *ctx, enum change_op op, const void *item, struct error *err)
{
	struct nl *nl = ctx;
	const struct rule *r = item;
	struct nlmsghdr *nlh = nl_msg(nl, op == CHANGE_DELETE ? RTM_DELRULE : RTM_NEWRULE,
				      op == CHANGE_DELETE ? 0 : NLM_F_CREATE | NLM_F_EXCL);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	char buf[160];
	int ret;

	frh->family = (unsigned char)r->family;
	frh->src_len = r->src.prefix;
	frh->dst_len = r->dst.prefix;
	frh->table = r->table < 256 ? (unsigned char)r->table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, r->priority);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTPROT_SKEIN);
	if (r->src.prefix)
		put_ip(nlh, FRA_SRC, &r->src.ip);
	if (r->dst.prefix)
		put_ip(nlh, FRA_DST, &r->dst.ip);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		return error_set(err, "%s rule %s: %s", op == CHANGE_DELETE ? "delete" : "add",
				 rule_format(r, buf, sizeof(buf)), strerror(-ret));
	return 0;
}

int rule_sync(struct nl *nl, const struct rule *want, size_t n_want, struct error *err)
{
	struct rule *norm = malloc((n_want ? n_want : 1) * sizeof(*norm));
	struct change *changes = NULL;
	struct dump have;
	size_t n_changes;
	int ret = -1;

	if (!norm)
		return error_set(err, "rule sync: out of memory");
	for (size_t i = 0; i < n_want; i++) {
		if (want[i].family != AF_INET && want[i].family != AF_INET6) {
			free(norm);
			return error_set(err, "rule #%zu: family must be IPv4 or IPv6", i);
		}
		norm[i] = rule_normalize(&want[i]);
	}
	if (rule_dump(nl, &have, err) < 0)
		goto out;
	if (rule_diff(have.items, have.n, norm, n_want, &changes, &n_changes, err) == 0) {
		struct setdiff_list h = { have.items, have.n, sizeof(*norm) }, w = { norm, n_want, sizeof(*norm) };

		ret = setdiff_apply(changes, n_changes, &h, &w, rule_write, nl, err);
	}
	free(have.items);
out:
	free(changes);
	free(norm);
	return ret;
}

int route_remove_all(struct nl *nl, struct error *err)
{
	struct error rule_err;
	int ret = route_sync(nl, NULL, 0, err);

	if (rule_sync(nl, NULL, 0, &rule_err) < 0 && ret == 0) {
		*err = rule_err;
		ret = -1;
	}
	return ret;
}
