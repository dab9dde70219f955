// SPDX-License-Identifier: GPL-2.0-or-later
#include "encap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "link.h"

static const uint8_t zero_mac[LINK_MAC_LEN];

/* ---- pure ---- */

static int ip_key_cmp(const void *a, const void *b)
{
	return ip_cmp(a, b);
}

int encap_fdb_diff(const struct ip_addr *have, size_t n_have, const struct ip_addr *want,
		   size_t n_want, struct change **changes, size_t *n_changes, struct error *err)
{
	static const struct setdiff_ops ops = { "FDB entry", ip_key_cmp, NULL };
	struct setdiff_list h = { have, n_have, sizeof(*have) }, w = { want, n_want, sizeof(*want) };

	return setdiff(&h, &w, &ops, changes, n_changes, err);
}

/* The underlay family: the local address's, else the remotes'. */
static int underlay_family(const struct encap_config *conf, struct error *err)
{
	int family = conf->local.family;
	char buf[INET6_ADDRSTRLEN];

	if (!conf->ifname[0])
		return error_set(err, "encapsulation: no device name");
	for (size_t i = 0; i < conf->n_remotes; i++) {
		int f = conf->remotes[i].family;

		if (f != AF_INET && f != AF_INET6)
			return error_set(err, "encapsulation %s: remote #%zu has no address family",
					 conf->ifname, i);
		if (family && f != family)
			return error_set(err, "encapsulation %s: remote %s is not of the underlay's family",
					 conf->ifname, ip_format(&conf->remotes[i], buf));
		family = f;
	}
	return family ? family : AF_INET;
}

/* ---- the device ---- */

static int vxlan_create(struct nl *nl, const struct encap_config *conf, unsigned underlay,
			struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info, *data;
	int ret;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, conf->ifname);
	if (conf->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, conf->mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, conf->vni ? conf->vni : ENCAP_DEFAULT_VNI);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(conf->port ? conf->port : ENCAP_DEFAULT_PORT));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
	if (conf->local.family)
		mnl_attr_put(nlh, conf->local.family == AF_INET6 ? IFLA_VXLAN_LOCAL6 : IFLA_VXLAN_LOCAL,
			     ip_len(&conf->local), conf->local.bytes);
	if (underlay)
		mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, underlay);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		return error_set(err, "encapsulation: create VXLAN device %s: %s", conf->ifname, strerror(-ret));
	return 0;
}

/* The parameters a VXLAN device is created with, as the kernel reports them. */
struct vxlan_params {
	uint32_t vni, link;
	uint16_t port;          /* network byte order */
	struct ip_addr local;
	bool learning;
};

static struct vxlan_params wanted_params(const struct encap_config *conf, unsigned underlay)
{
	struct vxlan_params p = {
		.vni = conf->vni ? conf->vni : ENCAP_DEFAULT_VNI,
		.link = underlay,
		.port = htons(conf->port ? conf->port : ENCAP_DEFAULT_PORT),
		.local = conf->local,
	};

	return p;
}

static void parse_vxlan_attr(const struct nlattr *a, struct vxlan_params *p)
{
	switch (mnl_attr_get_type(a)) {
	case IFLA_VXLAN_ID:
		p->vni = mnl_attr_get_u32(a);
		break;
	case IFLA_VXLAN_LINK:
		p->link = mnl_attr_get_u32(a);
		break;
	case IFLA_VXLAN_PORT:
		p->port = mnl_attr_get_u16(a);
		break;
	case IFLA_VXLAN_LEARNING:
		p->learning = mnl_attr_get_u8(a);
		break;
	case IFLA_VXLAN_LOCAL:
	case IFLA_VXLAN_LOCAL6:
		p->local.family = mnl_attr_get_payload_len(a) == 16 ? AF_INET6 : AF_INET;
		memcpy(p->local.bytes, mnl_attr_get_payload(a), ip_len(&p->local));
		break;
	}
}

static int vxlan_params_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a, *b, *c;

	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(a) != IFLA_LINKINFO)
			continue;
		mnl_attr_for_each_nested(b, a) {
			if (mnl_attr_get_type(b) != IFLA_INFO_DATA)
				continue;
			mnl_attr_for_each_nested(c, b)
				parse_vxlan_attr(c, data);
		}
	}
	return MNL_CB_OK;
}

static int vxlan_params_read(struct nl *nl, int index, struct vxlan_params *p)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	memset(p, 0, sizeof(*p));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nl_talk(nl, nlh, vxlan_params_cb, p);
}

static bool params_equal(const struct vxlan_params *a, const struct vxlan_params *b)
{
	return a->vni == b->vni && a->link == b->link && a->port == b->port &&
	       a->learning == b->learning && ip_equal(&a->local, &b->local);
}

/* The device exists with conf's parameters: created, or recreated when
 * the VNI, port, local address or underlay changed (they cannot be
 * changed in place). */
static int vxlan_get(struct nl *nl, const struct encap_config *conf, struct link_info *li,
		     struct error *err)
{
	struct vxlan_params have, want;
	unsigned underlay = 0;
	int ret;

	if (conf->underlay[0]) {
		if (link_get(nl, conf->underlay, li, err) < 0)
			return error_prefix(err, "encapsulation %s: underlay", conf->ifname);
		underlay = (unsigned)li->index;
	}
	want = wanted_params(conf, underlay);
	ret = link_get(nl, conf->ifname, li, err);
	if (ret == 0 && strcmp(li->kind, "vxlan"))
		return error_set(err, "encapsulation: device %s exists and is a %s device, not VXLAN",
				 conf->ifname, li->kind[0] ? li->kind : "plain");
	if (ret == 0 && (ret = vxlan_params_read(nl, li->index, &have)) < 0)
		return error_set(err, "encapsulation %s: read: %s", conf->ifname, strerror(-ret));
	if (ret == 0 && !params_equal(&have, &want)) {
		if (link_delete(nl, conf->ifname, err) < 0)
			return error_prefix(err, "encapsulation: recreate");
		ret = -ENODEV;
	}
	if (ret == -ENODEV) {
		if (vxlan_create(nl, conf, underlay, err) < 0)
			return -1;
		ret = link_get(nl, conf->ifname, li, err);
	}
	return ret < 0 ? error_prefix(err, "encapsulation") : 0;
}

static bool is_link_local(const struct cidr *c)
{
	return c->ip.family == AF_INET6 && c->ip.bytes[0] == 0xfe && (c->ip.bytes[1] & 0xc0) == 0x80;
}

/* The device holds exactly conf->address (IPv6 link-local ones aside). */
static int sync_address(struct nl *nl, const struct encap_config *conf, int index, struct error *err)
{
	struct cidr *have = NULL;
	bool present = false;
	size_t n = 0;
	int ret = link_addr_list(nl, index, 0, &have, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (conf->address.ip.family && cidr_equal(&have[i], &conf->address))
			present = true;
		else if (!is_link_local(&have[i]))
			ret = link_addr_del(nl, index, &have[i], err);
	}
	if (ret == 0 && conf->address.ip.family && !present)
		ret = link_addr_add(nl, index, &conf->address,
				    conf->address.ip.family == AF_INET6 ? IFA_F_NODAD : 0, err);
	free(have);
	return ret < 0 ? error_prefix(err, "encapsulation %s", conf->ifname) : 0;
}

/* ---- the FDB ---- */

struct fdb_dump {
	int index;
	struct ip_addr *dst;
	size_t n, cap;
	bool failed;
};

static void fdb_collect(struct fdb_dump *d, const struct nlattr *dst)
{
	size_t len = mnl_attr_get_payload_len(dst);
	struct ip_addr *ip;

	if (len != 4 && len != 16)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct ip_addr *p = realloc(d->dst, cap * sizeof(*p));

		if (!p) {
			d->failed = true;
			return;
		}
		d->dst = p;
		d->cap = cap;
	}
	ip = &d->dst[d->n++];
	memset(ip, 0, sizeof(*ip));
	ip->family = len == 16 ? AF_INET6 : AF_INET;
	memcpy(ip->bytes, mnl_attr_get_payload(dst), len);
}

static int fdb_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *mac = NULL, *dst = NULL;
	struct fdb_dump *d = data;

	if (ndm->ndm_ifindex != d->index)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ndm)) {
		if (mnl_attr_get_type(a) == NDA_LLADDR)
			mac = a;
		else if (mnl_attr_get_type(a) == NDA_DST)
			dst = a;
	}
	if (mac && dst && mnl_attr_get_payload_len(mac) == LINK_MAC_LEN &&
	    !memcmp(mnl_attr_get_payload(mac), zero_mac, LINK_MAC_LEN))
		fdb_collect(d, dst);
	return d->failed ? MNL_CB_ERROR : MNL_CB_OK;
}

static int fdb_dump(struct nl *nl, int index, struct fdb_dump *d, const char *ifname, struct error *err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETNEIGH, NLM_F_DUMP);
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	int ret;

	memset(d, 0, sizeof(*d));
	d->index = index;
	ndm->ndm_family = AF_BRIDGE;
	ret = nl_talk(nl, nlh, fdb_cb, d);
	if (d->failed)
		ret = -ENOMEM;
	if (ret < 0) {
		free(d->dst);
		return error_set(err, "encapsulation %s: dump FDB: %s", ifname, strerror(-ret));
	}
	return 0;
}

struct fdb_writer {
	struct nl *nl;
	int index;
	const char *ifname;
};

static int fdb_write(void *ctx, enum change_op op, const void *item, struct error *err)
{
	const struct fdb_writer *w = ctx;
	const struct ip_addr *dst = item;
	bool add = op != CHANGE_DELETE;
	struct nlmsghdr *nlh = nl_msg(w->nl, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
				      add ? NLM_F_CREATE | NLM_F_APPEND : 0);
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	char buf[INET6_ADDRSTRLEN];
	int ret;

	ndm->ndm_family = AF_BRIDGE;
	ndm->ndm_ifindex = w->index;
	ndm->ndm_state = NUD_NOARP | NUD_PERMANENT;
	ndm->ndm_flags = NTF_SELF;
	mnl_attr_put(nlh, NDA_LLADDR, LINK_MAC_LEN, zero_mac);
	mnl_attr_put(nlh, NDA_DST, ip_len(dst), dst->bytes);
	ret = nl_talk(w->nl, nlh, NULL, NULL);
	if (ret < 0)
		return error_set(err, "encapsulation %s: %s FDB entry for %s: %s", w->ifname,
				 add ? "add" : "delete", ip_format(dst, buf), strerror(-ret));
	return 0;
}

static int sync_fdb(struct nl *nl, const struct encap_config *conf, int index, struct error *err)
{
	struct change *changes = NULL;
	struct fdb_dump have;
	size_t n = 0;
	int ret;

	if (fdb_dump(nl, index, &have, conf->ifname, err) < 0)
		return -1;
	ret = encap_fdb_diff(have.dst, have.n, conf->remotes, conf->n_remotes, &changes, &n, err);
	if (ret == 0) {
		struct setdiff_list h = { have.dst, have.n, sizeof(*have.dst) };
		struct setdiff_list w = { conf->remotes, conf->n_remotes, sizeof(*conf->remotes) };
		struct fdb_writer writer = { nl, index, conf->ifname };

		ret = setdiff_apply(changes, n, &h, &w, fdb_write, &writer, err);
	}
	free(changes);
	free(have.dst);
	return ret;
}

int encap_sync(struct nl *nl, const struct encap_config *conf, struct error *err)
{
	struct link_info li;

	if (underlay_family(conf, err) < 0 || vxlan_get(nl, conf, &li, err) < 0)
		return -1;
	if (conf->mtu && li.mtu != conf->mtu && link_set_mtu(nl, li.index, conf->mtu, err) < 0)
		return error_prefix(err, "encapsulation %s", conf->ifname);
	if (sync_address(nl, conf, li.index, err) < 0)
		return -1;
	if (!li.up && link_set_up(nl, li.index, err) < 0)
		return error_prefix(err, "encapsulation %s", conf->ifname);
	return sync_fdb(nl, conf, li.index, err);
}

int encap_remove(struct nl *nl, const char *ifname, struct error *err)
{
	struct link_info li;
	int ret = link_get(nl, ifname, &li, err);

	if (ret == -ENODEV)
		return 0;
	if (ret == 0 && strcmp(li.kind, "vxlan"))
		return error_set(err, "encapsulation: device %s is not VXLAN; not removing it", ifname);
	if (ret == 0)
		ret = link_delete(nl, ifname, err);
	return ret < 0 ? error_prefix(err, "encapsulation") : 0;
}
