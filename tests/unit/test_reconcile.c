// SPDX-License-Identifier: GPL-2.0-or-later
/* The agent's pure parts: plan -> WireGuard device, the annotation values
 * it publishes, and which underlay address it picks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../node-agent/detect.h"
#include "key.h"
#include "plan_device.h"
#include "../../node-agent/publish.h"

static struct cidr C(const char *s)
{
	struct cidr c;

	if (cidr_parse(s, &c) < 0)
		assert_int_equal(cidr_parse_host(s, &c), 0);
	return c;
}

static struct ip_addr IP(const char *s)
{
	struct ip_addr ip;

	assert_int_equal(ip_parse(s, &ip), 0);
	return ip;
}

static struct wg_key K(uint8_t b)
{
	struct wg_key k;

	memset(k.bytes, b, sizeof(k.bytes));
	return k;
}

/* ---- plan -> device ---- */

static struct cidr ips_a[2], ips_b[1], ips_c[3];
static struct plan_peer peers[3];

static void make_plan(struct plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	memset(peers, 0, sizeof(peers));
	ips_a[0] = C("10.4.0.2/32");
	ips_a[1] = C("10.244.2.0/24");
	ips_b[0] = C("10.244.3.0/24");
	ips_c[0] = C("10.5.0.0/16");
	ips_c[1] = C("fd00:5::/64");
	ips_c[2] = C("10.244.4.0/24");
	/* a: IP endpoint, keepalive; b: dials in; c: DNS endpoint, preshared key. */
	peers[0] = (struct plan_peer){ "location/a", K(1), { "192.0.2.1", 51820 }, 25, K(0), false, ips_a, 2 };
	peers[1] = (struct plan_peer){ "node/b", K(2), { "", 0 }, 0, K(0), false, ips_b, 1 };
	peers[2] = (struct plan_peer){ "peer/c", K(3), { "vpn.example.com", 4000 }, 0, K(9), true, ips_c, 3 };
	plan->peers = peers;
	plan->n_peers = 3;
}

/* The device for make_plan()'s plan with private key K(7), port 51820. */
static void build(const struct ip_addr endpoints[3], struct wg_device *dev)
{
	struct wg_key priv = K(7);
	struct plan plan;
	struct error err;

	make_plan(&plan);
	assert_int_equal(plan_device(&plan, "skein0", &priv, 51820, endpoints, dev, &err), 0);
}

static void test_plan_device_fields(void **state)
{
	struct ip_addr endpoints[3] = { IP("192.0.2.1"), { 0 }, IP("198.51.100.7") };
	struct wg_key priv = K(7);
	struct wg_device dev;

	(void)state;
	build(endpoints, &dev);
	assert_string_equal(dev.name, "skein0");
	assert_int_equal(dev.flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT);
	assert_true(key_equal(&dev.private_key, &priv));
	assert_int_equal(dev.listen_port, 51820);
	assert_int_equal(dev.n_peers, 3);

	assert_int_equal(dev.peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	assert_true(ip_equal(&dev.peers[0].endpoint_ip, &endpoints[0]));
	assert_int_equal(dev.peers[0].endpoint_port, 51820);
	assert_int_equal(dev.peers[0].persistent_keepalive, 25);
	assert_int_equal(dev.peers[0].n_allowed_ips, 2);
	assert_true(cidr_equal(&dev.peers[0].allowed_ips[1], &ips_a[1]));

	/* No endpoint: the device keeps what it learned from handshakes. */
	assert_int_equal(dev.peers[1].flags, 0);
	assert_int_equal(dev.peers[1].endpoint_ip.family, 0);

	assert_int_equal(dev.peers[2].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_PRESHARED_KEY);
	assert_true(ip_equal(&dev.peers[2].endpoint_ip, &endpoints[2]));
	assert_int_equal(dev.peers[2].endpoint_port, 4000);
	assert_true(key_equal(&dev.peers[2].preshared_key, &peers[2].preshared_key));
	assert_int_equal(dev.peers[2].n_allowed_ips, 3);
	assert_true(cidr_equal(&dev.peers[2].allowed_ips[1], &ips_c[1]));
	/* The plan's arrays are copied, not shared. */
	assert_ptr_not_equal(dev.peers[2].allowed_ips, ips_c);
	wg_device_free(&dev);
}

/* A name that did not resolve leaves the peer without endpoint. */
static void test_plan_device_unresolved_name(void **state)
{
	struct ip_addr endpoints[3] = { IP("192.0.2.1"), { 0 }, { 0 } };
	struct wg_device dev;

	(void)state;
	build(endpoints, &dev);
	assert_int_equal(dev.peers[2].flags, WG_PEER_HAS_PRESHARED_KEY);
	wg_device_free(&dev);
}

/* What the device reads back after the apply needs no further change; one
 * plan peer changing is one peer in the delta. */
static void test_plan_device_diff_round_trip(void **state)
{
	struct ip_addr endpoints[3] = { IP("192.0.2.1"), { 0 }, IP("198.51.100.7") };
	struct wg_key priv = K(7);
	struct wg_device have, want, delta;
	struct plan plan;
	struct error err;

	(void)state;
	make_plan(&plan);
	assert_int_equal(plan_device(&plan, "skein0", &priv, 51820, endpoints, &have, &err), 0);
	have.peers[1].flags |= WG_PEER_HAS_ENDPOINT; /* learned from a handshake */
	have.peers[1].endpoint_ip = IP("203.0.113.9");
	have.peers[1].endpoint_port = 3333;
	assert_int_equal(plan_device(&plan, "skein0", &priv, 51820, endpoints, &want, &err), 0);
	assert_int_equal(wg_device_diff(&have, &want, &delta), 0);
	wg_device_free(&want);

	ips_b[0] = C("10.244.9.0/24");
	assert_int_equal(plan_device(&plan, "skein0", &priv, 51820, endpoints, &want, &err), 0);
	assert_int_equal(wg_device_diff(&have, &want, &delta), 1);
	assert_true(key_equal(&delta.peers[0].public_key, &peers[1].public_key));
	assert_true(delta.peers[0].flags & WG_PEER_REPLACE_ALLOWED_IPS);
	wg_device_free(&delta);
	wg_device_free(&want);
	wg_device_free(&have);
}

static void test_resolve_ip_literals(void **state)
{
	struct ip_addr *ips, want = IP("192.0.2.1");
	struct plan plan;
	struct error err;

	(void)state;
	make_plan(&plan);
	plan.n_peers = 2; /* no DNS in unit tests */
	assert_int_equal(plan_resolve_endpoints(&plan, &ips, &err), 0);
	assert_true(ip_equal(&ips[0], &want));
	assert_int_equal(ips[1].family, 0);
	free(ips);
}

/* ---- annotations ---- */

/* A Node (digest shape): annotations and status addresses from JSON text. */
static json_t *node(const char *annotations, const char *addresses)
{
	char text[2048];
	json_t *n;

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"n1\",\"annotations\":%s},\"status\":{\"addresses\":%s}}",
		 annotations, addresses);
	n = json_loads(text, 0, NULL);
	assert_non_null(n);
	return n;
}

static const char *value_of(const struct annotations *a, const char *key, bool *present)
{
	for (size_t i = 0; i < a->n; i++) {
		if (!strcmp(a->keys[i], key)) {
			*present = true;
			return a->values[i];
		}
	}
	*present = false;
	return NULL;
}

static void assert_value(const struct annotations *a, const char *key, const char *want)
{
	bool present;
	const char *v = value_of(a, key, &present);

	assert_true(present);
	if (!want)
		assert_null(v);
	else
		assert_string_equal(v, want);
}

static void test_identity_table(void **state)
{
	static const struct {
		const char *annotations, *addresses, *detected;
		const char *internal, *endpoint;
	} rows[] = {
		/* force-endpoint wins over everything, DNS names included */
		{ "{\"skein.dev/force-endpoint\":\"vpn.example.com:4000\"}",
		  "[{\"type\":\"ExternalIP\",\"address\":\"203.0.113.5\"}]", "192.168.1.5/24",
		  "192.168.1.5/24", "vpn.example.com:4000" },
		/* Kilo's name for it works too */
		{ "{\"kilo.squat.ai/force-endpoint\":\"[2001:db8::1]:51000\"}", "[]", "192.168.1.5/24",
		  "192.168.1.5/24", "[2001:db8::1]:51000" },
		/* else the ExternalIP with the listen port */
		{ "{}", "[{\"type\":\"InternalIP\",\"address\":\"10.0.0.7\"},"
			"{\"type\":\"ExternalIP\",\"address\":\"203.0.113.5\"}]", "192.168.1.5/24",
		  "192.168.1.5/24", "203.0.113.5:51820" },
		{ "{}", "[{\"type\":\"ExternalIP\",\"address\":\"2001:db8::5\"}]", "",
		  NULL, "[2001:db8::5]:51820" },
		/* else the internal IP: detected, with its prefix */
		{ "{}", "[{\"type\":\"InternalIP\",\"address\":\"10.0.0.7\"}]", "192.168.1.5/24",
		  "192.168.1.5/24", "192.168.1.5:51820" },
		/* nothing detected: the Node's InternalIP as a host */
		{ "{}", "[{\"type\":\"InternalIP\",\"address\":\"10.0.0.7\"}]", "",
		  "10.0.0.7/32", "10.0.0.7:51820" },
		/* force-internal-ip wins over detection */
		{ "{\"skein.dev/force-internal-ip\":\"172.16.0.9/20\"}", "[]", "192.168.1.5/24",
		  "172.16.0.9/20", "172.16.0.9:51820" },
		/* nothing known: both removed */
		{ "{}", "[]", "", NULL, NULL },
	};
	struct wg_key pub = K(5);
	char pub_b64[WG_KEY_B64_LEN];

	(void)state;
	key_to_base64(&pub, pub_b64);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *n = node(rows[i].annotations, rows[i].addresses);
		struct cidr detected = { 0 };
		struct annotations a;
		struct error err;

		if (*rows[i].detected)
			detected = C(rows[i].detected);
		annotations_init(&a);
		assert_int_equal(annotations_identity(&a, n, &pub, 51820, &detected, &err), 0);
		assert_int_equal(a.n, 3);
		assert_value(&a, "skein.dev/public-key", pub_b64);
		assert_value(&a, "skein.dev/internal-ip", rows[i].internal);
		assert_value(&a, "skein.dev/endpoint", rows[i].endpoint);
		annotations_free(&a);
		json_decref(n);
	}
}

static void test_identity_bad_force_endpoint(void **state)
{
	json_t *n = node("{\"skein.dev/force-endpoint\":\"no port\"}", "[]");
	struct wg_key pub = K(5);
	struct cidr detected = { 0 };
	struct annotations a;
	struct error err;

	(void)state;
	annotations_init(&a);
	assert_int_equal(annotations_identity(&a, n, &pub, 51820, &detected, &err), -1);
	assert_non_null(strstr(err.msg, "force-endpoint"));
	assert_non_null(strstr(err.msg, "no port"));
	annotations_free(&a);
	json_decref(n);
}

static void test_wireguard_ip(void **state)
{
	struct cidr none = { 0 }, ip = C("10.4.0.9/16");
	struct annotations a;

	(void)state;
	annotations_init(&a);
	annotations_wireguard_ip(&a, &ip);
	annotations_wireguard_ip(&a, &none);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.keys[0], "skein.dev/wireguard-ip");
	assert_string_equal(a.values[0], "10.4.0.9/16");
	assert_null(a.values[1]); /* a node without tunnels removes it */
	annotations_free(&a);
}

static struct wg_peer seen(uint8_t key, const char *ip, uint16_t port, int64_t handshake)
{
	struct wg_peer p = { .public_key = K(key), .endpoint_port = port,
			     .last_handshake_sec = handshake };

	if (ip)
		p.endpoint_ip = IP(ip);
	return p;
}

static void test_discovered(void **state)
{
	const time_t now = 1700000000;
	struct node nodes[2] = { { .name = "a" }, { .name = "b" } };
	struct peer ext[1] = { { .name = "laptop" } };
	struct cluster c = { .nodes = nodes, .n_nodes = 2, .peers = ext, .n_peers = 1 };
	struct wg_peer dev_peers[6] = {
		seen(1, "203.0.113.1", 40000, now - 10),   /* NATed node a: published */
		seen(2, "203.0.113.2", 40001, now - 10),   /* b is not NATed */
		seen(3, "2001:db8::3", 40002, now - 5),    /* NATed external peer */
		seen(4, "203.0.113.4", 40003, now - 10),   /* nobody's key */
		seen(5, "203.0.113.5", 40004, now - 999),  /* NATed, session long dead */
		seen(6, NULL, 0, 0),                       /* NATed, never seen */
	};
	struct wg_device dev = { .peers = dev_peers, .n_peers = 6 };
	struct annotations a;
	struct error err;
	char want[512], k1[WG_KEY_B64_LEN], k3[WG_KEY_B64_LEN];

	(void)state;
	nodes[0].public_key = K(1), nodes[0].has_key = true, nodes[0].persistent_keepalive = 25;
	nodes[1].public_key = K(2), nodes[1].has_key = true;
	ext[0].public_key = K(3), ext[0].persistent_keepalive = 10;
	annotations_init(&a);
	assert_int_equal(annotations_discovered(&a, &c, &dev, now, &err), 0);
	snprintf(want, sizeof(want), "{\"%s\":\"203.0.113.1:40000\",\"%s\":\"[2001:db8::3]:40002\"}",
		 key_to_base64(&nodes[0].public_key, k1), key_to_base64(&ext[0].public_key, k3));
	assert_value(&a, "skein.dev/discovered-endpoints", want);
	annotations_free(&a);

	/* None live: the annotation is removed. */
	dev.n_peers = 2;
	annotations_init(&a);
	nodes[0].persistent_keepalive = 0;
	assert_int_equal(annotations_discovered(&a, &c, &dev, now, &err), 0);
	assert_value(&a, "skein.dev/discovered-endpoints", NULL);
	annotations_free(&a);
}

static void test_remove_all(void **state)
{
	static const char *const keys[] = { "skein.dev/public-key", "skein.dev/endpoint",
					    "skein.dev/internal-ip", "skein.dev/wireguard-ip",
					    "skein.dev/discovered-endpoints" };
	struct annotations a;

	(void)state;
	annotations_init(&a);
	annotations_remove_all(&a);
	assert_int_equal(a.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_value(&a, keys[i], NULL);
	annotations_free(&a);
}

/* ---- underlay address ---- */

static void test_pick_address(void **state)
{
	struct cidr addrs[3] = { C("fe80::1/64"), C("192.168.1.5/24"), C("10.0.0.7/8") };
	struct ip_addr none = { 0 }, prefer = IP("10.0.0.7"), src = IP("192.168.1.5");
	struct ip_addr absent = IP("172.16.0.1");

	(void)state;
	assert_ptr_equal(underlay_pick_address(addrs, 3, &prefer, &src), &addrs[2]);
	assert_ptr_equal(underlay_pick_address(addrs, 3, &absent, &src), &addrs[1]);
	assert_ptr_equal(underlay_pick_address(addrs, 3, &none, &none), &addrs[1]);
	assert_null(underlay_pick_address(addrs, 1, &none, &none)); /* link-local only */
	assert_null(underlay_pick_address(addrs, 0, &none, &none));
}

static void test_link_local(void **state)
{
	static const struct { const char *ip; bool link_local; } rows[] = {
		{ "fe80::1", true }, { "febf::1", true }, { "fec0::1", false }, { "2001:db8::1", false },
		{ "169.254.3.4", true }, { "169.253.3.4", false }, { "10.4.0.1", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ip_addr ip = IP(rows[i].ip);

		if (ip_is_link_local(&ip) != rows[i].link_local)
			fail_msg("%s", rows[i].ip);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_device_fields),
		cmocka_unit_test(test_plan_device_unresolved_name),
		cmocka_unit_test(test_plan_device_diff_round_trip),
		cmocka_unit_test(test_resolve_ip_literals),
		cmocka_unit_test(test_identity_table),
		cmocka_unit_test(test_identity_bad_force_endpoint),
		cmocka_unit_test(test_wireguard_ip),
		cmocka_unit_test(test_discovered),
		cmocka_unit_test(test_remove_all),
		cmocka_unit_test(test_pick_address),
		cmocka_unit_test(test_link_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
