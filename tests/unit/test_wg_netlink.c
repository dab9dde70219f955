// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The WG_CMD_SET_DEVICE messages we build, read back with libmnl against the
 * documented layout of <linux/wireguard.h>, and split across messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "key.h"
#include "wg.h"
#include "wg_internal.h"

#define FAMILY 0x1d
#define MSG_MAX 8192

static void set_key(struct wg_key *k, unsigned n)
{
	memset(k->bytes, 0, WG_KEY_LEN);
	k->bytes[0] = (uint8_t)n;
	k->bytes[1] = (uint8_t)(n >> 8);
	k->bytes[31] = 0x5a;
}

static void add_ip(struct wg_peer *p, const char *s)
{
	struct cidr c;

	assert_int_equal(cidr_parse(s, &c), 0);
	assert_int_equal(wg_peer_add_allowed_ip(p, &c), 0);
}

/* peer i owns 10.(i/256).(i%256).0/24 and n_ips - 1 more /32s */
static struct wg_peer *add_numbered_peer(struct wg_device *d, unsigned i, unsigned n_ips)
{
	struct wg_peer *p = wg_device_add_peer(d);
	char buf[32];

	assert_non_null(p);
	set_key(&p->public_key, i);
	snprintf(buf, sizeof(buf), "10.%u.%u.0/24", (i >> 8) & 255, i & 255);
	add_ip(p, buf);
	for (unsigned j = 1; j < n_ips; j++) {
		snprintf(buf, sizeof(buf), "172.%u.%u.%u/32", 16 + (i & 15), (j >> 8) & 255, j & 255);
		add_ip(p, buf);
	}
	return p;
}

struct seen {
	bool ifname, private_key, listen_port, flags, peers;
	unsigned n_peers;
};

static void check_allowed_ip(const struct nlattr *nest)
{
	const struct nlattr *a;
	int family = 0, addr_len = 0, mask = -1;

	assert_true(mnl_attr_get_type(nest) == 0);
	assert_true(nest->nla_type & NLA_F_NESTED);
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case WGALLOWEDIP_A_FAMILY:
			assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U16), 0);
			family = mnl_attr_get_u16(a);
			break;
		case WGALLOWEDIP_A_IPADDR:
			addr_len = mnl_attr_get_payload_len(a);
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U8), 0);
			mask = mnl_attr_get_u8(a);
			break;
		default:
			fail_msg("unexpected allowed IP attribute %d", mnl_attr_get_type(a));
		}
	}
	assert_true((family == AF_INET && addr_len == 4 && mask >= 0 && mask <= 32) ||
		    (family == AF_INET6 && addr_len == 16 && mask >= 0 && mask <= 128));
}

/* Checks one peer nest against the documented attribute types and sizes. */
static void check_peer(const struct nlattr *nest)
{
	const struct nlattr *a, *ip;
	bool key = false;

	assert_true(nest->nla_type & NLA_F_NESTED);
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case WGPEER_A_PUBLIC_KEY:
			assert_int_equal(mnl_attr_get_payload_len(a), WG_KEY_LEN);
			key = true;
			break;
		case WGPEER_A_PRESHARED_KEY:
			assert_int_equal(mnl_attr_get_payload_len(a), WG_KEY_LEN);
			break;
		case WGPEER_A_FLAGS:
			assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U32), 0);
			assert_int_equal(mnl_attr_get_u32(a) & ~(uint32_t)__WGPEER_F_ALL, 0);
			break;
		case WGPEER_A_ENDPOINT:
			assert_true(mnl_attr_get_payload_len(a) == sizeof(struct sockaddr_in) ||
				    mnl_attr_get_payload_len(a) == sizeof(struct sockaddr_in6));
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U16), 0);
			break;
		case WGPEER_A_ALLOWEDIPS:
			assert_true(a->nla_type & NLA_F_NESTED);
			mnl_attr_for_each_nested(ip, a)
				check_allowed_ip(ip);
			break;
		default:
			fail_msg("attribute %d is not one a set may carry in a peer",
				 mnl_attr_get_type(a));
		}
	}
	assert_true(key);
}

static void check_message(const struct nlmsghdr *nlh, struct seen *s)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *peer;

	memset(s, 0, sizeof(*s));
	assert_int_equal(nlh->nlmsg_type, FAMILY);
	assert_true(nlh->nlmsg_flags & NLM_F_REQUEST);
	assert_true(nlh->nlmsg_flags & NLM_F_ACK);
	assert_true(nlh->nlmsg_len <= MSG_MAX);
	assert_int_equal(genl->cmd, WG_CMD_SET_DEVICE);
	assert_int_equal(genl->version, WG_GENL_VERSION);
	assert_true(mnl_nlmsg_ok(nlh, (int)nlh->nlmsg_len));
	mnl_attr_for_each(a, nlh, sizeof(*genl)) {
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_IFNAME:
			assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
			assert_string_equal(mnl_attr_get_str(a), "wg0");
			s->ifname = true;
			break;
		case WGDEVICE_A_PRIVATE_KEY:
			assert_int_equal(mnl_attr_get_payload_len(a), WG_KEY_LEN);
			s->private_key = true;
			break;
		case WGDEVICE_A_LISTEN_PORT:
			assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U16), 0);
			s->listen_port = true;
			break;
		case WGDEVICE_A_FLAGS:
			s->flags = true;
			break;
		case WGDEVICE_A_PEERS:
			assert_true(a->nla_type & NLA_F_NESTED);
			s->peers = true;
			mnl_attr_for_each_nested(peer, a) {
				check_peer(peer);
				s->n_peers++;
			}
			break;
		default:
			fail_msg("attribute %d is not one a set may carry", mnl_attr_get_type(a));
		}
	}
	assert_true(s->ifname);
	assert_false(s->flags); /* never WGDEVICE_F_REPLACE_PEERS */
}

/* Builds every message of dev; returns how many, parsing them into back. */
static unsigned build_all(const struct wg_device *dev, struct wg_device *back, char **msgs)
{
	struct wg_nl_cursor cur = { 0 };
	unsigned n = 0;

	memset(back, 0, sizeof(*back));
	while (!wg_nl_set_done(dev, &cur)) {
		struct error err;
		struct nlmsghdr *nlh;

		assert_true(n < 64);
		msgs[n] = malloc(MSG_MAX);
		assert_non_null(msgs[n]);
		nlh = wg_nl_build_set(dev, FAMILY, n + 1, msgs[n], MSG_MAX, &cur, &err);
		assert_non_null(nlh);
		assert_int_equal(wg_nl_parse_device(nlh, back), MNL_CB_OK);
		n++;
	}
	return n;
}

static void free_msgs(char **msgs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(msgs[i]);
}

static void test_layout(void **state)
{
	struct wg_device d = { .name = "wg0" }, back;
	struct wg_peer *p;
	char *msgs[64];
	const struct nlmsghdr *nlh;
	const struct nlattr *a, *peers = NULL, *peer;
	struct seen s;
	unsigned n, i = 0;

	(void)state;
	d.flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
	set_key(&d.private_key, 77);
	d.listen_port = 51820;
	p = add_numbered_peer(&d, 1, 1);
	add_ip(p, "fd00:1::/64");
	p->flags = WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_PRESHARED_KEY |
		   WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
	set_key(&p->preshared_key, 9);
	assert_int_equal(ip_parse("192.0.2.1", &p->endpoint_ip), 0);
	p->endpoint_port = 51820;
	p->persistent_keepalive = 25;
	p = wg_device_add_peer(&d);
	set_key(&p->public_key, 2);
	p->flags = WG_PEER_REMOVE;

	n = build_all(&d, &back, msgs);
	assert_int_equal(n, 1);
	nlh = (const struct nlmsghdr *)msgs[0];
	check_message(nlh, &s);
	assert_true(s.private_key && s.listen_port && s.peers);
	assert_int_equal(s.n_peers, 2);

	/* The values, attribute by attribute. */
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == WGDEVICE_A_PEERS)
			peers = a;
	assert_non_null(peers);
	mnl_attr_for_each_nested(peer, peers) {
		uint32_t flags = 0;
		unsigned n_ips = 0;
		const struct sockaddr_in *sin = NULL;

		mnl_attr_for_each_nested(a, peer) {
			if (mnl_attr_get_type(a) == WGPEER_A_FLAGS)
				flags = mnl_attr_get_u32(a);
			if (mnl_attr_get_type(a) == WGPEER_A_ENDPOINT)
				sin = mnl_attr_get_payload(a);
			if (mnl_attr_get_type(a) == WGPEER_A_PUBLIC_KEY)
				assert_int_equal(((uint8_t *)mnl_attr_get_payload(a))[0], i + 1);
			if (mnl_attr_get_type(a) == WGPEER_A_ALLOWEDIPS) {
				const struct nlattr *ip;

				mnl_attr_for_each_nested(ip, a)
					n_ips++;
			}
		}
		if (i == 0) {
			assert_int_equal(flags, WGPEER_F_REPLACE_ALLOWEDIPS);
			assert_non_null(sin);
			assert_int_equal(sin->sin_family, AF_INET);
			assert_int_equal(ntohs(sin->sin_port), 51820);
			assert_int_equal(n_ips, 2);
		} else {
			assert_int_equal(flags, WGPEER_F_REMOVE_ME);
			assert_int_equal(n_ips, 0);
		}
		i++;
	}
	/* Read back by the dump parser, the values survive. */
	assert_int_equal(back.n_peers, 2);
	assert_int_equal(back.peers[0].persistent_keepalive, 25);
	assert_int_equal(back.peers[0].n_allowed_ips, 2);
	assert_int_equal(back.listen_port, 51820);
	free_msgs(msgs, n);
	wg_device_free(&back);
	wg_device_free(&d);
}

static void test_many_peers_split(void **state)
{
	struct wg_device d = { .name = "wg0" }, back;
	char *msgs[64];
	unsigned n, total = 0;
	struct seen s;

	(void)state;
	d.flags = WG_DEVICE_HAS_PRIVATE_KEY;
	set_key(&d.private_key, 1);
	for (unsigned i = 0; i < 300; i++)
		add_numbered_peer(&d, i, 2);
	n = build_all(&d, &back, msgs);
	assert_true(n > 1);
	for (unsigned i = 0; i < n; i++) {
		check_message((const struct nlmsghdr *)msgs[i], &s);
		assert_int_equal(s.private_key, i == 0); /* device fields once, first */
		total += s.n_peers;
	}
	assert_int_equal(total, 300); /* no peer split: each is whole in one message */
	assert_int_equal(back.n_peers, 300);
	for (unsigned i = 0; i < 300; i++) {
		assert_true(key_equal(&back.peers[i].public_key, &d.peers[i].public_key));
		assert_int_equal(back.peers[i].n_allowed_ips, 2);
		for (unsigned j = 0; j < 2; j++)
			assert_true(cidr_equal(&back.peers[i].allowed_ips[j], &d.peers[i].allowed_ips[j]));
	}
	print_message("300 peers: %u messages\n", n);
	free_msgs(msgs, n);
	wg_device_free(&back);
	wg_device_free(&d);
}

/* A peer that does not fit after the others moves whole to the next
 * message, so its REPLACE list is applied at once. */
static void test_peer_kept_whole(void **state)
{
	struct wg_device d = { .name = "wg0" }, back;
	struct wg_peer *big;
	char *msgs[64];
	unsigned n;
	struct seen s;

	(void)state;
	for (unsigned i = 0; i < 80; i++)
		add_numbered_peer(&d, i, 1);
	big = add_numbered_peer(&d, 999, 200);
	big->flags = WG_PEER_REPLACE_ALLOWED_IPS;
	n = build_all(&d, &back, msgs);
	assert_int_equal(n, 2);
	check_message((const struct nlmsghdr *)msgs[1], &s);
	assert_int_equal(s.n_peers, 1);
	assert_int_equal(back.n_peers, 81);
	assert_int_equal(back.peers[80].n_allowed_ips, 200);
	free_msgs(msgs, n);
	wg_device_free(&back);
	wg_device_free(&d);
}

/* A peer larger than a message is split; only its first part carries the
 * flags, and the parser merges the parts into one peer. */
static void test_huge_peer_split(void **state)
{
	struct wg_device d = { .name = "wg0" }, back;
	struct wg_peer *p;
	char *msgs[64];
	unsigned n;

	(void)state;
	p = add_numbered_peer(&d, 5, 1000);
	p->flags = WG_PEER_REPLACE_ALLOWED_IPS;
	n = build_all(&d, &back, msgs);
	assert_true(n >= 3);
	for (unsigned i = 0; i < n; i++) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)msgs[i];
		const struct nlattr *a, *peer, *pa;
		int flags_seen = 0;
		struct seen s;

		check_message(nlh, &s);
		assert_int_equal(s.n_peers, 1);
		mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
			if (mnl_attr_get_type(a) == WGDEVICE_A_PEERS)
				mnl_attr_for_each_nested(peer, a)
					mnl_attr_for_each_nested(pa, peer)
						flags_seen += mnl_attr_get_type(pa) == WGPEER_A_FLAGS;
		assert_int_equal(flags_seen, i == 0);
	}
	assert_int_equal(back.n_peers, 1);
	assert_int_equal(back.peers[0].n_allowed_ips, 1000);
	for (unsigned j = 0; j < 1000; j++)
		assert_true(cidr_equal(&back.peers[0].allowed_ips[j], &p->allowed_ips[j]));
	free_msgs(msgs, n);
	wg_device_free(&back);
	wg_device_free(&d);
}

static void test_buffer_too_small(void **state)
{
	struct wg_device d = { .name = "wg0" };
	struct wg_nl_cursor cur = { 0 };
	char buf[40];
	struct error err;

	(void)state;
	add_numbered_peer(&d, 1, 1);
	assert_non_null(wg_nl_build_set(&d, FAMILY, 1, buf, sizeof(buf), &cur, &err));
	assert_false(wg_nl_set_done(&d, &cur));
	assert_null(wg_nl_build_set(&d, FAMILY, 2, buf, sizeof(buf), &cur, &err));
	assert_non_null(strstr(err.msg, "does not fit"));
	wg_device_free(&d);
}

/* A reply as the kernel dumps it: device attributes, then peers with
 * read-only fields; the second message continues the last peer. */
static struct nlmsghdr *reply_start(char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));

	nlh->nlmsg_type = FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	genl->cmd = WG_CMD_GET_DEVICE;
	genl->version = WG_GENL_VERSION;
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0");
	return nlh;
}

static void put_reply_ip(struct nlmsghdr *nlh, int family, const void *addr, uint8_t mask)
{
	struct nlattr *ip = mnl_attr_nest_start(nlh, 0);

	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, (uint16_t)family);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, family == AF_INET ? 4 : 16, addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, mask);
	mnl_attr_nest_end(nlh, ip);
}

static void test_parse_kernel_dump(void **state)
{
	char buf1[1024], buf2[1024];
	struct wg_key priv, pub, peer_key;
	struct nlmsghdr *nlh;
	struct nlattr *peers, *peer, *ips;
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(4000) };
	int64_t hs[2] = { 1700000000, 5 };
	struct in_addr v4;
	struct in6_addr v6;
	struct wg_device d = { 0 };
	char b[CIDR_STRLEN];

	(void)state;
	set_key(&priv, 3);
	set_key(&pub, 4);
	set_key(&peer_key, 5);
	inet_pton(AF_INET6, "2001:db8::1", &sa6.sin6_addr);
	inet_pton(AF_INET, "10.1.2.0", &v4);
	inet_pton(AF_INET6, "fd00::", &v6);

	nlh = reply_start(buf1);
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, priv.bytes);
	mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, pub.bytes);
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, peer_key.bytes);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, (uint8_t[WG_KEY_LEN]){ 0 });
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sa6), &sa6);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(hs), hs);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1234);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 5678);
	mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_reply_ip(nlh, AF_INET, &v4, 24);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	assert_int_equal(wg_nl_parse_device(nlh, &d), MNL_CB_OK);

	nlh = reply_start(buf2); /* the same peer, more allowed IPs */
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, peer_key.bytes);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_reply_ip(nlh, AF_INET6, &v6, 64);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	assert_int_equal(wg_nl_parse_device(nlh, &d), MNL_CB_OK);

	assert_int_equal(d.flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT |
					  WG_DEVICE_HAS_FWMARK);
	assert_true(key_equal(&d.private_key, &priv));
	assert_true(key_equal(&d.public_key, &pub));
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.n_peers, 1);
	assert_true(key_equal(&d.peers[0].public_key, &peer_key));
	assert_int_equal(d.peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	assert_int_equal(d.peers[0].endpoint_ip.family, AF_INET6);
	assert_int_equal(d.peers[0].endpoint_port, 4000);
	assert_int_equal(d.peers[0].persistent_keepalive, 25);
	assert_int_equal(d.peers[0].last_handshake_sec, 1700000000);
	assert_int_equal(d.peers[0].rx_bytes, 1234);
	assert_int_equal(d.peers[0].tx_bytes, 5678);
	assert_int_equal(d.peers[0].n_allowed_ips, 2);
	assert_string_equal(cidr_format(&d.peers[0].allowed_ips[0], b), "10.1.2.0/24");
	assert_string_equal(cidr_format(&d.peers[0].allowed_ips[1], b), "fd00::/64");
	wg_device_free(&d);
}

/* Malformed replies are refused, not half-read (case 4: the well-formed
 * control). */
static void test_parse_kernel_dump_malformed(void **state)
{
	static const uint8_t addr[16];
	char buf[512];
	struct nlmsghdr *nlh;
	struct nlattr *peers, *peer, *ips, *ip;

	(void)state;
	for (int c = 0; c < 5; c++) {
		struct wg_device d = { 0 };
		struct wg_key k;

		set_key(&k, 1);
		nlh = reply_start(buf);
		if (c == 0)
			mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 16, k.bytes); /* short key */
		if (c == 1)
			mnl_attr_put_u32(nlh, WGDEVICE_A_LISTEN_PORT, 1); /* wrong width */
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		peer = mnl_attr_nest_start(nlh, 0);
		if (c != 2) /* a peer without its key */
			mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, k.bytes);
		ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
		ip = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
		mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, c == 3 ? 16 : 4, addr); /* v4 of 16 bytes */
		mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 8);
		mnl_attr_nest_end(nlh, ip);
		mnl_attr_nest_end(nlh, ips);
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, peers);
		assert_int_equal(wg_nl_parse_device(nlh, &d), c == 4 ? MNL_CB_OK : MNL_CB_ERROR);
		wg_device_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_many_peers_split),
		cmocka_unit_test(test_peer_kept_whole),
		cmocka_unit_test(test_huge_peer_split),
		cmocka_unit_test(test_buffer_too_small),
		cmocka_unit_test(test_parse_kernel_dump),
		cmocka_unit_test(test_parse_kernel_dump_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
