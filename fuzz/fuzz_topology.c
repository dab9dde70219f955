// SPDX-License-Identifier: GPL-2.0-or-later
/* The topology on small clusters drawn from the input: overlapping pod
 * CIDRs, claims over cluster ranges, missing keys, NotReady leaders. For
 * every node's plan: no two peers hold the same allowed IP (WireGuard
 * would silently move it to the last one; nested prefixes are fine, the
 * longest match wins), no allowed IP overlaps a service CIDR or covers more
 * of the WireGuard subnet than one address, and the same model gives the
 * same plan twice. */
#include "topology.h"
#include "fuzz.h"

#define MAX_NODES 6
#define MAX_PEERS 3

struct bytes {
	const uint8_t *p;
	size_t n;
};

static uint8_t next(struct bytes *b)
{
	if (!b->n)
		return 0;
	b->n--;
	return *b->p++;
}

/* A network near the cluster's ranges, so collisions are common. */
static struct cidr draw_cidr(struct bytes *b)
{
	static const char *const bases[] = { "10.244.0.0", "10.4.0.0", "10.96.0.0", "172.16.0.0",
					     "192.168.0.0", "0.0.0.0", "fd00::", "10.0.0.0" };
	uint8_t which = next(b), third = next(b), prefix = next(b);
	struct cidr c;

	if (ip_parse(bases[which % 8], &c.ip) < 0)
		abort();
	c.ip.bytes[c.ip.family == AF_INET6 ? 7 : 2] = third;
	c.prefix = (uint8_t)(prefix % (ip_family_bits(c.ip.family) + 1));
	return cidr_network(&c);
}

static struct cidr pod_cidr(uint8_t third)
{
	struct cidr c;

	if (cidr_parse("10.244.0.0/24", &c) < 0)
		abort();
	c.ip.bytes[2] = third;
	return c;
}

static void draw_node(struct bytes *b, struct node *n, size_t i)
{
	uint8_t flags = next(b);

	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "n%zu", i);
	snprintf(n->location, sizeof(n->location), "%s", (const char *[]){ "", "a", "b", "c" }[flags & 3]);
	/* Mostly a /24 of its own; else one that may nest, repeat or cover a
	 * cluster range (the claim check must leave it out). */
	n->pod_cidrs[n->n_pod_cidrs++] = next(b) & 1 ? draw_cidr(b) : pod_cidr((uint8_t)i);
	if (flags & 4) {
		n->has_internal_ip = ip_parse("192.168.0.0", &n->internal_ip.ip) == 0;
		n->internal_ip.ip.bytes[2] = next(b) & 3;
		n->internal_ip.ip.bytes[3] = next(b);
		n->internal_ip.prefix = 24;
	}
	snprintf(n->endpoint.host, sizeof(n->endpoint.host), "198.51.100.%zu", i + 1);
	n->endpoint.port = 51820;
	n->has_public_endpoint = flags & 8;
	n->has_key = !(flags & 16);
	memset(n->public_key.bytes, (int)i + 1, WG_KEY_LEN);
	n->ready = !(flags & 32);
	n->leader = flags & 64;
	n->persistent_keepalive = flags & 128 ? 25 : 0;
	if (next(b) & 1) {
		n->has_wireguard_ip = ip_parse("10.4.0.0", &n->wireguard_ip.ip) == 0;
		n->wireguard_ip.ip.bytes[3] = next(b);
		n->wireguard_ip.prefix = 16;
	}
	n->n_allowed_location_ips = next(b) % 3;
	for (size_t j = 0; j < n->n_allowed_location_ips; j++)
		n->allowed_location_ips[j] = draw_cidr(b);
}

static void draw_peer(struct bytes *b, struct peer *p, size_t i)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "p%zu", i);
	memset(p->public_key.bytes, 0x80 + (int)i, WG_KEY_LEN);
	p->n_allowed_ips = next(b) % 3 + 1;
	for (size_t j = 0; j < p->n_allowed_ips; j++)
		p->allowed_ips[j] = draw_cidr(b);
}

static void check_plan(const struct plan *p, const struct topology_options *o)
{
	for (size_t i = 0; i < p->n_peers; i++) {
		for (size_t x = 0; x < p->peers[i].n_allowed_ips; x++) {
			const struct cidr *a = &p->peers[i].allowed_ips[x];

			for (size_t s = 0; s < o->n_service_cidrs; s++)
				FUZZ_CHECK(!cidr_overlaps(a, &o->service_cidrs[s]));
			if (cidr_overlaps(a, &o->subnet))
				FUZZ_CHECK(a->prefix == ip_family_bits(a->ip.family));
			for (size_t j = i + 1; j < p->n_peers; j++)
				for (size_t y = 0; y < p->peers[j].n_allowed_ips; y++)
					FUZZ_CHECK(!cidr_equal(a, &p->peers[j].allowed_ips[y]));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes b = { data, size };
	struct node nodes[MAX_NODES];
	struct peer peers[MAX_PEERS];
	struct cluster c = { .nodes = nodes, .peers = peers };
	struct topology_options o;
	uint8_t shape = next(&b);

	if (topology_options_default(&o) < 0 || cidr_parse("10.96.0.0/12", &o.service_cidrs[0]) < 0)
		abort();
	o.n_service_cidrs = 1;
	o.granularity = (enum granularity)(shape % 3);
	c.n_nodes = (size_t)(shape >> 2) % MAX_NODES + 1;
	c.n_peers = (size_t)(shape >> 5) % (MAX_PEERS + 1);
	for (size_t i = 0; i < c.n_nodes; i++)
		draw_node(&b, &nodes[i], i);
	for (size_t i = 0; i < c.n_peers; i++)
		draw_peer(&b, &peers[i], i);
	for (size_t i = 0; i < c.n_nodes; i++) {
		struct plan first = { 0 }, again = { 0 };
		struct error err;
		int rc = topology_compute(&c, nodes[i].name, &o, &first, &err);

		FUZZ_CHECK(topology_compute(&c, nodes[i].name, &o, &again, &err) == rc);
		if (rc == 0) {
			check_plan(&first, &o);
			FUZZ_CHECK(plan_equal(&first, &again));
		}
		plan_free(&first);
		plan_free(&again);
	}
	return 0;
}
