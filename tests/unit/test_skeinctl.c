// SPDX-License-Identifier: GPL-2.0-or-later
/* skeinctl's pure parts: wg's wording, wg-quick text, JSON/YAML, DOT,
 * status lines and the view from outside the cluster. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../skeinctl/skeinctl.h"
#include "key.h"

/* Captures what fn writes. */
struct capture {
	char *text;
	size_t len;
	FILE *f;
};

static FILE *capture_start(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static char *capture_end(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	return c->text;
}

/* Every string of want[] is somewhere in text. */
static void assert_contains(const char *text, const char *const want[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strstr(text, want[i]))
			fail_msg("missing \"%s\" in:\n%s", want[i], text);
	}
}

static struct wg_key key_of(uint8_t b)
{
	struct wg_key k;

	memset(k.bytes, b, sizeof(k.bytes));
	return k;
}

static void test_format_duration(void **state)
{
	static const struct { unsigned long long secs; const char *want; } cases[] = {
		{ 0, "Now" },
		{ 1, "1 second" },
		{ 62, "1 minute, 2 seconds" },
		{ 3600, "1 hour" },
		{ 90061, "1 day, 1 hour, 1 minute, 1 second" },
		{ 2ULL * 365 * 86400 + 5, "2 years, 5 seconds" },
	};
	char buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(format_duration(cases[i].secs, buf, sizeof(buf)), cases[i].want);
}

static void test_format_bytes(void **state)
{
	static const struct { uint64_t bytes; const char *want; } cases[] = {
		{ 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1.00 KiB" }, { 1229, "1.20 KiB" },
		{ 3ULL << 20, "3.00 MiB" }, { 5ULL << 30, "5.00 GiB" }, { 5ULL << 50, "5120.00 TiB" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(format_bytes(cases[i].bytes, buf, sizeof(buf)), cases[i].want);
}

static struct plan_peer two_peers[2];
static struct cidr peer_ips[3];

static void make_peers(void)
{
	memset(two_peers, 0, sizeof(two_peers));
	assert_int_equal(cidr_parse("10.4.0.1/32", &peer_ips[0]), 0);
	assert_int_equal(cidr_parse("10.10.1.0/24", &peer_ips[1]), 0);
	assert_int_equal(cidr_parse("fd00::/64", &peer_ips[2]), 0);
	strcpy(two_peers[0].name, "location/aws");
	two_peers[0].public_key = key_of(1);
	strcpy(two_peers[0].endpoint.host, "203.0.113.1");
	two_peers[0].endpoint.port = 51820;
	two_peers[0].allowed_ips = peer_ips;
	two_peers[0].n_allowed_ips = 2;
	strcpy(two_peers[1].name, "peer/laptop");
	two_peers[1].public_key = key_of(2);
	two_peers[1].preshared_key = key_of(3);
	two_peers[1].has_preshared_key = true;
	two_peers[1].persistent_keepalive = 25;
	strcpy(two_peers[1].endpoint.host, "2001:db8::1");
	two_peers[1].endpoint.port = 1;
	two_peers[1].allowed_ips = &peer_ips[2];
	two_peers[1].n_allowed_ips = 1;
}

static void test_conf_wireguard(void **state)
{
	struct wg_key priv = key_of(4);
	struct conf conf = { .private_key = &priv, .listen_port = 51820, .peers = two_peers, .n_peers = 2 };
	char k[5][WG_KEY_B64_LEN], want[2048];
	struct capture c;

	(void)state;
	make_peers();
	assert_int_equal(cidr_parse("10.4.1.2/16", &conf.addresses[0]), 0);
	conf.n_addresses = 1;
	for (int i = 1; i <= 4; i++) {
		struct wg_key kk = key_of((uint8_t)i);

		key_to_base64(&kk, k[i]);
	}
	conf_write_wireguard(capture_start(&c), &conf);
	snprintf(want, sizeof(want),
		 "[Interface]\nPrivateKey = %s\nAddress = 10.4.1.2/16\nListenPort = 51820\n"
		 "\n[Peer]\n# location/aws\nPublicKey = %s\nAllowedIPs = 10.4.0.1/32, 10.10.1.0/24\n"
		 "Endpoint = 203.0.113.1:51820\n"
		 "\n[Peer]\n# peer/laptop\nPublicKey = %s\nPresharedKey = %s\nAllowedIPs = fd00::/64\n"
		 "Endpoint = [2001:db8::1]:1\nPersistentKeepalive = 25\n",
		 k[4], k[1], k[2], k[3]);
	assert_string_equal(capture_end(&c), want);
	free(c.text);

	/* A public node's private IP is its endpoint: routed into the tunnel by
	 * wg-quick it would loop, so it stays out of AllowedIPs. */
	assert_int_equal(cidr_parse("203.0.113.1/32", &peer_ips[1]), 0);
	conf.n_peers = 1;
	conf_write_wireguard(capture_start(&c), &conf);
	snprintf(want, sizeof(want),
		 "[Interface]\nPrivateKey = %s\nAddress = 10.4.1.2/16\nListenPort = 51820\n"
		 "\n[Peer]\n# location/aws\nPublicKey = %s\nAllowedIPs = 10.4.0.1/32\n"
		 "# not in AllowedIPs: 203.0.113.1/32 holds a peer's endpoint, reached directly\n"
		 "Endpoint = 203.0.113.1:51820\n",
		 k[4], k[1]);
	assert_string_equal(capture_end(&c), want);
	free(c.text);

	/* Without the key: a comment, so wg setconf still takes the text. */
	conf.private_key = NULL;
	conf.private_key_hint = "(in /var/lib/skein/private.key)";
	conf.n_peers = 0;
	conf.listen_port = 0;
	conf.n_addresses = 0;
	conf_write_wireguard(capture_start(&c), &conf);
	assert_string_equal(capture_end(&c), "[Interface]\n# PrivateKey = (in /var/lib/skein/private.key)\n");
	free(c.text);
}

static char *write_output(const json_t *v, enum output_format f)
{
	struct capture c;
	struct error err;

	assert_int_equal(output_write(capture_start(&c), v, f, &err), 0);
	return capture_end(&c);
}

static void test_yaml_quotes_what_would_change_type(void **state)
{
	static const char *const yaml_lines[] = {
		"plain: 10.4.0.0/16\n", "bool: \"true\"\n", "number: \"123\"\n", "empty: \"\"\n",
		"port: 51820\n", "flag: true\n", "list:\n- a\n- \"No\"\n", "nested:\n  k: v\n",
	};
	json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:[s,s],s:{}}", "plain", "10.4.0.0/16", "bool", "true",
			      "number", "123", "empty", "", "port", 51820, "flag", 1, "list", "a", "No",
			      "empty-map");
	char *text;

	(void)state;
	json_object_set_new(v, "nested", json_pack("{s:s}", "k", "v"));
	text = write_output(v, OUTPUT_YAML);
	assert_contains(text, yaml_lines, sizeof(yaml_lines) / sizeof(yaml_lines[0]));
	free(text);
	text = write_output(v, OUTPUT_JSON);
	assert_non_null(strstr(text, "\"bool\": \"true\""));
	free(text);
	json_decref(v);
}

static void test_output_format_parse(void **state)
{
	enum output_format f;

	(void)state;
	assert_int_equal(output_format_parse("yaml", &f), 0);
	assert_int_equal(f, OUTPUT_YAML);
	assert_int_equal(output_format_parse("wireguard", &f), 0);
	assert_int_equal(f, OUTPUT_WIREGUARD);
	assert_int_equal(output_format_parse("YAML", &f), -1);
	assert_int_equal(output_format_parse("", &f), -1);
}

static void test_peer_object(void **state)
{
	json_t *o, *want;
	char k[WG_KEY_B64_LEN];

	(void)state;
	make_peers();
	o = peer_object("aws", &two_peers[0]);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "Peer");
	assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "skein.dev/v1alpha1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), "aws");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "spec"), "publicKey")),
			    key_to_base64(&two_peers[0].public_key, k));
	want = json_pack("{s:s,s:i}", "ip", "203.0.113.1", "port", 51820);
	assert_true(json_equal(json_object_get(json_object_get(o, "spec"), "endpoint"), want));
	json_decref(want);
	assert_null(json_object_get(json_object_get(o, "spec"), "persistentKeepalive"));
	json_decref(o);
	strcpy(two_peers[0].endpoint.host, "vpn.example.com");
	o = peer_object("aws", &two_peers[0]);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(o, "spec"),
									      "endpoint"), "dns")),
			    "vpn.example.com");
	json_decref(o);
	o = peer_object("laptop", &two_peers[1]);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "spec"), "persistentKeepalive")), 25);
	assert_non_null(json_object_get(json_object_get(o, "spec"), "presharedKey"));
	json_decref(o);
}

static void test_status(void **state)
{
	struct wg_peer dp[3];
	struct wg_device dev = { .name = "skein0", .listen_port = 51820, .peers = dp, .n_peers = 3 };
	struct plan_peer pp[3];
	struct plan plan = { .peers = pp, .n_peers = 3 };
	struct capture c;
	char k[WG_KEY_B64_LEN], line[256];
	size_t stale;
	char *text;

	(void)state;
	memset(dp, 0, sizeof(dp));
	memset(pp, 0, sizeof(pp));
	make_peers();
	dev.public_key = key_of(9);
	/* Fresh (62 s), stale (181 s) and idle, and one the topology does not
	 * know. */
	dp[0].public_key = key_of(1);
	dp[0].last_handshake_sec = 1000 - 62;
	dp[0].rx_bytes = 1229;
	dp[0].tx_bytes = 3072;
	dp[0].endpoint_ip.family = AF_INET;
	assert_int_equal(ip_parse("203.0.113.1", &dp[0].endpoint_ip), 0);
	dp[0].endpoint_port = 51820;
	dp[0].allowed_ips = peer_ips;
	dp[0].n_allowed_ips = 2;
	dp[0].persistent_keepalive = 25;
	dp[1].public_key = key_of(2);
	dp[1].last_handshake_sec = 1000 - 181;
	assert_int_equal(ip_parse("198.51.100.7", &dp[1].endpoint_ip), 0);
	dp[1].endpoint_port = 51820;
	dp[2].public_key = key_of(7);
	pp[0] = two_peers[0];
	pp[1] = two_peers[1];
	strcpy(pp[2].name, "node/gone");
	pp[2].public_key = key_of(8);
	stale = status_write(capture_start(&c), &dev, &plan, 1000, 180, true);
	text = capture_end(&c);
	assert_int_equal(stale, 2);
	assert_non_null(strstr(text, "interface: skein0\n  public key: "));
	assert_non_null(strstr(text, "  private key: (hidden)\n  listening port: 51820\n"));
	snprintf(line, sizeof(line), "\npeer: %s (location/aws)\n  endpoint: 203.0.113.1:51820\n"
		 "  allowed ips: 10.4.0.1/32, 10.10.1.0/24\n  latest handshake: 1 minute, 2 seconds ago\n"
		 "  transfer: 1.20 KiB received, 3.00 KiB sent\n  persistent keepalive: every 25 seconds\n",
		 key_to_base64(&dp[0].public_key, k));
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "(peer/laptop)\n  endpoint: 198.51.100.7:51820\n  allowed ips: (none)\n"
				     "  latest handshake: 3 minutes, 1 second ago\n"));
	assert_non_null(strstr(text, "(node/gone)\n  missing from the device\n"));
	assert_non_null(strstr(text, "(not in the topology)\n"));
	assert_non_null(strstr(text, "2 of 3 peers the topology expects had no handshake in the last 180 seconds\n"
				     "1 of them may just be idle (WireGuard handshakes only when it has traffic "
				     "to send): `skeinctl status --probe` starts their handshakes\n"));
	free(text);
	/* Nothing expected: healthy whatever the device holds. */
	plan.n_peers = 0;
	assert_int_equal(status_write(capture_start(&c), &dev, &plan, 1000, 180, true), 0);
	free(capture_end(&c));
}

/* Whether status_write suggests --probe for one stale peer in this state. */
static bool hints_probe(int64_t last_handshake, uint64_t tx, const char *endpoint, bool hint_probe)
{
	struct wg_peer dp = { .public_key = key_of(1), .last_handshake_sec = last_handshake, .tx_bytes = tx };
	struct wg_device dev = { .name = "skein0", .peers = &dp, .n_peers = 1 };
	struct plan_peer pp = { .name = "node/b", .public_key = key_of(1) };
	struct plan plan = { .peers = &pp, .n_peers = 1 };
	struct capture c;
	char *text;
	bool hint;

	if (endpoint)
		assert_int_equal(ip_parse(endpoint, &dp.endpoint_ip), 0);
	assert_int_equal(status_write(capture_start(&c), &dev, &plan, 1000, 180, hint_probe), 1);
	text = capture_end(&c);
	hint = strstr(text, "1 of them may just be idle") && strstr(text, "skeinctl status --probe");
	free(text);
	return hint;
}

static void test_status_hints_probe_for_idle_peers(void **state)
{
	(void)state;
	assert_true(hints_probe(0, 0, "192.0.2.1", true));         /* never sent anything */
	assert_true(hints_probe(1000 - 600, 4096, "192.0.2.1", true)); /* a handshake, none lately */
	assert_false(hints_probe(0, 148, "192.0.2.1", true));      /* tried, never answered */
	assert_false(hints_probe(0, 0, NULL, true));               /* dials in: nothing to probe */
	assert_false(hints_probe(0, 0, "192.0.2.1", false));       /* --probe was given */
}

/* Two locations of two nodes, one external peer. */
static void make_cluster(struct cluster *c)
{
	static const struct { const char *name, *loc, *pod, *ip; } nodes[] = {
		{ "a1", "aws", "10.10.1.0/24", "192.168.1.1/24" },
		{ "a2", "aws", "10.10.2.0/24", "192.168.1.2/24" },
		{ "g1", "gcp", "10.10.3.0/24", "192.168.2.1/24" },
		{ "g2", "gcp", "10.10.4.0/24", "192.168.2.2/24" },
	};
	*c = (struct cluster){ 0 };
	c->n_nodes = 4;
	c->nodes = calloc(4, sizeof(*c->nodes));
	c->n_peers = 1;
	c->peers = calloc(1, sizeof(*c->peers));
	assert_non_null(c->nodes);
	assert_non_null(c->peers);
	for (size_t i = 0; i < 4; i++) {
		struct node *n = &c->nodes[i];

		strcpy(n->name, nodes[i].name);
		strcpy(n->location, nodes[i].loc);
		assert_int_equal(cidr_parse(nodes[i].pod, &n->pod_cidrs[0]), 0);
		n->n_pod_cidrs = 1;
		assert_int_equal(cidr_parse(nodes[i].ip, &n->internal_ip), 0);
		n->has_internal_ip = true;
		snprintf(n->endpoint.host, sizeof(n->endpoint.host), "%.*s", (int)strcspn(nodes[i].ip, "/"),
			 nodes[i].ip);
		n->endpoint.port = 51820;
		n->public_key = key_of((uint8_t)(10 + i));
		n->has_key = true;
		n->ready = true;
	}
	strcpy(c->peers[0].name, "laptop");
	c->peers[0].public_key = key_of(20);
	c->peers[0].preshared_key = key_of(21);
	c->peers[0].has_preshared_key = true;
	assert_int_equal(cidr_parse("10.5.0.1/32", &c->peers[0].allowed_ips[0]), 0);
	c->peers[0].n_allowed_ips = 1;
}

static const struct plan_peer *find_peer(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_peers; i++)
		if (!strcmp(p->peers[i].name, name))
			return &p->peers[i];
	return NULL;
}

static void test_outside_view(void **state)
{
	struct topology_options opts;
	struct cluster c;
	struct plan outside, a1;
	const struct plan_peer *aws, *gcp, *from_a1;
	struct error err;

	(void)state;
	make_cluster(&c);
	assert_int_equal(topology_options_default(&opts), 0);
	assert_int_equal(topology_outside(&c, &c.peers[0], &opts, &outside, &err), 0);
	assert_int_equal(topology_compute(&c, "a1", &opts, &a1, &err), 0);
	/* One peer per location, none for the peer itself. */
	assert_int_equal(outside.n_peers, 2);
	aws = find_peer(&outside, "location/aws");
	gcp = find_peer(&outside, "location/gcp");
	assert_non_null(aws);
	assert_non_null(gcp);
	assert_true(key_equal(&aws->public_key, &c.nodes[0].public_key));
	assert_string_equal(aws->endpoint.host, "192.168.1.1");
	/* The peer's preshared key is on every cluster peer. */
	assert_true(aws->has_preshared_key && key_equal(&aws->preshared_key, &c.peers[0].preshared_key));
	/* gcp's AllowedIPs are exactly what aws's leader gives it. */
	from_a1 = find_peer(&a1, "location/gcp");
	assert_non_null(from_a1);
	assert_int_equal(gcp->n_allowed_ips, from_a1->n_allowed_ips);
	for (size_t i = 0; i < gcp->n_allowed_ips; i++)
		assert_true(cidr_equal(&gcp->allowed_ips[i], &from_a1->allowed_ips[i]));
	/* The node that leads carries its location; one that does not is told who does. */
	assert_ptr_equal(outside_peer_of_node(&c, &outside, "g1", &err), gcp);
	assert_null(outside_peer_of_node(&c, &outside, "g2", &err));
	assert_non_null(strstr(err.msg, "node g2 holds no tunnels: g1 leads location/gcp"));
	assert_null(outside_peer_of_node(&c, &outside, "nosuch", &err));
	assert_string_equal(err.msg, "node nosuch: not found");
	plan_free(&outside);
	plan_free(&a1);
	/* Without a Peer (for --as-peer): the same leaders. */
	assert_int_equal(topology_outside(&c, NULL, &opts, &outside, &err), 0);
	assert_non_null(find_peer(&outside, "location/aws"));
	assert_non_null(find_peer(&outside, "peer/laptop"));
	plan_free(&outside);
	cluster_free(&c);
}

/* A NATed leader's endpoint, as another node discovered it, reaches the
 * outside view: the model's copy keeps the discovered endpoints its nodes
 * index (it once kept the indices without the array and crashed). */
static void test_outside_view_discovered(void **state)
{
	struct topology_options opts;
	struct cluster c;
	struct plan outside;
	const struct plan_peer *gcp;
	struct error err;

	(void)state;
	make_cluster(&c);
	c.nodes[2].persistent_keepalive = 25;
	c.discovered = calloc(1, sizeof(*c.discovered));
	assert_non_null(c.discovered);
	c.discovered[0].key = c.nodes[2].public_key;
	strcpy(c.discovered[0].endpoint.host, "203.0.113.7");
	c.discovered[0].endpoint.port = 40000;
	c.n_discovered = 1;
	c.nodes[0].first_discovered = 0;
	c.nodes[0].n_discovered = 1;
	assert_int_equal(topology_options_default(&opts), 0);
	assert_int_equal(topology_outside(&c, &c.peers[0], &opts, &outside, &err), 0);
	gcp = find_peer(&outside, "location/gcp");
	assert_non_null(gcp);
	assert_string_equal(gcp->endpoint.host, "203.0.113.7");
	assert_int_equal(gcp->endpoint.port, 40000);
	plan_free(&outside);
	cluster_free(&c);
}

/* A Peer announcing an office LAN wider than any pod CIDR may be, and more
 * ranges than a node has pod CIDRs, still gets its view from outside. */
static void test_outside_view_wide_peer(void **state)
{
	static const char *const ranges[] = { "172.16.0.0/12", "10.128.0.0/9", "10.5.0.1/32" };
	struct topology_options opts;
	struct cluster c;
	struct plan outside;
	struct error err;

	(void)state;
	make_cluster(&c);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(cidr_parse(ranges[i], &c.peers[0].allowed_ips[i]), 0);
	c.peers[0].n_allowed_ips = 3;
	assert_int_equal(topology_options_default(&opts), 0);
	assert_int_equal(topology_outside(&c, &c.peers[0], &opts, &outside, &err), 0);
	assert_non_null(find_peer(&outside, "location/aws"));
	assert_non_null(find_peer(&outside, "location/gcp"));
	plan_free(&outside);
	cluster_free(&c);
}

static void test_graph(void **state)
{
	static const char *const graph_lines[] = {
		"  subgraph \"cluster_location/aws\" {\n    label=\"location/aws\";\n",
		"\"node/a1\" [label=\"a1\\n(leader)\\nwg 10.4.",
		", style=bold, peripheries=2];\n",
		"\"node/a2\" [label=\"a2\\n10.10.2.0/24\\n192.168.1.2:51820\"];\n",
		"\\nNotReady\", style=dashed];\n",
		"\"peer/laptop\" [shape=ellipse, label=\"laptop\\n10.5.0.1/32\"];\n",
		"  \"node/a1\" -- \"node/g1\";\n",
		"  \"node/g1\" -- \"peer/laptop\";\n",
	};
	static const char *const cross_edges[] = {
		"  \"node/a1\" -- \"node/g1\";\n", "  \"node/a2\" -- \"node/g1\";\n",
		"  \"node/a2\" -- \"peer/laptop\";\n", "label=\"skein: cross granularity\"",
	};
	struct topology_options opts;
	struct cluster c;
	struct capture cap;
	struct error err;
	char *text;

	(void)state;
	make_cluster(&c);
	c.nodes[3].ready = false;
	assert_int_equal(topology_options_default(&opts), 0);
	assert_int_equal(graph_write(capture_start(&cap), &c, &opts, &err), 0);
	text = capture_end(&cap);
	assert_true(!strncmp(text, "graph skein {\n  label=\"skein: location granularity\";\n", 52));
	assert_contains(text, graph_lines, sizeof(graph_lines) / sizeof(graph_lines[0]));
	/* Each tunnel once, though both leaders list it. */
	assert_null(strstr(text, "\"node/g1\" -- \"node/a1\""));
	assert_null(strstr(text, "\"node/a2\" --"));
	assert_string_equal(text + strlen(text) - 2, "}\n");
	free(text);
	/* cross: every usable node to every usable node of the other locations. */
	opts.granularity = GRANULARITY_CROSS;
	assert_int_equal(graph_write(capture_start(&cap), &c, &opts, &err), 0);
	text = capture_end(&cap);
	assert_contains(text, cross_edges, sizeof(cross_edges) / sizeof(cross_edges[0]));
	assert_null(strstr(text, "\"node/a1\" -- \"node/a2\""));
	assert_null(strstr(text, "-- \"node/g2\""));
	free(text);
	cluster_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_bytes),
		cmocka_unit_test(test_conf_wireguard),
		cmocka_unit_test(test_yaml_quotes_what_would_change_type),
		cmocka_unit_test(test_output_format_parse),
		cmocka_unit_test(test_peer_object),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_hints_probe_for_idle_peers),
		cmocka_unit_test(test_outside_view),
		cmocka_unit_test(test_outside_view_discovered),
		cmocka_unit_test(test_outside_view_wide_peer),
		cmocka_unit_test(test_graph),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
