// SPDX-License-Identifier: GPL-2.0-or-later
/* The UAPI text protocol: the set we write and the get replies we read. */
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

#define HEX_A "0101010101010101010101010101010101010101010101010101010101010101"
#define HEX_B "0202020202020202020202020202020202020202020202020202020202020202"
#define HEX_0 "0000000000000000000000000000000000000000000000000000000000000000"
#define HEX_PRIV "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"

static const char reply[] =
	"private_key=" HEX_PRIV "\n"
	"listen_port=51820\n"
	"fwmark=0\n"
	"public_key=" HEX_A "\n"
	"preshared_key=" HEX_0 "\n"
	"protocol_version=1\n"
	"endpoint=192.0.2.1:51820\n"
	"last_handshake_time_sec=1700000000\n"
	"last_handshake_time_nsec=5\n"
	"tx_bytes=100\n"
	"rx_bytes=200\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=10.1.0.0/24\n"
	"allowed_ip=fd00::/64\n"
	"public_key=" HEX_B "\n"
	"preshared_key=" HEX_A "\n"
	"endpoint=[2001:db8::1%3]:4000\n"
	"persistent_keepalive_interval=0\n"
	"some_future_key=whatever\n"
	"errno=0\n"
	"\n";

static void check_reply_device(const struct wg_device *d)
{
	char b[CIDR_STRLEN];
	struct wg_key priv;
	struct wg_key pub;

	assert_int_equal(d->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT |
					   WG_DEVICE_HAS_FWMARK);
	assert_int_equal(d->listen_port, 51820);
	memcpy(&priv, &d->private_key, sizeof(priv));
	assert_int_equal(key_public(&priv, &pub), 0);
	assert_true(key_equal(&pub, &d->public_key));
	assert_int_equal(d->n_peers, 2);
	assert_int_equal(d->peers[0].public_key.bytes[0], 1);
	assert_int_equal(d->peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	assert_int_equal(d->peers[0].endpoint_port, 51820);
	assert_int_equal(d->peers[0].persistent_keepalive, 25);
	assert_int_equal(d->peers[0].last_handshake_sec, 1700000000);
	assert_int_equal(d->peers[0].rx_bytes, 200);
	assert_int_equal(d->peers[0].tx_bytes, 100);
	assert_int_equal(d->peers[0].n_allowed_ips, 2);
	assert_string_equal(cidr_format(&d->peers[0].allowed_ips[1], b), "fd00::/64");
	assert_int_equal(d->peers[1].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_PRESHARED_KEY);
	assert_int_equal(d->peers[1].endpoint_ip.family, AF_INET6);
	assert_int_equal(d->peers[1].endpoint_port, 4000);
	assert_int_equal(d->peers[1].n_allowed_ips, 0);
}

/* Every split of the reply into two chunks, and byte by byte. */
static void test_parse_any_chunking(void **state)
{
	size_t len = strlen(reply);

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct wg_device d = { 0 };
		struct wg_uapi_parser p;
		struct error err;

		wg_uapi_parser_init(&p, &d);
		assert_int_equal(wg_uapi_parser_feed(&p, reply, cut, &err), 0);
		assert_int_equal(p.done, cut == len);
		assert_int_equal(wg_uapi_parser_feed(&p, reply + cut, len - cut, &err), 0);
		assert_true(p.done);
		assert_int_equal(p.errno_value, 0);
		check_reply_device(&d);
		wg_device_free(&d);
	}
	struct wg_device d = { 0 };
	struct wg_uapi_parser p;
	struct error err;

	wg_uapi_parser_init(&p, &d);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(wg_uapi_parser_feed(&p, reply + i, 1, &err), 0);
	check_reply_device(&d);
	wg_device_free(&d);
}

static void test_parse_errors(void **state)
{
	static const struct { const char *in, *msg; } bad[] = {
		{ "no equals sign\n", "is not key=value" },
		{ "=value\n", "is not key=value" },
		{ "private_key=abc\n", "bad private_key" },
		{ "public_key=" HEX_A "\nallowed_ip=10.0.0.0\n", "bad allowed_ip" },
		{ "public_key=" HEX_A "\nendpoint=192.0.2.1\n", "bad endpoint" },
		{ "public_key=" HEX_A "\nendpoint=192.0.2.1:70000\n", "bad endpoint" },
		{ "public_key=" HEX_A "\npersistent_keepalive_interval=-1\n",
		  "bad persistent_keepalive_interval" },
		{ "public_key=" HEX_A "\nrx_bytes=12x\n", "bad rx_bytes" },
		{ "listen_port=65536\n", "bad listen_port" },
		{ "public_key=zz" HEX_A "\n", "bad public_key" },
		{ "errno=0\n\nerrno=0\n", "data after the end" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wg_device d = { 0 };
		struct wg_uapi_parser p;
		struct error err = { { 0 } };

		wg_uapi_parser_init(&p, &d);
		assert_int_equal(wg_uapi_parser_feed(&p, bad[i].in, strlen(bad[i].in), &err), -1);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("input %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
		wg_device_free(&d);
	}
}

static void test_parse_long_line(void **state)
{
	char line[WG_UAPI_LINE_MAX + 10];
	struct wg_device d = { 0 };
	struct wg_uapi_parser p;
	struct error err;

	(void)state;
	memset(line, 'a', sizeof(line));
	wg_uapi_parser_init(&p, &d);
	assert_int_equal(wg_uapi_parser_feed(&p, line, sizeof(line), &err), -1);
	assert_non_null(strstr(err.msg, "line longer"));
}

static void test_parse_errno(void **state)
{
	static const char in[] = "errno=22\n\n";
	struct wg_device d = { 0 };
	struct wg_uapi_parser p;
	struct error err;

	(void)state;
	wg_uapi_parser_init(&p, &d);
	assert_int_equal(wg_uapi_parser_feed(&p, in, strlen(in), &err), 0);
	assert_true(p.done);
	assert_int_equal(p.errno_value, 22);
}

static void test_format_set(void **state)
{
	struct wg_peer peers[3] = { 0 };
	struct cidr ips[2];
	struct wg_device d = { .name = "wg0", .peers = peers, .n_peers = 3 };
	char *out = NULL;
	size_t len = 0;
	struct error err;

	(void)state;
	d.flags = WG_DEVICE_HAS_LISTEN_PORT;
	d.listen_port = 51820;
	memset(peers[0].public_key.bytes, 1, WG_KEY_LEN);
	peers[0].flags = WG_PEER_REMOVE;
	memset(peers[1].public_key.bytes, 2, WG_KEY_LEN);
	peers[1].flags = WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
	assert_int_equal(ip_parse("2001:db8::1", &peers[1].endpoint_ip), 0);
	peers[1].endpoint_port = 4000;
	peers[1].persistent_keepalive = 0;
	assert_int_equal(cidr_parse("10.1.0.9/24", &ips[0]), 0);
	assert_int_equal(cidr_parse("fd00::/64", &ips[1]), 0);
	peers[1].allowed_ips = ips;
	peers[1].n_allowed_ips = 2;
	memset(peers[2].public_key.bytes, 1, WG_KEY_LEN);
	peers[2].flags = WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT;
	assert_int_equal(ip_parse("192.0.2.1", &peers[2].endpoint_ip), 0);
	peers[2].endpoint_port = 51820;
	assert_int_equal(wg_uapi_format_set(&d, &out, &len, &err), 0);
	assert_string_equal(out, "set=1\n"
				 "listen_port=51820\n"
				 "public_key=" HEX_A "\n"
				 "remove=true\n"
				 "public_key=" HEX_B "\n"
				 "endpoint=[2001:db8::1]:4000\n"
				 "persistent_keepalive_interval=0\n"
				 "replace_allowed_ips=true\n"
				 "allowed_ip=10.1.0.0/24\n"
				 "allowed_ip=fd00::/64\n"
				 "public_key=" HEX_A "\n"
				 "preshared_key=" HEX_0 "\n"
				 "endpoint=192.0.2.1:51820\n"
				 "\n");
	assert_int_equal(len, strlen(out));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_any_chunking),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_long_line),
		cmocka_unit_test(test_parse_errno),
		cmocka_unit_test(test_format_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
