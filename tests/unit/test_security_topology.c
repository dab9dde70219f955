// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hijack attempts through the objects an attacker controls: a Node's
 * annotations (anyone with nodes/patch) and a Peer. Each goes the way the
 * agent reads it, JSON -> digest -> kube_cluster_build -> topology_compute,
 * and must be left out with a rejection naming the range it hit, while
 * the victim keeps its traffic. Every plan also keeps WireGuard's own
 * invariant: no two peers of a node share an allowed IP.
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
#include "kube_model.h"
#include "topology.h"

/* Distinct valid keys (canonical base64 of 32 bytes). */
#define KEY_A "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KEY_B "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define KEY_C "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define KEY_E "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
#define KEY_P "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU="

struct world {
	json_t *nodes, *peers; /* name -> digest text, as the informers keep */
	struct cluster c;
	struct topology_options o;
	struct plan plan;
	char text[4096];
};

/* A Ready node of its own location (every node leads, every node is a
 * peer of every other) with a public endpoint. annotations: "k=v" pairs,
 * NULL-terminated; a key without '/' gets the skein.dev/ prefix. */
static void add_node(struct world *w, const char *name, const char *key, const char *pod_cidr,
		     const char *internal_ip, const char *const *annotations)
{
	json_t *ann = json_pack("{s:s,s:s,s:s}", "skein.dev/location", name,
				"skein.dev/public-key", key, "skein.dev/endpoint", "203.0.113.9:51820");
	json_t *node, *digest;
	char *text;

	assert_non_null(ann);
	for (size_t i = 0; annotations && annotations[i]; i++) {
		const char *eq = strchr(annotations[i], '=');
		size_t len = eq ? (size_t)(eq - annotations[i]) : 0;
		char k[128];

		assert_non_null(eq);
		snprintf(k, sizeof(k), "%s%.*s", memchr(annotations[i], '/', len) ? "" : "skein.dev/",
			 (int)len, annotations[i]);
		assert_int_equal(json_object_set_new(ann, k, json_string(eq + 1)), 0);
	}
	node = json_pack("{s:{s:s,s:o},s:{s:s},s:{s:[{s:s,s:s}],s:[{s:s,s:s}]}}",
			 "metadata", "name", name, "annotations", ann,
			 "spec", "podCIDR", pod_cidr,
			 "status", "addresses", "type", "InternalIP", "address", internal_ip,
			 "conditions", "type", "Ready", "status", "True");
	assert_non_null(node);
	digest = kube_node_digest(node);
	assert_non_null(digest);
	text = json_dumps(digest, 0);
	assert_non_null(text);
	assert_int_equal(json_object_set_new(w->nodes, name, json_string(text)), 0);
	free(text);
	json_decref(digest);
	json_decref(node);
}

static void add_peer(struct world *w, const char *name, const char *key, const char *allowed_ips_json)
{
	json_t *ips = json_loads(allowed_ips_json, 0, NULL), *peer;
	char *text;

	assert_non_null(ips);
	peer = json_pack("{s:{s:s},s:{s:s,s:o}}", "metadata", "name", name,
			 "spec", "publicKey", key, "allowedIPs", ips);
	assert_non_null(peer);
	text = json_dumps(peer, 0);
	assert_non_null(text);
	assert_int_equal(json_object_set_new(w->peers, name, json_string(text)), 0);
	free(text);
	json_decref(peer);
}

/* The victims: nodes a and b, peer "office" (10.50.0.0/24), service CIDR
 * 10.96.0.0/12 and the default WireGuard subnet 10.4.0.0/16. */
static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->nodes = json_object();
	w->peers = json_object();
	assert_int_equal(topology_options_default(&w->o), 0);
	assert_int_equal(cidr_parse("10.96.0.0/12", &w->o.service_cidrs[w->o.n_service_cidrs++]), 0);
	add_node(w, "a", KEY_A, "10.244.1.0/24", "192.168.1.10", NULL);
	add_node(w, "b", KEY_B, "10.244.2.0/24", "192.168.2.10", NULL);
	add_peer(w, "office", KEY_P, "[\"10.50.0.0/24\"]");
	return w;
}

static void world_free(struct world *w)
{
	plan_free(&w->plan);
	cluster_free(&w->c);
	json_decref(w->nodes);
	json_decref(w->peers);
	free(w);
}

/* WireGuard routes a packet to the one peer whose allowed IPs hold its
 * destination: two peers sharing a range would let one take the other's
 * traffic. */
static void assert_allowed_ips_disjoint(const struct plan *p)
{
	for (size_t i = 0; i < p->n_peers; i++)
		for (size_t j = i + 1; j < p->n_peers; j++)
			for (size_t x = 0; x < p->peers[i].n_allowed_ips; x++)
				for (size_t y = 0; y < p->peers[j].n_allowed_ips; y++)
					if (cidr_overlaps(&p->peers[i].allowed_ips[x], &p->peers[j].allowed_ips[y]))
						fail_msg("peers %s and %s share allowed IPs", p->peers[i].name,
							 p->peers[j].name);
}

static void compute(struct world *w, const char *self)
{
	json_t *rejected = json_object();
	struct error err = { "" };

	assert_non_null(rejected);
	plan_free(&w->plan);
	cluster_free(&w->c);
	if (kube_cluster_build(w->nodes, w->peers, &w->c, rejected, &err) < 0)
		fail_msg("kube_cluster_build: %s", err.msg);
	if (json_object_size(rejected))
		fail_msg("an object failed validation: %s", json_dumps(rejected, 0));
	json_decref(rejected);
	if (topology_compute(&w->c, self, &w->o, &w->plan, &err) < 0)
		fail_msg("topology_compute(%s): %s", self, err.msg);
	assert_allowed_ips_disjoint(&w->plan);
}

static const struct plan_peer *peer_named(const struct world *w, const char *name)
{
	for (size_t i = 0; i < w->plan.n_peers; i++)
		if (!strcmp(w->plan.peers[i].name, name))
			return &w->plan.peers[i];
	return NULL;
}

/* Whether the peer has an allowed IP that match()es net: cidr_overlaps
 * (it gets traffic for part of net) or cidr_equal (it was given net
 * itself; the attacker's own pod CIDR may lie inside a claim). */
static bool peer_has(const struct world *w, const char *peer, const char *net,
		     bool (*match)(const struct cidr *, const struct cidr *))
{
	const struct plan_peer *p = peer_named(w, peer);
	struct cidr c;

	assert_int_equal(cidr_parse(net, &c), 0);
	for (size_t i = 0; p && i < p->n_allowed_ips; i++)
		if (match(&p->allowed_ips[i], &c))
			return true;
	return false;
}

static const char *rejections(struct world *w)
{
	w->text[0] = '\0';
	for (size_t i = 0; i < w->plan.n_rejections; i++) {
		size_t len = strlen(w->text);

		snprintf(w->text + len, sizeof(w->text) - len, "%s\n", w->plan.rejections[i].msg);
	}
	return w->text;
}

/* An attacker node (named first and last, as claims are settled by name)
 * announcing allowed-location-ips over the victims' ranges. */
static void test_node_annotation_cannot_claim_cluster_ranges(void **state)
{
	static const struct {
		const char *claim, *victim_peer, *hit;
	} cases[] = {
		{ "10.244.1.0/24", "location/a", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "10.244.1.128/25", "location/a", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "10.244.0.0/16", "location/a", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "192.168.1.10/32", "location/a", "overlaps private IP 192.168.1.10/32 of node a" },
		{ "10.4.0.0/24", NULL, "overlaps WireGuard subnet 10.4.0.0/16" },
		{ "10.0.0.0/8", NULL, "overlaps WireGuard subnet 10.4.0.0/16" },
		{ "10.100.0.1/32", NULL, "overlaps service CIDR 10.96.0.0/12" },
		{ "0.0.0.0/0", NULL, "overlaps WireGuard subnet 10.4.0.0/16" },
	};
	static const char *const attackers[] = { "0-evil", "z-evil" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t k = 0; k < 2; k++) {
			struct world *w = world_new();
			char ann[64], want[256];
			const char *annotations[] = { ann, NULL };

			snprintf(ann, sizeof(ann), "allowed-location-ips=%s", cases[i].claim);
			add_node(w, attackers[k], KEY_E, "10.244.9.0/24", "192.168.9.10", annotations);
			compute(w, "b");
			snprintf(want, sizeof(want), "node %s: allowed-location-ip %s ignored: %s\n",
				 attackers[k], cases[i].claim, cases[i].hit);
			assert_string_equal(rejections(w), want);
			snprintf(want, sizeof(want), "location/%s", attackers[k]);
			assert_non_null(peer_named(w, want));
			assert_false(peer_has(w, want, cases[i].claim, cidr_equal));
			if (cases[i].victim_peer)
				assert_true(peer_has(w, cases[i].victim_peer, cases[i].claim, cidr_overlaps));
			world_free(w);
		}
	}
}

/* The same ranges claimed by a Peer object. */
static void test_peer_cannot_claim_cluster_ranges(void **state)
{
	static const struct {
		const char *claim, *hit;
	} cases[] = {
		{ "10.244.2.0/24", "overlaps pod CIDR 10.244.2.0/24 of node b" },
		{ "192.168.2.0/24", "overlaps private IP 192.168.2.10/32 of node b" },
		{ "10.4.0.9/32", "overlaps WireGuard subnet 10.4.0.0/16" },
		{ "10.96.0.0/12", "overlaps service CIDR 10.96.0.0/12" },
		{ "10.50.0.0/16", "overlaps allowed IP 10.50.0.0/24 of peer office" },
		{ "::/0", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world *w = world_new();
		char ips[64], want[256] = "";

		snprintf(ips, sizeof(ips), "[\"%s\"]", cases[i].claim);
		add_peer(w, "rogue", KEY_E, ips);
		compute(w, "a");
		if (cases[i].hit)
			snprintf(want, sizeof(want), "peer rogue: allowed IP %s ignored: %s\n",
				 cases[i].claim, cases[i].hit);
		assert_string_equal(rejections(w), want);
		assert_int_equal(peer_has(w, "peer/rogue", cases[i].claim, cidr_equal), cases[i].hit == NULL);
		world_free(w);
	}
}

/* Peers are written by admins, annotations by anyone with nodes/patch: a
 * Peer keeps its range against a node whatever the node's name. */
static void test_node_annotation_cannot_take_a_peers_range(void **state)
{
	static const char *const attackers[] = { "0-evil", "z-evil" };
	static const char *const annotations[] = { "allowed-location-ips=10.50.0.7/32", NULL };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct world *w = world_new();
		char want[256];

		add_node(w, attackers[k], KEY_E, "10.244.9.0/24", "192.168.9.10", annotations);
		compute(w, "a");
		snprintf(want, sizeof(want), "node %s: allowed-location-ip 10.50.0.7/32 ignored: "
			 "overlaps allowed IP 10.50.0.0/24 of peer office\n", attackers[k]);
		assert_string_equal(rejections(w), want);
		assert_true(peer_has(w, "peer/office", "10.50.0.0/24", cidr_equal));
		snprintf(want, sizeof(want), "location/%s", attackers[k]);
		assert_false(peer_has(w, want, "10.50.0.7/32", cidr_overlaps));
		world_free(w);
	}
}

/* In cross granularity every usable node is a peer of its own, and a
 * location's allowed-location-ips go to its leader's: joining the victim's
 * location (and leading it, being first by name) must not put the
 * victim's pod CIDR or private IP on the attacker's peer too. The leader's
 * own ranges stay its location's to announce. */
static void test_cross_location_claim_cannot_take_a_members_ranges(void **state)
{
	static const struct {
		const char *claim, *hit;
	} cases[] = {
		{ "10.244.1.0/24", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "10.244.1.128/25", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "192.168.1.10/32", "overlaps private IP 192.168.1.10/32 of node a" },
		{ "192.168.1.0/24", "overlaps private IP 192.168.1.10/32 of node a" },
		{ "192.168.9.0/24", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world *w = world_new();
		char ann[64], want[256] = "";
		const char *annotations[] = { "location=a", ann, NULL };

		w->o.granularity = GRANULARITY_CROSS;
		snprintf(ann, sizeof(ann), "allowed-location-ips=%s", cases[i].claim);
		add_node(w, "0-evil", KEY_E, "10.244.9.0/24", "192.168.9.10", annotations);
		compute(w, "b");
		if (cases[i].hit)
			snprintf(want, sizeof(want), "node 0-evil: allowed-location-ip %s ignored: %s\n",
				 cases[i].claim, cases[i].hit);
		assert_string_equal(rejections(w), want);
		assert_int_equal(peer_has(w, "node/0-evil", cases[i].claim, cidr_equal), !cases[i].hit);
		assert_true(peer_has(w, "node/a", "10.244.1.0/24", cidr_equal));
		assert_true(peer_has(w, "node/a", "192.168.1.10/32", cidr_equal));
		world_free(w);
	}
}

static const char *victim_peer(const struct world *w)
{
	return w->o.granularity == GRANULARITY_LOCATION ? "location/a" : "node/a";
}

/* Whether any route of the plan goes to net. */
static bool routes_to(const struct world *w, const char *net)
{
	struct cidr c;

	assert_int_equal(cidr_parse(net, &c), 0);
	for (size_t i = 0; i < w->plan.n_routes; i++)
		if (cidr_equal(&w->plan.routes[i].dst, &c))
			return true;
	return false;
}

/* A Node's pod CIDR (its creator's to set, or nodes/patch's while empty)
 * goes to its peer on every node: one over a cluster range, another
 * node's pod CIDR, or wider than a node's can be is left out, with the
 * node when it has no other, in every granularity; the local node then
 * has nothing to route and says why. */
static void test_pod_cidr_cannot_claim_cluster_ranges(void **state)
{
	static const struct {
		const char *pod_cidr, *hit;
	} cases[] = {
		{ "10.244.1.0/24", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "10.244.1.128/25", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "10.244.0.0/16", "overlaps pod CIDR 10.244.1.0/24 of node a" },
		{ "10.4.7.0/24", "overlaps WireGuard subnet 10.4.0.0/16" },
		{ "10.96.5.0/24", "overlaps service CIDR 10.96.0.0/12" },
		{ "0.0.0.0/0", "wider than /16" },
		{ "128.0.0.0/1", "wider than /16" },
		{ "::/0", "wider than /48" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int g = GRANULARITY_LOCATION; g <= GRANULARITY_CROSS; g++) {
			struct world *w = world_new();
			struct plan plan;
			struct error err;
			char want[256];

			w->o.granularity = (enum granularity)g;
			add_node(w, "z-evil", KEY_E, cases[i].pod_cidr, "192.168.9.10", NULL);
			compute(w, "b");
			snprintf(want, sizeof(want), "node z-evil: pod CIDR %s ignored: %s\n",
				 cases[i].pod_cidr, cases[i].hit);
			assert_string_equal(rejections(w), want);
			assert_null(peer_named(w, "location/z-evil"));
			assert_null(peer_named(w, "node/z-evil"));
			assert_true(peer_has(w, victim_peer(w), "10.244.1.0/24", cidr_equal));
			assert_int_equal(routes_to(w, cases[i].pod_cidr),
					 !strcmp(cases[i].pod_cidr, "10.244.1.0/24"));
			assert_int_equal(topology_compute(&w->c, "z-evil", &w->o, &plan, &err), -1);
			snprintf(want, sizeof(want), "topology: no pod CIDR left: node z-evil: pod CIDR %s "
				 "ignored: %s", cases[i].pod_cidr, cases[i].hit);
			assert_string_equal(err.msg, want);
			world_free(w);
		}
	}
}

/* Two nodes with one pod CIDR: the first by name keeps it in every
 * granularity (cross too, where each would be a peer of its own). */
static void test_repeated_pod_cidr_goes_to_the_first_by_name(void **state)
{
	(void)state;
	for (int g = GRANULARITY_LOCATION; g <= GRANULARITY_CROSS; g++) {
		struct world *w = world_new();

		w->o.granularity = (enum granularity)g;
		add_node(w, "0-first", KEY_E, "10.244.2.0/24", "192.168.9.10", NULL);
		compute(w, "a");
		assert_string_equal(rejections(w), "node b: pod CIDR 10.244.2.0/24 ignored: "
				    "overlaps pod CIDR 10.244.2.0/24 of node 0-first\n");
		assert_true(peer_has(w, g == GRANULARITY_LOCATION ? "location/0-first" : "node/0-first",
				     "10.244.2.0/24", cidr_equal));
		assert_null(peer_named(w, g == GRANULARITY_LOCATION ? "location/b" : "node/b"));
		world_free(w);
	}
}

/* A node's private IP goes to its peer as a host network, which WireGuard
 * prefers to any wider range: one set by annotation inside another
 * node's pod CIDR, the WireGuard subnet or a service CIDR is not routed. */
static void test_private_ip_cannot_take_an_address(void **state)
{
	static const struct {
		const char *ip, *host, *hit;
	} cases[] = {
		{ "10.244.1.5/24", "10.244.1.5/32", "inside pod CIDR 10.244.1.0/24 of node a" },
		{ "10.4.0.1/16", "10.4.0.1/32", "inside WireGuard subnet 10.4.0.0/16" },
		{ "10.96.0.1/12", "10.96.0.1/32", "inside service CIDR 10.96.0.0/12" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int g = GRANULARITY_LOCATION; g <= GRANULARITY_CROSS; g++) {
			struct world *w = world_new();
			char ann[64], want[256];
			const char *annotations[] = { ann, NULL };

			w->o.granularity = (enum granularity)g;
			snprintf(ann, sizeof(ann), "internal-ip=%s", cases[i].ip);
			add_node(w, "0-evil", KEY_E, "10.244.9.0/24", "192.168.9.10", annotations);
			compute(w, "b");
			snprintf(want, sizeof(want), "node 0-evil: private IP %s not routed: %s\n",
				 cases[i].host, cases[i].hit);
			assert_string_equal(rejections(w), want);
			snprintf(want, sizeof(want), "%s/0-evil",
				 g == GRANULARITY_LOCATION ? "location" : "node");
			assert_true(peer_has(w, want, "10.244.9.0/24", cidr_equal));
			assert_false(peer_has(w, want, cases[i].host, cidr_equal));
			assert_false(routes_to(w, cases[i].host));
			world_free(w);
		}
	}
}

/* Kilo's annotation names are read too: they must be held to the same rules. */
static void test_kilo_annotation_held_to_same_rules(void **state)
{
	static const char *const annotations[] = { "kilo.squat.ai/allowed-location-ips=10.244.1.0/25", NULL };
	struct world *w = world_new();

	(void)state;
	add_node(w, "evil", KEY_E, "10.244.9.0/24", "192.168.9.10", annotations);
	compute(w, "b");
	assert_string_equal(rejections(w), "node evil: allowed-location-ip 10.244.1.0/25 ignored: "
			    "overlaps pod CIDR 10.244.1.0/24 of node a\n");
	assert_true(peer_has(w, "location/a", "10.244.1.0/25", cidr_overlaps));
	world_free(w);
}

static void log_rejections(void *plan)
{
	plan_log_rejections(NULL, plan);
}

/* A rejection reaches the log (warn), naming the object and the range. */
static void test_rejection_is_logged(void **state)
{
	static const char *const annotations[] = { "allowed-location-ips=10.244.2.0/24", NULL };
	struct world *w = world_new();
	char out[1024];

	(void)state;
	add_node(w, "evil", KEY_E, "10.244.9.0/24", "192.168.9.10", annotations);
	compute(w, "a");
	capture_stderr(log_rejections, &w->plan, out, sizeof(out));
	assert_non_null(strstr(out, "warn: node evil: allowed-location-ip 10.244.2.0/24 ignored: "
				    "overlaps pod CIDR 10.244.2.0/24 of node b"));
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_annotation_cannot_claim_cluster_ranges),
		cmocka_unit_test(test_peer_cannot_claim_cluster_ranges),
		cmocka_unit_test(test_node_annotation_cannot_take_a_peers_range),
		cmocka_unit_test(test_cross_location_claim_cannot_take_a_members_ranges),
		cmocka_unit_test(test_pod_cidr_cannot_claim_cluster_ranges),
		cmocka_unit_test(test_repeated_pod_cidr_goes_to_the_first_by_name),
		cmocka_unit_test(test_private_ip_cannot_take_an_address),
		cmocka_unit_test(test_kilo_annotation_held_to_same_rules),
		cmocka_unit_test(test_rejection_is_logged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
