// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel WireGuard over generic netlink (family "wireguard", see
 * <linux/wireguard.h>), and the wireguard link itself over rtnetlink.
 * A set that does not fit in one message is split as wg(8) splits it: the
 * device attributes go in the first message, peers follow in as many
 * messages as needed. A get is a dump whose peers, and a peer's allowed IPs,
 * may continue in the next message.
 */
#include "wg_internal.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>

#include "key.h"
#include "link.h"

/* As wg(8): one page per message, so a few hundred peers need several. */
#define WG_NL_MSG_MAX 8192

/* --- building a set --- */

enum put_result { PUT_NOTHING, PUT_PART, PUT_ALL };

static bool put_allowed_ip(struct nlmsghdr *nlh, size_t limit, const struct cidr *c)
{
	struct cidr net = cidr_network(c);
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, limit, 0);

	if (!nest)
		return false;
	if (!mnl_attr_put_u16_check(nlh, limit, WGALLOWEDIP_A_FAMILY, (uint16_t)net.ip.family) ||
	    !mnl_attr_put_check(nlh, limit, WGALLOWEDIP_A_IPADDR, ip_len(&net.ip), net.ip.bytes) ||
	    !mnl_attr_put_u8_check(nlh, limit, WGALLOWEDIP_A_CIDR_MASK, net.prefix)) {
		mnl_attr_nest_cancel(nlh, nest);
		return false;
	}
	mnl_attr_nest_end(nlh, nest);
	return true;
}

static bool put_endpoint(struct nlmsghdr *nlh, size_t limit, const struct wg_peer *p)
{
	if (p->endpoint_ip.family == AF_INET6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
					   .sin6_port = htons(p->endpoint_port),
					   .sin6_addr = p->endpoint_ip.v6 };

		return mnl_attr_put_check(nlh, limit, WGPEER_A_ENDPOINT, sizeof(sa), &sa);
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->endpoint_port),
				  .sin_addr = p->endpoint_ip.v4 };

	return mnl_attr_put_check(nlh, limit, WGPEER_A_ENDPOINT, sizeof(sa), &sa);
}

static uint32_t peer_nl_flags(const struct wg_peer *p)
{
	return ((p->flags & WG_PEER_REMOVE) ? WGPEER_F_REMOVE_ME : 0) |
	       ((p->flags & WG_PEER_REPLACE_ALLOWED_IPS) ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
}

/* The peer's own attributes, sent once, in the message where it starts. */
static bool put_peer_head(struct nlmsghdr *nlh, size_t limit, const struct wg_peer *p)
{
	uint32_t flags = peer_nl_flags(p);

	if (flags && !mnl_attr_put_u32_check(nlh, limit, WGPEER_A_FLAGS, flags))
		return false;
	if ((p->flags & WG_PEER_HAS_PRESHARED_KEY) &&
	    !mnl_attr_put_check(nlh, limit, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, p->preshared_key.bytes))
		return false;
	if ((p->flags & WG_PEER_HAS_ENDPOINT) && !put_endpoint(nlh, limit, p))
		return false;
	if ((p->flags & WG_PEER_HAS_KEEPALIVE) &&
	    !mnl_attr_put_u16_check(nlh, limit, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
				    p->persistent_keepalive))
		return false;
	return true;
}

/* Puts as much of peer p as fits, from allowed IP *ip on (a continuation
 * carries only the key and more allowed IPs, never the flags again). */
static enum put_result put_peer(struct nlmsghdr *nlh, size_t limit, const struct wg_peer *p,
				size_t *ip)
{
	struct nlattr *peer = mnl_attr_nest_start_check(nlh, limit, 0), *ips;
	size_t first = *ip;

	if (!peer)
		return PUT_NOTHING;
	if (!mnl_attr_put_check(nlh, limit, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->public_key.bytes) ||
	    (first == 0 && !put_peer_head(nlh, limit, p))) {
		mnl_attr_nest_cancel(nlh, peer);
		return PUT_NOTHING;
	}
	if (!(p->flags & WG_PEER_REMOVE) && *ip < p->n_allowed_ips) {
		ips = mnl_attr_nest_start_check(nlh, limit, WGPEER_A_ALLOWEDIPS);
		while (ips && *ip < p->n_allowed_ips && put_allowed_ip(nlh, limit, &p->allowed_ips[*ip]))
			++*ip;
		if (ips)
			mnl_attr_nest_end(nlh, ips);
	}
	mnl_attr_nest_end(nlh, peer);
	if ((p->flags & WG_PEER_REMOVE) || *ip >= p->n_allowed_ips)
		return PUT_ALL;
	return PUT_PART;
}

static bool put_device_fields(struct nlmsghdr *nlh, size_t limit, const struct wg_device *dev)
{
	if ((dev->flags & WG_DEVICE_HAS_PRIVATE_KEY) &&
	    !mnl_attr_put_check(nlh, limit, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, dev->private_key.bytes))
		return false;
	if ((dev->flags & WG_DEVICE_HAS_LISTEN_PORT) &&
	    !mnl_attr_put_u16_check(nlh, limit, WGDEVICE_A_LISTEN_PORT, dev->listen_port))
		return false;
	if ((dev->flags & WG_DEVICE_HAS_FWMARK) &&
	    !mnl_attr_put_u32_check(nlh, limit, WGDEVICE_A_FWMARK, dev->fwmark))
		return false;
	return true;
}

static struct nlmsghdr *put_genl_header(char *buf, uint16_t family_id, uint8_t cmd,
					uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = WG_GENL_VERSION;
	return nlh;
}

/* Fills the peers nest from the cursor on; returns how many peers (or parts)
 * went in. A peer that does not fit is moved whole to the next message,
 * unless it is alone there: then its allowed IPs are split. */
static size_t put_peers(struct nlmsghdr *nlh, size_t limit, const struct wg_device *dev,
			struct wg_nl_cursor *cur)
{
	struct nlattr *peers = mnl_attr_nest_start_check(nlh, limit, WGDEVICE_A_PEERS);
	size_t put = 0;

	if (!peers)
		return 0;
	while (cur->peer < dev->n_peers) {
		uint32_t before = nlh->nlmsg_len;
		size_t ip = cur->ip;
		enum put_result r = put_peer(nlh, limit, &dev->peers[cur->peer], &ip);

		if (r == PUT_ALL) {
			cur->peer++;
			cur->ip = 0;
			put++;
			continue;
		}
		if (put > 0 || r == PUT_NOTHING || ip == cur->ip) {
			nlh->nlmsg_len = before; /* retry the whole peer in the next message */
		} else {
			cur->ip = ip;
			put++;
		}
		break;
	}
	if (put == 0)
		mnl_attr_nest_cancel(nlh, peers);
	else
		mnl_attr_nest_end(nlh, peers);
	return put;
}

struct nlmsghdr *wg_nl_build_set(const struct wg_device *dev, uint16_t family_id, uint32_t seq,
				 char *buf, size_t buf_len, struct wg_nl_cursor *cur,
				 struct error *err)
{
	struct nlmsghdr *nlh = put_genl_header(buf, family_id, WG_CMD_SET_DEVICE, NLM_F_ACK, seq);
	bool first = !cur->device_sent;

	if (!mnl_attr_put_strz_check(nlh, buf_len, WGDEVICE_A_IFNAME, dev->name) ||
	    (first && !put_device_fields(nlh, buf_len, dev))) {
		error_set(err, "%s: netlink buffer of %zu bytes too small", dev->name, buf_len);
		return NULL;
	}
	cur->device_sent = true;
	if (put_peers(nlh, buf_len, dev, cur) == 0 && !first) {
		error_set(err, "%s: peer %zu does not fit in a netlink message of %zu bytes",
			  dev->name, cur->peer, buf_len);
		return NULL;
	}
	return nlh;
}

bool wg_nl_set_done(const struct wg_device *dev, const struct wg_nl_cursor *cur)
{
	return cur->device_sent && cur->peer >= dev->n_peers;
}

/* --- parsing a get reply --- */

static int parse_allowed_ip(const struct nlattr *nest, struct wg_peer *peer)
{
	const struct nlattr *a;
	struct cidr c = { 0 };
	int family = 0, have_addr = 0, have_mask = 0;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case WGALLOWEDIP_A_FAMILY:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			family = mnl_attr_get_u16(a);
			break;
		case WGALLOWEDIP_A_IPADDR:
			have_addr = (int)mnl_attr_get_payload_len(a);
			if (have_addr != 4 && have_addr != 16)
				return -1;
			memcpy(c.ip.bytes, mnl_attr_get_payload(a), (size_t)have_addr);
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -1;
			c.prefix = mnl_attr_get_u8(a);
			have_mask = 1;
			break;
		}
	}
	if (!have_mask || !((family == AF_INET && have_addr == 4) ||
			    (family == AF_INET6 && have_addr == 16)) ||
	    c.prefix > ip_family_bits(family))
		return -1;
	c.ip.family = family;
	return wg_peer_add_allowed_ip(peer, &c);
}

static int parse_endpoint(const struct nlattr *a, struct wg_peer *peer)
{
	const struct sockaddr *sa = mnl_attr_get_payload(a);
	uint16_t len = mnl_attr_get_payload_len(a);

	if (len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = mnl_attr_get_payload(a);

		peer->endpoint_ip.family = AF_INET;
		peer->endpoint_ip.v4 = in->sin_addr;
		peer->endpoint_port = ntohs(in->sin_port);
	} else if (len >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = mnl_attr_get_payload(a);

		peer->endpoint_ip.family = AF_INET6;
		peer->endpoint_ip.v6 = in6->sin6_addr;
		peer->endpoint_port = ntohs(in6->sin6_port);
	} else {
		return len == 0 ? 0 : -1;
	}
	peer->flags |= WG_PEER_HAS_ENDPOINT;
	return 0;
}

static int parse_key(const struct nlattr *a, struct wg_key *out)
{
	if (mnl_attr_get_payload_len(a) != WG_KEY_LEN)
		return -1;
	memcpy(out->bytes, mnl_attr_get_payload(a), WG_KEY_LEN);
	return 0;
}

static int parse_u64_attr(const struct nlattr *a, uint64_t *out)
{
	if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
		return -1;
	*out = mnl_attr_get_u64(a);
	return 0;
}

static int parse_peer_attr(const struct nlattr *a, struct wg_peer *peer)
{
	const struct nlattr *ip;

	switch (mnl_attr_get_type(a)) {
	case WGPEER_A_PRESHARED_KEY:
		if (parse_key(a, &peer->preshared_key) < 0)
			return -1;
		if (!key_is_zero(&peer->preshared_key))
			peer->flags |= WG_PEER_HAS_PRESHARED_KEY;
		return 0;
	case WGPEER_A_ENDPOINT:
		return parse_endpoint(a, peer);
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return -1;
		peer->persistent_keepalive = mnl_attr_get_u16(a);
		if (peer->persistent_keepalive)
			peer->flags |= WG_PEER_HAS_KEEPALIVE;
		return 0;
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		if (mnl_attr_get_payload_len(a) < sizeof(int64_t))
			return -1;
		memcpy(&peer->last_handshake_sec, mnl_attr_get_payload(a), sizeof(int64_t));
		return 0;
	case WGPEER_A_RX_BYTES:
		return parse_u64_attr(a, &peer->rx_bytes);
	case WGPEER_A_TX_BYTES:
		return parse_u64_attr(a, &peer->tx_bytes);
	case WGPEER_A_ALLOWEDIPS:
		mnl_attr_for_each_nested(ip, a)
			if (parse_allowed_ip(ip, peer) < 0)
				return -1;
		return 0;
	}
	return 0;
}

static const struct nlattr *peer_key_attr(const struct nlattr *nest)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest)
		if (mnl_attr_get_type(a) == WGPEER_A_PUBLIC_KEY)
			return a;
	return NULL;
}

/* The peer a nest describes: the last one again when the dump continues it
 * (its allowed IPs did not fit in the previous message), else a new one. */
static struct wg_peer *peer_for(struct wg_device *dev, const struct nlattr *nest)
{
	const struct nlattr *ka = peer_key_attr(nest);
	struct wg_key key;
	struct wg_peer *peer;

	if (!ka || parse_key(ka, &key) < 0)
		return NULL;
	if (dev->n_peers && key_equal(&dev->peers[dev->n_peers - 1].public_key, &key))
		return &dev->peers[dev->n_peers - 1];
	peer = wg_device_add_peer(dev);
	if (peer)
		peer->public_key = key;
	return peer;
}

static int parse_peers(const struct nlattr *peers, struct wg_device *dev)
{
	const struct nlattr *nest, *a;

	mnl_attr_for_each_nested(nest, peers) {
		struct wg_peer *peer = peer_for(dev, nest);

		if (!peer)
			return -1;
		mnl_attr_for_each_nested(a, nest)
			if (parse_peer_attr(a, peer) < 0)
				return -1;
	}
	return 0;
}

static int parse_device_attr(const struct nlattr *a, struct wg_device *dev)
{
	switch (mnl_attr_get_type(a)) {
	case WGDEVICE_A_PRIVATE_KEY:
		if (parse_key(a, &dev->private_key) < 0)
			return -1;
		if (!key_is_zero(&dev->private_key))
			dev->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
		return 0;
	case WGDEVICE_A_PUBLIC_KEY:
		return parse_key(a, &dev->public_key);
	case WGDEVICE_A_LISTEN_PORT:
		if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
			return -1;
		dev->listen_port = mnl_attr_get_u16(a);
		dev->flags |= WG_DEVICE_HAS_LISTEN_PORT;
		return 0;
	case WGDEVICE_A_FWMARK:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return -1;
		dev->fwmark = mnl_attr_get_u32(a);
		dev->flags |= WG_DEVICE_HAS_FWMARK;
		return 0;
	case WGDEVICE_A_PEERS:
		return parse_peers(a, dev);
	}
	return 0;
}

int wg_nl_parse_device(const struct nlmsghdr *nlh, void *data)
{
	struct wg_device *dev = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (parse_device_attr(a, dev) < 0) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_OK;
}

/* --- talking to the kernel --- */

static int family_id_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

/* Opens a generic netlink socket and finds the "wireguard" family (asking
 * the kernel to load the module if needed). */
static int open_wireguard(struct nl *nl, uint16_t *family_id, struct error *err)
{
	struct nlmsghdr *nlh;
	int ret = nl_open(nl, NETLINK_GENERIC);

	if (ret < 0)
		return error_set(err, "generic netlink socket: %s", strerror(-ret));
	nlh = put_genl_header(nl->buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK, ++nl->seq);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	*family_id = 0;
	ret = nl_talk(nl, nlh, family_id_cb, family_id);
	if (ret < 0 || *family_id == 0) {
		nl_close(nl);
		return error_set(err, "kernel WireGuard (generic netlink family \"%s\"): %s",
				 WG_GENL_NAME, ret < 0 ? strerror(-ret) : "no family id");
	}
	return 0;
}

bool wg_kernel_available(void)
{
	struct nl nl;
	uint16_t id;

	if (open_wireguard(&nl, &id, NULL) < 0)
		return false;
	nl_close(&nl);
	return true;
}

int wg_kernel_get(const char *ifname, struct wg_device *out, struct error *err)
{
	struct nlmsghdr *nlh;
	struct nl nl;
	uint16_t id;
	int ret;

	if (open_wireguard(&nl, &id, err) < 0)
		return error_prefix(err, "%s", ifname);
	nlh = put_genl_header(nl.buf, id, WG_CMD_GET_DEVICE, NLM_F_DUMP, ++nl.seq);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	ret = nl_talk(&nl, nlh, wg_nl_parse_device, out);
	nl_close(&nl);
	if (ret < 0) {
		wg_device_free(out);
		return error_set(err, "%s: reading WireGuard device: %s", ifname, strerror(-ret));
	}
	return 0;
}

int wg_kernel_set(const struct wg_device *dev, unsigned long *writes, struct error *err)
{
	struct wg_nl_cursor cur = { 0 };
	struct nl nl;
	uint16_t id;
	int ret = 0;

	if (open_wireguard(&nl, &id, err) < 0)
		return error_prefix(err, "%s", dev->name);
	while (ret == 0 && !wg_nl_set_done(dev, &cur)) {
		size_t peer = cur.peer;
		struct nlmsghdr *nlh = wg_nl_build_set(dev, id, ++nl.seq, nl.buf,
						       nl.buf_len < WG_NL_MSG_MAX ? nl.buf_len : WG_NL_MSG_MAX,
						       &cur, err);

		if (!nlh) {
			ret = -1;
			break;
		}
		ret = nl_talk(&nl, nlh, NULL, NULL);
		if (ret < 0)
			ret = error_set(err, "%s: setting WireGuard device (from peer %zu): %s",
					dev->name, peer, strerror(-ret));
	}
	*writes += nl.writes;
	nl_close(&nl);
	return ret;
}

/* --- the link --- */

int wg_kernel_create(const char *ifname, struct error *err)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;
	struct nlattr *info;
	struct nl nl;
	int ret = nl_open(&nl, NETLINK_ROUTE);

	if (ret < 0)
		return error_set(err, "%s: rtnetlink socket: %s", ifname, strerror(-ret));
	nlh = nl_msg(&nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
	mnl_attr_nest_end(nlh, info);
	ret = nl_talk(&nl, nlh, NULL, NULL);
	nl_close(&nl);
	if (ret < 0 && ret != -EEXIST)
		return error_set(err, "%s: creating wireguard link: %s", ifname, strerror(-ret));
	return 0;
}

int wg_link_delete(const char *ifname, struct error *err)
{
	struct nl nl;
	int ret = nl_open(&nl, NETLINK_ROUTE);

	if (ret < 0)
		return error_set(err, "%s: rtnetlink socket: %s", ifname, strerror(-ret));
	ret = link_delete(&nl, ifname, err);
	nl_close(&nl);
	return ret < 0 && ret != -ENODEV ? -1 : 0;
}
