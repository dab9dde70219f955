// SPDX-License-Identifier: GPL-2.0-or-later
/* wg_device_diff: only what differs, peer by peer, never a traffic window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "wg.h"
#include "wg_internal.h"

/* A peer spec: key byte, allowed IPs ("a,b"), endpoint ("ip:port" or NULL),
 * keepalive, preshared key byte (0: none). */
struct spec {
	uint8_t key;
	const char *ips;
	const char *endpoint;
	uint16_t keepalive;
	uint8_t psk;
};

static void add_peer(struct wg_device *d, const struct spec *s)
{
	struct wg_peer *p = wg_device_add_peer(d);
	char ips[256];

	assert_non_null(p);
	memset(p->public_key.bytes, s->key, WG_KEY_LEN);
	snprintf(ips, sizeof(ips), "%s", s->ips);
	for (char *t = strtok(ips, ","); t; t = strtok(NULL, ",")) {
		struct cidr c;

		assert_int_equal(cidr_parse(t, &c), 0);
		assert_int_equal(wg_peer_add_allowed_ip(p, &c), 0);
	}
	if (s->endpoint) {
		char host[64];
		const char *colon = strrchr(s->endpoint, ':');

		const char *h = s->endpoint + (s->endpoint[0] == '[');
		int len = (int)(colon - h) - (s->endpoint[0] == '[');

		snprintf(host, sizeof(host), "%.*s", len, h);
		assert_int_equal(ip_parse(host, &p->endpoint_ip), 0);
		p->endpoint_port = (uint16_t)atoi(colon + 1);
		p->flags |= WG_PEER_HAS_ENDPOINT;
	}
	if (s->keepalive) {
		p->persistent_keepalive = s->keepalive;
		p->flags |= WG_PEER_HAS_KEEPALIVE;
	}
	if (s->psk) {
		memset(p->preshared_key.bytes, s->psk, WG_KEY_LEN);
		p->flags |= WG_PEER_HAS_PRESHARED_KEY;
	}
}

static void make_device(struct wg_device *d, const struct spec *specs, size_t n)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->name, "wg0");
	for (size_t i = 0; i < n; i++)
		add_peer(d, &specs[i]);
}

static const struct wg_peer *delta_peer(const struct wg_device *d, uint8_t key)
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (d->peers[i].public_key.bytes[0] == key)
			return &d->peers[i];
	return NULL;
}

static void assert_ips(const struct wg_peer *p, const char *want)
{
	char buf[512] = "", c[CIDR_STRLEN];

	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, cidr_format(&p->allowed_ips[i], c));
	}
	assert_string_equal(buf, want);
}

static const struct spec base[] = {
	{ 1, "10.1.0.0/24,10.4.0.1/32", "192.0.2.1:51820", 0, 0 },
	{ 2, "10.2.0.0/24", "192.0.2.2:51820", 25, 0 },
	{ 3, "10.3.0.0/24", NULL, 0, 7 },
};
#define N_BASE (sizeof(base) / sizeof(base[0]))

static void test_same_state_is_no_change(void **state)
{
	struct wg_device have, want, delta;

	(void)state;
	make_device(&have, base, N_BASE);
	make_device(&want, base, N_BASE);
	/* Order of peers and of allowed IPs does not matter, nor host bits. */
	struct wg_peer tmp = want.peers[0];
	want.peers[0] = want.peers[2];
	want.peers[2] = tmp;
	assert_int_equal(cidr_parse("10.4.0.1/32", &want.peers[2].allowed_ips[0]), 0);
	assert_int_equal(cidr_parse("10.1.0.77/24", &want.peers[2].allowed_ips[1]), 0);
	assert_int_equal(wg_device_diff(&have, &want, &delta), 0);
	assert_int_equal(delta.n_peers, 0);
	assert_int_equal(delta.flags, 0);
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
}

/* One row: have, want, and what the delta must say about one peer key. */
struct row {
	const char *name;
	struct spec have[3], want[3];
	int changes;
	uint8_t key;        /* the peer to check in the delta (0: none) */
	unsigned flags;     /* its expected flags */
	const char *ips;    /* its expected allowed IPs */
};

static const struct row rows[] = {
	{ "new peer: added whole, no replace",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.1.0.0/24", NULL, 0, 0 }, { 2, "10.2.0.0/24", "192.0.2.2:1", 25, 9 } },
	  1, 2, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE | WG_PEER_HAS_PRESHARED_KEY,
	  "10.2.0.0/24" },
	{ "gone peer: removed",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 }, { 2, "10.2.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  1, 2, WG_PEER_REMOVE, "" },
	{ "allowed IPs grow: only the new one, no replace",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.1.0.0/24,10.9.0.0/16", NULL, 0, 0 } },
	  1, 1, 0, "10.9.0.0/16" },
	{ "allowed IPs shrink: whole list with replace",
	  { { 1, "10.1.0.0/24,10.9.0.0/16,10.8.0.0/16", NULL, 0, 0 } },
	  { { 1, "10.9.0.0/16,10.1.0.0/24", NULL, 0, 0 } },
	  1, 1, WG_PEER_REPLACE_ALLOWED_IPS, "10.1.0.0/24,10.9.0.0/16" },
	{ "allowed IPs swapped: replace with the new list",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.7.0.0/24", NULL, 0, 0 } },
	  1, 1, WG_PEER_REPLACE_ALLOWED_IPS, "10.7.0.0/24" },
	{ "all allowed IPs dropped: replace with nothing",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  { { 1, "", NULL, 0, 0 } },
	  1, 1, WG_PEER_REPLACE_ALLOWED_IPS, "" },
	{ "endpoint moves: only the endpoint",
	  { { 1, "10.1.0.0/24", "192.0.2.1:51820", 0, 0 }, { 2, "10.2.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.1.0.0/24", "192.0.2.9:51820", 0, 0 }, { 2, "10.2.0.0/24", NULL, 0, 0 } },
	  1, 1, WG_PEER_HAS_ENDPOINT, "" },
	{ "endpoint port changes",
	  { { 1, "10.1.0.0/24", "[2001:db8::1]:51820", 0, 0 } },
	  { { 1, "10.1.0.0/24", "[2001:db8::1]:51821", 0, 0 } },
	  1, 1, WG_PEER_HAS_ENDPOINT, "" },
	{ "roaming peer: learned endpoint left alone",
	  { { 1, "10.1.0.0/24", "198.51.100.7:40000", 0, 0 } },
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  0, 0, 0, "" },
	{ "keepalive on",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.1.0.0/24", NULL, 25, 0 } },
	  1, 1, WG_PEER_HAS_KEEPALIVE, "" },
	{ "keepalive off",
	  { { 1, "10.1.0.0/24", NULL, 25, 0 } },
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  1, 1, WG_PEER_HAS_KEEPALIVE, "" },
	{ "preshared key dropped",
	  { { 1, "10.1.0.0/24", NULL, 0, 5 } },
	  { { 1, "10.1.0.0/24", NULL, 0, 0 } },
	  1, 1, WG_PEER_HAS_PRESHARED_KEY, "" },
	{ "one of three changes: the others are not in the delta",
	  { { 1, "10.1.0.0/24", NULL, 0, 0 }, { 2, "10.2.0.0/24", NULL, 0, 0 },
	    { 3, "10.3.0.0/24", NULL, 0, 0 } },
	  { { 1, "10.1.0.0/24", NULL, 0, 0 }, { 2, "10.2.0.0/24,10.22.0.0/24", NULL, 0, 0 },
	    { 3, "10.3.0.0/24", NULL, 0, 0 } },
	  1, 2, 0, "10.22.0.0/24" },
};

static size_t count_specs(const struct spec *s)
{
	size_t n = 0;

	while (n < 3 && s[n].key)
		n++;
	return n;
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct wg_device have, want, delta;
		const struct wg_peer *p;

		print_message("case: %s\n", r->name);
		make_device(&have, r->have, count_specs(r->have));
		make_device(&want, r->want, count_specs(r->want));
		assert_int_equal(wg_device_diff(&have, &want, &delta), r->changes);
		assert_int_equal(delta.n_peers, (size_t)r->changes);
		if (r->key) {
			p = delta_peer(&delta, r->key);
			assert_non_null(p);
			assert_int_equal(p->flags, r->flags);
			assert_ips(p, r->ips);
		}
		wg_device_free(&delta);
		wg_device_free(&have);
		wg_device_free(&want);
	}
}

static void test_changed_values_carried(void **state)
{
	static const struct spec h[] = { { 1, "10.1.0.0/24", "192.0.2.1:51820", 25, 5 } };
	static const struct spec w[] = { { 1, "10.1.0.0/24", "192.0.2.9:4000", 10, 6 } };
	struct wg_device have, want, delta;
	const struct wg_peer *p;
	char ip[INET6_ADDRSTRLEN];

	(void)state;
	make_device(&have, h, 1);
	make_device(&want, w, 1);
	assert_int_equal(wg_device_diff(&have, &want, &delta), 1);
	p = &delta.peers[0];
	assert_string_equal(ip_format(&p->endpoint_ip, ip), "192.0.2.9");
	assert_int_equal(p->endpoint_port, 4000);
	assert_int_equal(p->persistent_keepalive, 10);
	assert_int_equal(p->preshared_key.bytes[0], 6);
	assert_int_equal(p->n_allowed_ips, 0);
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
}

static void test_device_fields(void **state)
{
	struct wg_device have, want, delta;

	(void)state;
	make_device(&have, base, N_BASE);
	make_device(&want, base, N_BASE);
	have.flags = WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_PRIVATE_KEY;
	have.listen_port = 51820;
	memset(have.private_key.bytes, 0x11, WG_KEY_LEN);
	/* Fields want does not name are left alone. */
	assert_int_equal(wg_device_diff(&have, &want, &delta), 0);
	wg_device_free(&delta);
	want.flags = WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_PRIVATE_KEY;
	want.listen_port = 51820;
	want.private_key = have.private_key;
	assert_int_equal(wg_device_diff(&have, &want, &delta), 0);
	wg_device_free(&delta);
	want.private_key.bytes[3] = 0x22;
	want.listen_port = 51821;
	assert_int_equal(wg_device_diff(&have, &want, &delta), 1);
	assert_int_equal(delta.flags, WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_PRIVATE_KEY);
	assert_int_equal(delta.listen_port, 51821);
	assert_int_equal(delta.private_key.bytes[3], 0x22);
	assert_int_equal(delta.n_peers, 0);
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
}

/* Callers pair delta peers with their own list by walking both in order. */
static void test_delta_keeps_want_order_removals_last(void **state)
{
	static const struct spec h[] = {
		{ 1, "10.1.0.0/24", NULL, 0, 0 },
		{ 5, "10.5.0.0/24", NULL, 0, 0 },
		{ 3, "10.3.0.0/24", NULL, 0, 0 },
	};
	static const struct spec w[] = {
		{ 4, "10.4.0.0/24", "192.0.2.4:1", 0, 0 },
		{ 3, "10.3.0.0/24", "192.0.2.3:1", 0, 0 },
		{ 1, "10.1.0.0/24,10.11.0.0/24", NULL, 0, 0 },
	};
	static const uint8_t want_keys[] = { 4, 3, 1, 5 };
	struct wg_device have, want, delta;

	(void)state;
	make_device(&have, h, 3);
	make_device(&want, w, 3);
	assert_int_equal(wg_device_diff(&have, &want, &delta), 4);
	for (size_t i = 0; i < sizeof(want_keys); i++)
		assert_int_equal(delta.peers[i].public_key.bytes[0], want_keys[i]);
	assert_int_equal(delta.peers[3].flags, WG_PEER_REMOVE);
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
}

static void test_many_peers_one_change(void **state)
{
	struct wg_device have = { .name = "wg0" }, want = { .name = "wg0" }, delta;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		struct spec s = { 0, "10.0.0.0/32", NULL, 0, 0 };
		struct wg_peer *ph, *pw;

		add_peer(&have, &s);
		add_peer(&want, &s);
		ph = &have.peers[i];
		pw = &want.peers[i];
		ph->public_key.bytes[0] = pw->public_key.bytes[0] = (uint8_t)i;
		ph->public_key.bytes[1] = pw->public_key.bytes[1] = (uint8_t)(i >> 8);
		ph->allowed_ips[0].ip.bytes[3] = pw->allowed_ips[0].ip.bytes[3] = (uint8_t)i;
		ph->allowed_ips[0].ip.bytes[2] = pw->allowed_ips[0].ip.bytes[2] = (uint8_t)(i >> 8);
	}
	want.peers[1234].persistent_keepalive = 5;
	want.peers[1234].flags |= WG_PEER_HAS_KEEPALIVE;
	assert_int_equal(wg_device_diff(&have, &want, &delta), 1);
	assert_int_equal(delta.peers[0].public_key.bytes[0], (uint8_t)1234);
	assert_int_equal(delta.peers[0].public_key.bytes[1], (uint8_t)(1234 >> 8));
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_state_is_no_change),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_changed_values_carried),
		cmocka_unit_test(test_device_fields),
		cmocka_unit_test(test_delta_keeps_want_order_removals_last),
		cmocka_unit_test(test_many_peers_one_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
