// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table tests of the topology: small clusters built in code, the plan of
 * one node rendered as text (peers and routes, one per line) and compared
 * with what a reader expects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_stderr.h"
#include "topology.h"

#define MAX_NODES 24

struct fixture {
	struct node nodes[MAX_NODES];
	struct peer peers[4];
	struct discovered_endpoint discovered[4];
	struct cluster c;
	struct topology_options o;
	struct plan plan;
	char text[16384];
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->c.nodes = f->nodes;
	f->c.peers = f->peers;
	f->c.discovered = f->discovered;
	assert_int_equal(topology_options_default(&f->o), 0);
	snprintf(f->o.underlay_ifname, sizeof(f->o.underlay_ifname), "eth0");
	return f;
}

static void fixture_free(struct fixture *f)
{
	plan_free(&f->plan);
	free(f);
}

static struct cidr cidr_of(const char *s)
{
	struct cidr c;

	assert_int_equal(cidr_parse_host(s, &c), 0);
	return c;
}

/* A Ready, usable node: key from its name, endpoint = its private IP. Names
 * must be added in order (the model is sorted by name). */
static struct node *add_node(struct fixture *f, const char *name, const char *location,
			     const char *pod_cidr, const char *private_ip)
{
	struct node *n = &f->nodes[f->c.n_nodes];

	assert_true(f->c.n_nodes < MAX_NODES);
	assert_true(f->c.n_nodes == 0 || strcmp(f->nodes[f->c.n_nodes - 1].name, name) < 0);
	f->c.n_nodes++;
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->location, sizeof(n->location), "%s", location);
	n->pod_cidrs[n->n_pod_cidrs++] = cidr_of(pod_cidr);
	if (private_ip) {
		n->internal_ip = cidr_of(private_ip);
		n->has_internal_ip = true;
		snprintf(n->endpoint.host, sizeof(n->endpoint.host), "%s", private_ip);
		*strchr(n->endpoint.host, '/') = '\0';
	} else {
		snprintf(n->endpoint.host, sizeof(n->endpoint.host), "%s.example", name);
	}
	n->endpoint.port = 51820;
	strncpy((char *)n->public_key.bytes, name, WG_KEY_LEN);
	n->public_key.bytes[WG_KEY_LEN - 1] = 1;
	n->has_key = true;
	n->ready = true;
	return n;
}

static struct peer *add_peer(struct fixture *f, const char *name, const char *ip)
{
	struct peer *p = &f->peers[f->c.n_peers++];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	strncpy((char *)p->public_key.bytes, name, WG_KEY_LEN);
	p->allowed_ips[p->n_allowed_ips++] = cidr_of(ip);
	return p;
}

static void public_endpoint(struct node *n, const char *host)
{
	snprintf(n->endpoint.host, sizeof(n->endpoint.host), "%s", host);
	n->has_public_endpoint = true;
}

static void compute(struct fixture *f, const char *self)
{
	struct error err = { "" };

	plan_free(&f->plan);
	if (topology_compute(&f->c, self, &f->o, &f->plan, &err) < 0)
		fail_msg("topology_compute(%s): %s", self, err.msg);
}

static void append(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct fixture *f, const char *fmt, ...)
{
	size_t len = strlen(f->text);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->text + len, sizeof(f->text) - len, fmt, ap);
	va_end(ap);
}

/* "name endpoint [ka N] allowed a,b\n" per peer. */
static const char *peers_text(struct fixture *f)
{
	char buf[CIDR_STRLEN];

	f->text[0] = '\0';
	for (size_t i = 0; i < f->plan.n_peers; i++) {
		const struct plan_peer *p = &f->plan.peers[i];

		append(f, "%s %s:%u", p->name, p->endpoint.host[0] ? p->endpoint.host : "-",
		       p->endpoint.port);
		if (p->persistent_keepalive)
			append(f, " ka %d", p->persistent_keepalive);
		append(f, " allowed");
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			append(f, "%c%s", j ? ',' : ' ', cidr_format(&p->allowed_ips[j], buf));
		append(f, "\n");
	}
	return f->text;
}

/* route_format lines without the constant " table 1107". */
static const char *routes_text(struct fixture *f)
{
	char buf[256], *table;

	f->text[0] = '\0';
	for (size_t i = 0; i < f->plan.n_routes; i++) {
		assert_int_equal(f->plan.routes[i].table, SKEIN_ROUTE_TABLE);
		route_format(&f->plan.routes[i], buf, sizeof(buf));
		table = strstr(buf, " table 1107");
		assert_non_null(table);
		memmove(table, table + strlen(" table 1107"), strlen(table + strlen(" table 1107")) + 1);
		append(f, "%s\n", buf);
	}
	return f->text;
}

static const char *cidrs_text(struct fixture *f, const struct cidr *c, size_t n)
{
	char buf[CIDR_STRLEN];

	f->text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		append(f, "%s%s", i ? " " : "", cidr_format(&c[i], buf));
	return f->text;
}

static const char *rejections_text(struct fixture *f)
{
	f->text[0] = '\0';
	for (size_t i = 0; i < f->plan.n_rejections; i++)
		append(f, "%s\n", f->plan.rejections[i].msg);
	return f->text;
}

/* Two locations of two nodes each: a1, a2 in aws (192.168.1.0/24), b1, b2
 * in gcp (10.0.0.0/24), all with public endpoints 198.51.100.1-4. Leaders
 * by name: a1 and b1. */
static struct fixture *two_locations(void)
{
	struct fixture *f = fixture_new();

	public_endpoint(add_node(f, "a1", "aws", "10.244.1.0/24", "192.168.1.11/24"), "198.51.100.1");
	public_endpoint(add_node(f, "a2", "aws", "10.244.2.0/24", "192.168.1.12/24"), "198.51.100.2");
	public_endpoint(add_node(f, "b1", "gcp", "10.244.3.0/24", "10.0.0.21/24"), "198.51.100.3");
	public_endpoint(add_node(f, "b2", "gcp", "10.244.4.0/24", "10.0.0.22/24"), "198.51.100.4");
	return f;
}

static void test_two_locations_leader(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	compute(f, "a1");
	assert_true(f->plan.is_leader);
	assert_int_equal(f->plan.n_segments, 2);
	assert_string_equal(f->plan.segments[0].name, "location/aws");
	assert_string_equal(f->plan.segments[1].name, "location/gcp");
	assert_int_equal(f->plan.segments[1].leader, 2);
	assert_int_equal(f->plan.segments[1].n_members, 2);
	/* Addresses are hashes of "location:aws" and "location:gcp". */
	assert_string_equal(cidrs_text(f, &f->plan.wireguard_ip, 1), "10.4.25.174/16");
	assert_string_equal(cidrs_text(f, &f->plan.segments[1].wireguard_ip, 1), "10.4.11.93/16");
	assert_string_equal(peers_text(f),
			    "location/gcp 198.51.100.3:51820 allowed 10.0.0.21/32,10.0.0.22/32,"
			    "10.4.11.93/32,10.244.3.0/24,10.244.4.0/24\n");
	assert_string_equal(routes_text(f),
			    "10.0.0.21/32 dev skein0 src 10.4.25.174\n"
			    "10.0.0.22/32 dev skein0 src 10.4.25.174\n"
			    "10.4.11.93/32 dev skein0 src 10.4.25.174\n"
			    "10.244.2.0/24 via 192.168.1.12 dev eth0\n"
			    "10.244.3.0/24 dev skein0 src 10.4.25.174\n"
			    "10.244.4.0/24 dev skein0 src 10.4.25.174\n");
	assert_int_equal(f->plan.n_rejections, 0);
	assert_int_equal(f->plan.n_rules, 1);
	assert_int_equal(f->plan.rules[0].family, AF_INET);
	assert_int_equal(f->plan.rules[0].table, SKEIN_ROUTE_TABLE);
	assert_int_equal(f->plan.rules[0].priority, SKEIN_RULE_PRIORITY);
	assert_int_equal(f->plan.rules[0].src.prefix, 0);
	assert_int_equal(f->plan.rules[0].dst.prefix, 0);
	assert_string_equal(cidrs_text(f, f->plan.local_pod_cidrs, f->plan.n_local_pod_cidrs),
			    "10.244.1.0/24");
	assert_string_equal(cidrs_text(f, f->plan.cluster_cidrs, f->plan.n_cluster_cidrs),
			    "10.0.0.21/32 10.0.0.22/32 10.4.0.0/16 10.244.1.0/24 10.244.2.0/24 "
			    "10.244.3.0/24 10.244.4.0/24 192.168.1.11/32 192.168.1.12/32");
	fixture_free(f);
}

/* A peer's endpoint inside a routed destination (here gcp's leader dials
 * from its private IP): WireGuard's own packets would loop into the
 * tunnel, so that route stays out (the allowed IP stays in). */
static void test_endpoint_stays_out_of_tunnel(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	snprintf(f->nodes[2].endpoint.host, MODEL_HOST_MAX, "10.0.0.21");
	compute(f, "a1");
	assert_null(strstr(routes_text(f), "10.0.0.21/32"));
	assert_non_null(strstr(f->text, "10.0.0.22/32 dev skein0"));
	assert_string_equal(rejections_text(f),
			    "route to 10.0.0.21/32 via skein0 left out: it holds a peer's endpoint\n");
	assert_non_null(strstr(peers_text(f), "allowed 10.0.0.21/32,"));
	fixture_free(f);
}

static void test_two_locations_non_leader(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	compute(f, "a2");
	assert_false(f->plan.is_leader);
	assert_int_equal(f->plan.wireguard_ip.ip.family, 0);
	assert_int_equal(f->plan.n_peers, 0);
	/* Everything of gcp through a1; a1's pods and WireGuard IP directly. */
	assert_string_equal(routes_text(f),
			    "10.0.0.21/32 via 192.168.1.11 dev eth0\n"
			    "10.0.0.22/32 via 192.168.1.11 dev eth0\n"
			    "10.4.11.93/32 via 192.168.1.11 dev eth0\n"
			    "10.4.25.174/32 via 192.168.1.11 dev eth0\n"
			    "10.244.1.0/24 via 192.168.1.11 dev eth0\n"
			    "10.244.3.0/24 via 192.168.1.11 dev eth0\n"
			    "10.244.4.0/24 via 192.168.1.11 dev eth0\n");
	assert_int_equal(f->plan.n_encap_remotes, 0);
	fixture_free(f);
}

/* Leader choice: Ready and usable nodes only; the annotation, then a
 * public endpoint, then the name. */
static void test_leader_choice(void **state)
{
	static const struct {
		const char *what;
		bool annotated[3], public[3], ready[3], key[3];
		size_t want;
	} cases[] = {
		{ "by name", { 0, 0, 0 }, { 0, 0, 0 }, { 1, 1, 1 }, { 1, 1, 1 }, 0 },
		{ "public endpoint", { 0, 0, 0 }, { 0, 1, 1 }, { 1, 1, 1 }, { 1, 1, 1 }, 1 },
		{ "annotated over public", { 0, 0, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, { 1, 1, 1 }, 2 },
		{ "annotated and public first", { 0, 1, 1 }, { 0, 0, 1 }, { 1, 1, 1 }, { 1, 1, 1 }, 2 },
		{ "NotReady leader replaced", { 1, 0, 0 }, { 1, 0, 0 }, { 0, 1, 1 }, { 1, 1, 1 }, 1 },
		{ "no key: not usable", { 0, 0, 0 }, { 0, 0, 0 }, { 1, 1, 1 }, { 0, 1, 1 }, 1 },
		{ "nobody usable", { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 }, { 1, 1, 1 }, PLAN_NO_LEADER },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = fixture_new();
		static const char *const names[] = { "n1", "n2", "n3" };
		char pod[32], ip[32];

		for (size_t j = 0; j < 3; j++) {
			struct node *n;

			snprintf(pod, sizeof(pod), "10.244.%zu.0/24", j + 1);
			snprintf(ip, sizeof(ip), "192.168.1.%zu/24", j + 1);
			n = add_node(f, names[j], "dc", pod, ip);
			n->leader = cases[i].annotated[j];
			if (cases[i].public[j])
				public_endpoint(n, "203.0.113.1");
			n->ready = cases[i].ready[j];
			n->has_key = cases[i].key[j];
		}
		add_node(f, "x", "elsewhere", "10.244.9.0/24", "10.9.0.1/24");
		compute(f, "x");
		assert_int_equal(f->plan.n_segments, cases[i].want == PLAN_NO_LEADER && !cases[i].ready[1] ? 1 : 2);
		if (f->plan.n_segments == 2) {
			if (f->plan.segments[0].leader != cases[i].want)
				fail_msg("%s: leader %zu, want %zu", cases[i].what,
					 f->plan.segments[0].leader, cases[i].want);
			/* x reaches dc through its leader only when there is one. */
			assert_int_equal(f->plan.n_peers, cases[i].want == PLAN_NO_LEADER ? 0 : 1);
		}
		fixture_free(f);
	}
}

/* A node without a private IP cannot be reached over the location's
 * network: it is a segment of its own, reached through its own tunnel. */
static void test_node_without_private_ip(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	add_node(f, "c", "aws", "10.244.5.0/24", NULL);
	compute(f, "a1");
	assert_int_equal(f->plan.n_segments, 3);
	assert_string_equal(f->plan.segments[2].name, "node/c");
	assert_string_equal(f->plan.segments[2].location, "aws");
	assert_int_equal(f->plan.n_peers, 2);
	assert_string_equal(f->plan.peers[1].name, "node/c");
	assert_string_equal(f->plan.peers[1].endpoint.host, "c.example");
	assert_int_equal(f->plan.peers[1].n_allowed_ips, 2); /* pod CIDR and WireGuard IP */
	assert_string_equal(cidrs_text(f, f->plan.peers[1].allowed_ips, 2), "10.4.199.185/32 10.244.5.0/24");
	compute(f, "c");
	assert_true(f->plan.is_leader);
	assert_int_equal(f->plan.n_peers, 2);
	assert_string_equal(f->plan.peers[0].name, "location/aws");
	assert_string_equal(f->plan.peers[1].name, "location/gcp");
	fixture_free(f);
}

/* Nodes without a location do not share a network with anybody either. */
static void test_empty_location(void **state)
{
	struct fixture *f = fixture_new();

	(void)state;
	add_node(f, "a", "", "10.244.1.0/24", "192.168.1.1/24");
	add_node(f, "b", "", "10.244.2.0/24", "192.168.1.2/24");
	compute(f, "a");
	assert_int_equal(f->plan.n_segments, 2);
	assert_string_equal(peers_text(f),
			    "node/b 192.168.1.2:51820 allowed 10.4.205.108/32,10.244.2.0/24,192.168.1.2/32\n");
	fixture_free(f);
}

static void test_allowed_location_ips(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	/* Both gcp nodes announce their LAN, which holds their own private
	 * IPs: accepted once, no conflict with themselves. */
	f->nodes[2].allowed_location_ips[f->nodes[2].n_allowed_location_ips++] = cidr_of("10.0.0.0/24");
	f->nodes[3].allowed_location_ips[f->nodes[3].n_allowed_location_ips++] = cidr_of("10.0.0.0/24");
	f->nodes[3].allowed_location_ips[f->nodes[3].n_allowed_location_ips++] = cidr_of("172.16.0.0/16");
	/* aws claims gcp's pod CIDR: rejected. */
	f->nodes[0].allowed_location_ips[f->nodes[0].n_allowed_location_ips++] = cidr_of("10.244.4.0/23");
	compute(f, "a1");
	assert_string_equal(rejections_text(f),
			    "node a1: allowed-location-ip 10.244.4.0/23 ignored: overlaps pod CIDR 10.244.4.0/24 of node b2\n");
	assert_int_equal(f->plan.n_peers, 1);
	assert_string_equal(cidrs_text(f, f->plan.peers[0].allowed_ips, f->plan.peers[0].n_allowed_ips),
			    "10.0.0.0/24 10.0.0.21/32 10.0.0.22/32 10.4.11.93/32 10.244.3.0/24 "
			    "10.244.4.0/24 172.16.0.0/16");
	assert_non_null(strstr(routes_text(f), "172.16.0.0/16 dev skein0 src "));
	assert_non_null(strstr(routes_text(f), "10.0.0.0/24 dev skein0 src "));
	assert_non_null(strstr(cidrs_text(f, f->plan.cluster_cidrs, f->plan.n_cluster_cidrs),
			       "10.0.0.0/24 10.4.0.0/16"));
	compute(f, "a2");
	assert_non_null(strstr(routes_text(f), "172.16.0.0/16 via 192.168.1.11 dev eth0\n"));
	compute(f, "b2");
	assert_null(strstr(routes_text(f), "172.16.0.0/16"));
	fixture_free(f);
}

static void test_external_peers(void **state)
{
	struct fixture *f = two_locations();
	struct peer *p;

	(void)state;
	p = add_peer(f, "laptop", "10.5.0.1/32");
	p->persistent_keepalive = 10;
	p = add_peer(f, "office", "10.6.0.0/24");
	snprintf(p->endpoint.host, sizeof(p->endpoint.host), "office.example");
	p->endpoint.port = 51000;
	p->has_preshared_key = true;
	p->preshared_key.bytes[0] = 7;
	compute(f, "b1");
	assert_non_null(strstr(peers_text(f), "peer/laptop -:0 ka 10 allowed 10.5.0.1/32\n"
					      "peer/office office.example:51000 allowed 10.6.0.0/24\n"));
	assert_true(f->plan.peers[2].has_preshared_key);
	assert_non_null(strstr(routes_text(f), "10.5.0.1/32 dev skein0 src "));
	assert_non_null(strstr(routes_text(f), "10.6.0.0/24 dev skein0 src "));
	assert_non_null(strstr(cidrs_text(f, f->plan.cluster_cidrs, f->plan.n_cluster_cidrs),
			       "10.5.0.1/32 10.6.0.0/24"));
	compute(f, "b2");
	assert_int_equal(f->plan.n_peers, 0);
	assert_non_null(strstr(routes_text(f), "10.5.0.1/32 via 10.0.0.21 dev eth0\n"
					       "10.6.0.0/24 via 10.0.0.21 dev eth0\n"));
	fixture_free(f);
}

/* Every way an allowed IP can collide; the earlier claimant keeps it. */
static void test_rejected_overlaps(void **state)
{
	static const struct {
		const char *ip, *want;
	} cases[] = {
		{ "10.244.3.128/25", "peer p: allowed IP 10.244.3.128/25 ignored: overlaps pod CIDR 10.244.3.0/24 of node b1\n" },
		{ "10.244.0.0/16", "peer p: allowed IP 10.244.0.0/16 ignored: overlaps pod CIDR 10.244.1.0/24 of node a1\n" },
		{ "10.4.7.0/24", "peer p: allowed IP 10.4.7.0/24 ignored: overlaps WireGuard subnet 10.4.0.0/16\n" },
		{ "10.96.0.10/32", "peer p: allowed IP 10.96.0.10/32 ignored: overlaps service CIDR 10.96.0.0/12\n" },
		{ "192.168.1.0/24", "peer p: allowed IP 192.168.1.0/24 ignored: overlaps private IP 192.168.1.11/32 of node a1\n" },
		{ "10.5.0.0/16", "peer p: allowed IP 10.5.0.0/16 ignored: overlaps allowed IP 10.5.0.1/32 of peer early\n" },
		{ "10.5.0.1/32", "peer p: allowed IP 10.5.0.1/32 ignored: overlaps allowed IP 10.5.0.1/32 of peer early\n" },
		{ "10.77.0.0/16", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = two_locations();

		f->o.service_cidrs[f->o.n_service_cidrs++] = cidr_of("10.96.0.0/12");
		add_peer(f, "early", "10.5.0.1/32");
		add_peer(f, "p", cases[i].ip);
		compute(f, "a1");
		assert_string_equal(rejections_text(f) + strcspn(f->text, "p"), cases[i].want);
		assert_int_equal(f->plan.peers[2].n_allowed_ips, cases[i].want[0] ? 0 : 1);
		assert_int_equal(f->plan.peers[1].n_allowed_ips, 1); /* early keeps its own */
		fixture_free(f);
	}
}

static void test_location_ip_overlaps_other_location(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	/* a1 (earlier by name) claims 172.16.0.0/16, so b1's 172.16.5.0/24
	 * inside it loses; b1's 192.168.0.0/16 would swallow aws's private IPs. */
	f->nodes[0].allowed_location_ips[f->nodes[0].n_allowed_location_ips++] = cidr_of("172.16.0.0/16");
	f->nodes[2].allowed_location_ips[f->nodes[2].n_allowed_location_ips++] = cidr_of("172.16.5.0/24");
	f->nodes[2].allowed_location_ips[f->nodes[2].n_allowed_location_ips++] = cidr_of("192.168.0.0/16");
	compute(f, "b2");
	assert_string_equal(rejections_text(f),
			    "node b1: allowed-location-ip 172.16.5.0/24 ignored: overlaps allowed-location-ip 172.16.0.0/16 of node a1\n"
			    "node b1: allowed-location-ip 192.168.0.0/16 ignored: overlaps private IP 192.168.1.11/32 of node a1\n");
	fixture_free(f);
}

static void test_full_granularity(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	f->o.granularity = GRANULARITY_FULL;
	compute(f, "a1");
	assert_true(f->plan.is_leader);
	assert_int_equal(f->plan.n_segments, 4);
	assert_int_equal(f->plan.n_peers, 3);
	for (size_t i = 0; i < 4; i++) {
		char name[32];

		snprintf(name, sizeof(name), "node/%s", f->nodes[i].name);
		assert_string_equal(f->plan.segments[i].name, name);
		assert_int_equal(f->plan.segments[i].leader, i);
		for (size_t j = 0; j < i; j++)
			assert_false(cidr_equal(&f->plan.segments[i].wireguard_ip,
						&f->plan.segments[j].wireguard_ip));
	}
	assert_string_equal(peers_text(f),
			    "node/a2 198.51.100.2:51820 allowed 10.4.153.109/32,10.244.2.0/24,192.168.1.12/32\n"
			    "node/b1 198.51.100.3:51820 allowed 10.0.0.21/32,10.4.141.111/32,10.244.3.0/24\n"
			    "node/b2 198.51.100.4:51820 allowed 10.0.0.22/32,10.4.158.136/32,10.244.4.0/24\n");
	/* Same location, but full granularity: a2 through the tunnel too. */
	assert_non_null(strstr(routes_text(f), "10.244.2.0/24 dev skein0 src "));
	assert_non_null(strstr(f->text, "192.168.1.12/32 dev skein0 src "));
	fixture_free(f);
}

static void test_cross_granularity(void **state)
{
	struct fixture *f = two_locations();
	char a1[CIDR_STRLEN], a2[CIDR_STRLEN];

	(void)state;
	f->o.granularity = GRANULARITY_CROSS;
	compute(f, "a2");
	cidr_format(&f->plan.wireguard_ip, a2);
	assert_false(f->plan.is_leader);
	/* No leader bottleneck: a2 talks to b1 and b2 directly, to a1 not at
	 * all over WireGuard. */
	assert_string_equal(peers_text(f),
			    "node/b1 198.51.100.3:51820 allowed 10.0.0.21/32,10.4.141.111/32,10.244.3.0/24\n"
			    "node/b2 198.51.100.4:51820 allowed 10.0.0.22/32,10.4.158.136/32,10.244.4.0/24\n");
	assert_non_null(strstr(routes_text(f), "10.244.1.0/24 via 192.168.1.11 dev eth0\n"));
	assert_non_null(strstr(f->text, "10.244.4.0/24 dev skein0 src "));
	compute(f, "a1");
	cidr_format(&f->plan.wireguard_ip, a1);
	assert_true(f->plan.is_leader);
	assert_string_not_equal(a1, a2);
	assert_string_equal(a1, "10.4.147.186/16");
	/* a2's own WireGuard IP is reached over the location's network. */
	assert_non_null(strstr(routes_text(f), "10.4.153.109/32 via 192.168.1.12 dev eth0\n"));
	fixture_free(f);
}

/* In cross granularity a node that cannot hold tunnels (no key yet) is
 * carried by its location's leader, on both sides. */
static void test_cross_unusable_node(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	f->o.granularity = GRANULARITY_CROSS;
	f->nodes[3].has_key = false; /* b2 */
	compute(f, "a1");
	assert_string_equal(peers_text(f),
			    "node/b1 198.51.100.3:51820 allowed 10.0.0.21/32,10.0.0.22/32,10.4.141.111/32,10.244.3.0/24,10.244.4.0/24\n");
	compute(f, "b2");
	assert_int_equal(f->plan.n_peers, 0);
	assert_int_equal(f->plan.wireguard_ip.ip.family, 0);
	assert_non_null(strstr(routes_text(f), "10.244.1.0/24 via 10.0.0.21 dev eth0\n"));
	fixture_free(f);
}

static void test_dual_stack(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		char pod[32];

		snprintf(pod, sizeof(pod), "fd00:10:244:%zu::/64", i + 1);
		f->nodes[i].pod_cidrs[f->nodes[i].n_pod_cidrs++] = cidr_of(pod);
	}
	compute(f, "a1");
	assert_string_equal(cidrs_text(f, f->plan.peers[0].allowed_ips, f->plan.peers[0].n_allowed_ips),
			    "10.0.0.21/32 10.0.0.22/32 10.4.11.93/32 10.244.3.0/24 10.244.4.0/24 "
			    "fd00:10:244:3::/64 fd00:10:244:4::/64");
	/* IPv6 through the tunnel has no IPv4 source to prefer. */
	assert_non_null(strstr(routes_text(f), "fd00:10:244:3::/64 dev skein0\n"));
	/* Inside the location, a2's IPv6 pods behind its IPv4 private IP:
	 * through the encapsulation device and a2's derived link-local. */
	assert_non_null(strstr(f->text, "fd00:10:244:2::/64 via fe80::5e:c0a8:10c dev skein-vx onlink\n"));
	assert_string_equal(cidrs_text(f, f->plan.local_pod_cidrs, f->plan.n_local_pod_cidrs),
			    "10.244.1.0/24 fd00:10:244:1::/64");
	assert_int_equal(f->plan.n_rules, 2);
	assert_int_equal(f->plan.rules[1].family, AF_INET6);
	assert_int_equal(f->plan.n_encap_remotes, 1);
	assert_int_equal(f->plan.encap_ip6.family, AF_INET6);
	compute(f, "a2");
	assert_non_null(strstr(routes_text(f), "fd00:10:244:3::/64 via fe80::5e:c0a8:10b dev skein-vx onlink\n"));
	fixture_free(f);
}

static void test_encapsulation(void **state)
{
	static const struct {
		enum encapsulation mode;
		const char *a2_ip, *want;
	} cases[] = {
		{ ENCAP_CROSSSUBNET, "192.168.1.12/24", "10.244.2.0/24 via 192.168.1.12 dev eth0\n" },
		{ ENCAP_CROSSSUBNET, "192.168.2.12/24", "10.244.2.0/24 via 192.168.2.12 dev skein-vx onlink\n" },
		{ ENCAP_ALWAYS, "192.168.1.12/24", "10.244.2.0/24 via 192.168.1.12 dev skein-vx onlink\n" },
		{ ENCAP_NEVER, "192.168.2.12/24", "10.244.2.0/24 via 192.168.2.12 dev eth0\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = two_locations();

		f->o.encapsulation = cases[i].mode;
		f->nodes[1].internal_ip = cidr_of(cases[i].a2_ip);
		compute(f, "a1");
		assert_non_null(strstr(routes_text(f), cases[i].want));
		assert_int_equal(f->plan.n_encap_remotes, strstr(cases[i].want, "skein-vx") ? 1 : 0);
		fixture_free(f);
	}
}

/* A NATed node's published endpoint is useless to others: they use the one
 * discovered from its handshakes, else let it dial in. */
static void test_nat(void **state)
{
	struct fixture *f = two_locations();
	struct node *b1 = &f->nodes[2];

	(void)state;
	b1->persistent_keepalive = 25;
	compute(f, "a1");
	assert_string_equal(f->plan.peers[0].endpoint.host, "");
	assert_int_equal(f->plan.peers[0].persistent_keepalive, 0);
	/* a2 found it; the entry before a2's run is nobody's. */
	f->discovered[0].key = b1->public_key;
	snprintf(f->discovered[0].endpoint.host, MODEL_HOST_MAX, "198.51.100.66");
	f->discovered[1].key = b1->public_key;
	snprintf(f->discovered[1].endpoint.host, MODEL_HOST_MAX, "203.0.113.9");
	f->discovered[1].endpoint.port = 40000;
	f->c.n_discovered = 2;
	f->nodes[1].first_discovered = 1;
	f->nodes[1].n_discovered = 1;
	compute(f, "a1");
	assert_string_equal(f->plan.peers[0].endpoint.host, "203.0.113.9");
	assert_int_equal(f->plan.peers[0].endpoint.port, 40000);
	compute(f, "b1");
	assert_int_equal(f->plan.peers[0].persistent_keepalive, 25);
	fixture_free(f);
}

/* The local node computes its plan while NotReady (kubelet waits for the
 * CNI config skein writes), but holds no tunnels until it is Ready. */
static void test_self_not_ready(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	f->nodes[0].ready = false; /* a1 */
	compute(f, "a1");
	assert_false(f->plan.is_leader);
	assert_int_equal(f->plan.n_peers, 0);
	assert_string_equal(cidrs_text(f, f->plan.local_pod_cidrs, f->plan.n_local_pod_cidrs),
			    "10.244.1.0/24");
	/* a2 leads aws now; a1 reaches gcp through it. */
	assert_non_null(strstr(routes_text(f), "10.244.3.0/24 via 192.168.1.12 dev eth0\n"));
	compute(f, "b1");
	assert_string_equal(f->plan.peers[0].name, "location/aws");
	assert_string_equal(f->plan.peers[0].endpoint.host, "198.51.100.2");
	assert_null(strstr(peers_text(f), "10.244.1.0/24"));
	fixture_free(f);
}

/* With nobody usable in the local segment, nothing outside it is reachable:
 * no routes away, only the segment's own. */
static void test_segment_without_leader(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	f->nodes[0].has_key = false;
	f->nodes[1].has_key = false;
	compute(f, "a2");
	assert_false(f->plan.is_leader);
	assert_string_equal(routes_text(f), "10.244.1.0/24 via 192.168.1.11 dev eth0\n");
	compute(f, "b1");
	assert_int_equal(f->plan.n_peers, 0);
	assert_null(strstr(routes_text(f), "10.244.1.0/24"));
	fixture_free(f);
}

/* In cross granularity a location's LAN rides on its leader's peer. */
static void test_cross_location_ips(void **state)
{
	struct fixture *f = two_locations();

	(void)state;
	f->o.granularity = GRANULARITY_CROSS;
	f->nodes[3].allowed_location_ips[f->nodes[3].n_allowed_location_ips++] = cidr_of("172.16.0.0/16");
	compute(f, "a2");
	assert_string_equal(peers_text(f),
			    "node/b1 198.51.100.3:51820 allowed 10.0.0.21/32,10.4.141.111/32,10.244.3.0/24,172.16.0.0/16\n"
			    "node/b2 198.51.100.4:51820 allowed 10.0.0.22/32,10.4.158.136/32,10.244.4.0/24\n");
	assert_non_null(strstr(routes_text(f), "172.16.0.0/16 dev skein0 src 10.4.153.109\n"));
	fixture_free(f);
}

static void test_errors(void **state)
{
	struct fixture *f = two_locations();
	struct error err;

	(void)state;
	assert_int_equal(topology_compute(&f->c, "zz", &f->o, &f->plan, &err), -1);
	assert_string_equal(err.msg, "topology: node zz: not in the cluster model");
	f->nodes[0].n_pod_cidrs = 0;
	assert_int_equal(topology_compute(&f->c, "a1", &f->o, &f->plan, &err), -1);
	assert_string_equal(err.msg, "topology: node a1: no pod CIDR yet");
	f->o.subnet = cidr_of("10.4.0.0/31");
	assert_int_equal(topology_compute(&f->c, "a2", &f->o, &f->plan, &err), -1);
	assert_string_equal(err.msg, "topology: subnet: needs at least 4 addresses");
	f->o.subnet = cidr_of("10.4.0.0/16");
	f->o.wg_ifname[0] = '\0';
	assert_int_equal(topology_compute(&f->c, "a2", &f->o, &f->plan, &err), -1);
	assert_string_equal(err.msg, "topology: WireGuard interface: no name");
	fixture_free(f);
}

/* ---- WireGuard IP stability ---- */

static void location_ips(struct fixture *f, const char *self, char ips[][CIDR_STRLEN], size_t n)
{
	compute(f, self);
	assert_int_equal(f->plan.n_segments, n);
	for (size_t i = 0; i < n; i++)
		cidr_format(&f->plan.segments[i].wireguard_ip, ips[i]);
}

static void add_location(struct fixture *f, const char *name, size_t i)
{
	char pod[32], ip[32];

	snprintf(pod, sizeof(pod), "10.244.%zu.0/24", i);
	snprintf(ip, sizeof(ip), "172.16.%zu.1/24", i);
	add_node(f, name, name, pod, ip);
}

/* Hashed addresses: adding or removing a location leaves the others'. */
static void test_stable_wireguard_ips(void **state)
{
	static const char *const names[] = { "l0", "l1", "l2", "l3", "l4", "l5" };
	char before[6][CIDR_STRLEN], after[6][CIDR_STRLEN];
	struct fixture *f = fixture_new();

	(void)state;
	for (size_t i = 0; i < 5; i++)
		add_location(f, names[i], i);
	location_ips(f, "l0", before, 5);
	add_location(f, names[5], 5);
	location_ips(f, "l0", after, 6);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(before[i], after[i]);
	/* Remove l2 (shift l3, l4 down). */
	memmove(&f->nodes[2], &f->nodes[3], 3 * sizeof(f->nodes[0]));
	f->c.n_nodes--;
	location_ips(f, "l0", after, 5);
	assert_string_equal(after[0], before[0]);
	assert_string_equal(after[1], before[1]);
	assert_string_equal(after[2], before[3]);
	assert_string_equal(after[3], before[4]);
	fixture_free(f);
}

/* In a tiny subnet names collide and probe; once published, an address
 * stays even when the location that pushed it along goes away, and a
 * newcomer that hashes onto it probes past it. */
static void test_stable_wireguard_ips_collisions(void **state)
{
	static const char *const names[] = { "l0", "l1", "l2", "l3", "l4" };
	char before[5][CIDR_STRLEN], after[5][CIDR_STRLEN];
	struct fixture *f = fixture_new();

	(void)state;
	f->o.subnet = cidr_of("10.4.0.0/29"); /* 6 addresses */
	for (size_t i = 0; i < 4; i++)
		add_location(f, names[i], i);
	location_ips(f, "l0", before, 4);
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(before[i], before[j]);
		f->nodes[i].wireguard_ip = cidr_of(before[i]);
		f->nodes[i].has_wireguard_ip = true;
	}
	for (size_t gone = 0; gone < 4; gone++) {
		struct fixture *g = fixture_new();
		size_t k = 0;

		g->o.subnet = f->o.subnet;
		for (size_t i = 0; i < 4; i++)
			if (i != gone)
				g->nodes[g->c.n_nodes++] = f->nodes[i];
		g->nodes[g->c.n_nodes] = f->nodes[0];
		add_location(g, names[4], 4);
		location_ips(g, g->nodes[0].name, after, 4);
		for (size_t i = 0; i < 4; i++)
			if (i != gone)
				assert_string_equal(after[k++], before[i]);
		for (size_t i = 0; i < 3; i++)
			assert_string_not_equal(after[3], after[i]);
		fixture_free(g);
	}
	fixture_free(f);
}

/* A member's published address is hearsay (it may come from a location
 * the node left): a leader's own published address beats it, whatever the
 * names' order. */
static void test_stale_member_address(void **state)
{
	struct fixture *f = fixture_new();
	char l0[CIDR_STRLEN], l1[CIDR_STRLEN];

	(void)state;
	add_node(f, "a", "l0", "10.244.1.0/24", "172.16.0.1/24");
	add_node(f, "b", "l0", "10.244.2.0/24", "172.16.0.2/24");
	add_node(f, "x", "l1", "10.244.3.0/24", "172.16.1.1/24");
	compute(f, "a");
	cidr_format(&f->plan.segments[0].wireguard_ip, l0);
	cidr_format(&f->plan.segments[1].wireguard_ip, l1);
	f->nodes[2].wireguard_ip = cidr_of(l1); /* x leads l1 */
	f->nodes[2].has_wireguard_ip = true;
	f->nodes[1].wireguard_ip = cidr_of(l1); /* b, once in l1 */
	f->nodes[1].has_wireguard_ip = true;
	compute(f, "a");
	assert_string_equal(cidrs_text(f, &f->plan.segments[1].wireguard_ip, 1), l1);
	assert_string_equal(cidrs_text(f, &f->plan.segments[0].wireguard_ip, 1), l0);
	/* Alone, the hearsay keeps a segment's address across a new leader:
	 * a led l0 and published 10.4.9.9, then goes; b (publishing nothing,
	 * as a non-leader) takes over. */
	f->nodes[1].has_wireguard_ip = false;
	f->nodes[0].wireguard_ip = cidr_of("10.4.9.9/16");
	f->nodes[0].has_wireguard_ip = true;
	f->nodes[0].ready = false;
	compute(f, "b");
	assert_string_equal(cidrs_text(f, &f->plan.wireguard_ip, 1), "10.4.9.9/16");
	fixture_free(f);
}

/* A full subnet leaves the last segments without an address, said so. */
static void test_subnet_full(void **state)
{
	static const char *const names[] = { "l0", "l1", "l2", "l3" };
	struct fixture *f = fixture_new();

	(void)state;
	f->o.subnet = cidr_of("10.4.0.0/30"); /* 2 addresses */
	for (size_t i = 0; i < 4; i++)
		add_location(f, names[i], i);
	compute(f, "l0");
	assert_non_null(strstr(rejections_text(f),
			       "location l2: no WireGuard IP left in the subnet\n"
			       "location l3: no WireGuard IP left in the subnet\n"));
	assert_int_equal(f->plan.segments[2].wireguard_ip.ip.family, 0);
	fixture_free(f);
}

static void test_plan_equal(void **state)
{
	struct fixture *f = two_locations();
	struct plan first;

	(void)state;
	add_peer(f, "laptop", "10.5.0.1/32");
	compute(f, "a1");
	first = f->plan;
	memset(&f->plan, 0, sizeof(f->plan));
	compute(f, "a1");
	assert_true(plan_equal(&first, &f->plan));
	f->plan.peers[1].allowed_ips[0].prefix = 31;
	assert_false(plan_equal(&first, &f->plan));
	compute(f, "a1");
	f->nodes[3].pod_cidrs[0] = cidr_of("10.244.40.0/24");
	compute(f, "a1");
	assert_false(plan_equal(&first, &f->plan));
	plan_free(&first);
	fixture_free(f);
}

struct rejection_log {
	const struct plan *prev, *next;
};

static void log_rejections(void *arg)
{
	const struct rejection_log *r = arg;

	plan_log_rejections(r->prev, r->next);
}

/* Lines plan_log_rejections(prev, next) writes to stderr. */
static size_t logged_lines(const struct plan *prev, const struct plan *next, char *out, size_t len)
{
	struct rejection_log r = { prev, next };
	size_t lines = 0;

	capture_stderr(log_rejections, &r, out, len);
	for (const char *c = out; *c; c++)
		lines += *c == '\n';
	return lines;
}

/* Each rejection is logged once, when it first appears. */
static void test_log_rejections_once(void **state)
{
	struct fixture *f = two_locations();
	struct plan first;
	char out[2048];

	(void)state;
	add_peer(f, "p", "10.244.1.0/24");
	compute(f, "a1");
	first = f->plan;
	memset(&f->plan, 0, sizeof(f->plan));
	assert_int_equal(logged_lines(NULL, &first, out, sizeof(out)), 1);
	assert_non_null(strstr(out, " warn: peer p: allowed IP 10.244.1.0/24 ignored: overlaps pod CIDR"));
	add_peer(f, "q", "10.4.0.0/24");
	compute(f, "a1");
	assert_int_equal(logged_lines(&first, &f->plan, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "peer q: allowed IP 10.4.0.0/24 ignored: overlaps WireGuard subnet"));
	assert_int_equal(logged_lines(&f->plan, &f->plan, out, sizeof(out)), 0);
	plan_free(&first);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_locations_leader),
		cmocka_unit_test(test_two_locations_non_leader),
		cmocka_unit_test(test_endpoint_stays_out_of_tunnel),
		cmocka_unit_test(test_leader_choice),
		cmocka_unit_test(test_node_without_private_ip),
		cmocka_unit_test(test_empty_location),
		cmocka_unit_test(test_allowed_location_ips),
		cmocka_unit_test(test_external_peers),
		cmocka_unit_test(test_rejected_overlaps),
		cmocka_unit_test(test_location_ip_overlaps_other_location),
		cmocka_unit_test(test_full_granularity),
		cmocka_unit_test(test_cross_granularity),
		cmocka_unit_test(test_cross_unusable_node),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_encapsulation),
		cmocka_unit_test(test_nat),
		cmocka_unit_test(test_self_not_ready),
		cmocka_unit_test(test_segment_without_leader),
		cmocka_unit_test(test_cross_location_ips),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stable_wireguard_ips),
		cmocka_unit_test(test_stable_wireguard_ips_collisions),
		cmocka_unit_test(test_stale_member_address),
		cmocka_unit_test(test_subnet_full),
		cmocka_unit_test(test_plan_equal),
		cmocka_unit_test(test_log_rejections_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
