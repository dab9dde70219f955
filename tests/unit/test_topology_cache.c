// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The topology cache against topology_compute: random sequences of node
 * additions, changes and deletions (and of external peers) on a generated
 * cluster; after every step each cache's plan must equal the full
 * computation's, peer by peer and route by route, and say "changed"
 * exactly when the full plan changed. Plus the cases that pick the path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "topology.h"

#define MAX_NODES 40
#define N_PEERS 3
#define N_SELVES 2
#define N_GRANS 3
/* Few keys, so discovered endpoints often match a node or a peer. */
#define KEYS 24
#define MAX_FOUND 2 /* discovered endpoints per node */

struct world {
	struct node nodes[MAX_NODES];
	struct peer peers[N_PEERS];
	/* Node i's discovered endpoints are at [i * MAX_FOUND ...]. */
	struct discovered_endpoint discovered[MAX_NODES * MAX_FOUND];
	struct cluster c;
	uint64_t rng;
	unsigned next_id;
	bool tame; /* no conflicts but duplicate private IPs: few rejections */
};

static unsigned rnd(struct world *w, unsigned n)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (unsigned)(w->rng % n);
}

static struct cidr cidr_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct cidr cidr_of(const char *fmt, ...)
{
	char buf[64];
	struct cidr c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(cidr_parse_host(buf, &c), 0);
	return c;
}

/* Endpoints: mostly IP literals in a small range (so they collide with
 * private IPs and each other), sometimes a DNS name. */
static void random_endpoint(struct world *w, struct endpoint *e)
{
	if (rnd(w, 8) == 0)
		snprintf(e->host, sizeof(e->host), "gw%u.example", rnd(w, 4));
	else if (w->tame)
		snprintf(e->host, sizeof(e->host), "203.0.113.%u", 1 + rnd(w, 40));
	else
		snprintf(e->host, sizeof(e->host), "192.168.%u.%u", rnd(w, 2), 1 + rnd(w, 40));
	e->port = (uint16_t)(51820 + rnd(w, 3));
}

/* Mostly the node's own /24; sometimes another's, or one the claim check
 * rejects (over the subnet or the service CIDR, over others', too wide). */
static void random_pods(struct world *w, struct node *n, unsigned id)
{
	static const char *const rejected[] = { "10.4.0.0/24", "172.17.0.0/25", "10.244.0.0/20",
						"10.0.0.0/8" };
	unsigned r = w->tame ? 3 : rnd(w, 12);

	if (r == 0)
		n->pod_cidrs[0] = cidr_of("%s", rejected[rnd(w, 4)]);
	else
		n->pod_cidrs[0] = cidr_of("10.244.%u.0/24", r <= 2 ? rnd(w, 4) : id);
	n->n_pod_cidrs = 1;
	if (rnd(w, 2))
		n->pod_cidrs[n->n_pod_cidrs++] = cidr_of("fd00:%x::/64", id + 1);
}

static void random_location(struct world *w, struct node *n)
{
	static const char *const locations[] = { "", "aws", "gcp", "home", "zz" };

	snprintf(n->location, sizeof(n->location), "%s", locations[rnd(w, 5)]);
}

static void random_internal_ip(struct world *w, struct node *n)
{
	n->has_internal_ip = rnd(w, 6) != 0;
	n->internal_ip = cidr_of("192.168.%u.%u/24", rnd(w, 2), 1 + rnd(w, 40));
}

static void random_key(struct world *w, struct node *n)
{
	memset(n->public_key.bytes, 0, WG_KEY_LEN);
	n->public_key.bytes[0] = (uint8_t)(1 + rnd(w, KEYS));
}

/* Node n's run of the world's discovered endpoints. */
static struct discovered_endpoint *discovered_of(struct world *w, struct node *n)
{
	n->first_discovered = (size_t)(n - w->nodes) * MAX_FOUND;
	return &w->discovered[n->first_discovered];
}

static void random_discovered(struct world *w, struct node *n)
{
	struct discovered_endpoint *d = discovered_of(w, n);

	n->n_discovered = rnd(w, MAX_FOUND + 1);
	for (size_t i = 0; i < n->n_discovered; i++) {
		memset(&d[i], 0, sizeof(d[i]));
		d[i].key.bytes[0] = (uint8_t)(1 + rnd(w, KEYS));
		random_endpoint(w, &d[i].endpoint);
	}
}

/* A range of nobody's, or over nodes' pod CIDRs or private IPs (which
 * cross granularity rejects unless the location's leader holds them). */
static void random_location_ips(struct world *w, struct node *n)
{
	static const char *const nets[] = { "172.16.%u.0/24", "10.244.%u.128/25", "192.168.%u.0/24" };

	n->n_allowed_location_ips = !w->tame && rnd(w, 4) == 0;
	n->allowed_location_ips[0] = cidr_of(nets[rnd(w, 3)], rnd(w, 4));
}

static void random_wireguard_ip(struct world *w, struct node *n)
{
	n->has_wireguard_ip = rnd(w, 3) == 0;
	n->wireguard_ip = cidr_of("10.4.%u.%u/16", rnd(w, 2), 1 + rnd(w, 8));
}

static void random_node(struct world *w, struct node *n, unsigned id)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "n%03u", id);
	random_location(w, n);
	random_pods(w, n, id);
	random_internal_ip(w, n);
	random_endpoint(w, &n->endpoint);
	n->has_public_endpoint = rnd(w, 4) == 0;
	random_key(w, n);
	n->has_key = rnd(w, 8) != 0;
	n->ready = rnd(w, 6) != 0;
	n->leader = rnd(w, 8) == 0;
	n->persistent_keepalive = rnd(w, 4) == 0 ? 25 : 0;
	random_wireguard_ip(w, n);
	random_location_ips(w, n);
	random_discovered(w, n);
}

static void random_peer(struct world *w, struct peer *p, unsigned i)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "p%u", i);
	p->public_key.bytes[0] = (uint8_t)(1 + rnd(w, KEYS));
	p->allowed_ips[0] = w->tame ? cidr_of("172.20.%u.0/24", i)
				    : cidr_of("172.%u.%u.0/24", 16 + rnd(w, 2), rnd(w, 4));
	p->n_allowed_ips = 1;
	if (rnd(w, 2))
		random_endpoint(w, &p->endpoint);
	p->persistent_keepalive = rnd(w, 2) ? 0 : 10;
}

/* Names sort by id; nodes 0 and 1 are the local ones and stay. */
static void add_node(struct world *w)
{
	struct node *n = &w->nodes[w->c.n_nodes++];

	random_node(w, n, w->next_id++);
}

/* Node i's run of discovered endpoints moves with it. */
static void move_nodes(struct world *w, size_t to, size_t from, size_t n)
{
	memmove(&w->nodes[to], &w->nodes[from], n * sizeof(struct node));
	memmove(&w->discovered[to * MAX_FOUND], &w->discovered[from * MAX_FOUND],
		n * MAX_FOUND * sizeof(w->discovered[0]));
	for (size_t j = to; j < to + n; j++)
		w->nodes[j].first_discovered = j * MAX_FOUND;
}

static void delete_node(struct world *w)
{
	size_t i = 2 + rnd(w, (unsigned)w->c.n_nodes - 2);

	move_nodes(w, i, i + 1, w->c.n_nodes - i - 1);
	w->c.n_nodes--;
}

static unsigned id_of(const struct node *n)
{
	return (unsigned)atoi(n->name + 1);
}

/* A node joining at index i, named after id: a new one has mostly not
 * discovered any endpoint yet. */
static void join_node(struct world *w, size_t i, unsigned id)
{
	move_nodes(w, i + 1, i, w->c.n_nodes - i);
	w->c.n_nodes++;
	random_node(w, &w->nodes[i], id);
	if (rnd(w, 3))
		w->nodes[i].n_discovered = 0;
}

/* A node that left comes back, among the others by name; or a new one
 * when none left. */
static void rejoin_node(struct world *w)
{
	unsigned start = rnd(w, w->next_id);

	for (unsigned k = 0; k < w->next_id; k++) {
		unsigned id = (start + k) % w->next_id;
		size_t i = 0;

		while (i < w->c.n_nodes && id_of(&w->nodes[i]) < id)
			i++;
		if (id >= 2 && (i == w->c.n_nodes || id_of(&w->nodes[i]) != id)) {
			join_node(w, i, id);
			return;
		}
	}
	join_node(w, w->c.n_nodes, w->next_id++);
}

/* Mostly what the cache patches (key, endpoint, keepalive), else
 * anything. */
static void modify_node(struct world *w)
{
	struct node *n = &w->nodes[rnd(w, (unsigned)w->c.n_nodes)];
	unsigned id = id_of(n);

	switch (rnd(w, 16)) {
	case 0: case 1: case 2: n->endpoint.port ^= 1; break;
	case 3: case 4: random_endpoint(w, &n->endpoint); break;
	case 5: random_key(w, n); break;
	case 6: n->persistent_keepalive = n->persistent_keepalive ? 0 : 25; break;
	case 7: n->ready = !n->ready; break;
	case 8: random_pods(w, n, id); break;
	case 9: random_location(w, n); break;
	case 10: n->leader = !n->leader; break;
	case 11: random_wireguard_ip(w, n); break;
	case 12: random_discovered(w, n); break;
	case 13: random_location_ips(w, n); break;
	case 14: n->has_key = !n->has_key; break;
	default: random_internal_ip(w, n); break;
	}
}

/* A node of location, at random among those that are (not) Ready. */
static struct node *node_in(struct world *w, const char *location, bool ready)
{
	struct node *found = NULL;
	unsigned seen = 0;

	for (size_t i = 0; i < w->c.n_nodes; i++)
		if (!strcmp(w->nodes[i].location, location) && w->nodes[i].ready == ready &&
		    rnd(w, ++seen) == 0)
			found = &w->nodes[i];
	return found;
}

/* Node n publishes address ip as its WireGuard IP, as agents do. */
static void publish(struct node *n, struct cidr ip)
{
	n->wireguard_ip = ip;
	n->has_wireguard_ip = true;
}

/* What moves a location's leader (plan: the last step's, which names
 * them): the leader turns NotReady (the next one takes over), a node of
 * the location turns Ready (and may take the lead), or one's leader
 * annotation flips; and what agents do after: the leader publishes the
 * location's address, another node withdraws its own. Else any change. */
static void move_leader(struct world *w, const struct plan *plan)
{
	size_t k = plan->n_segments ? rnd(w, (unsigned)plan->n_segments) : 0;
	const struct plan_segment *s = plan->n_segments ? &plan->segments[k] : NULL;
	struct node *n;

	if (!s || strncmp(s->name, "location/", 9) || s->leader == PLAN_NO_LEADER) {
		modify_node(w);
		return;
	}
	switch (rnd(w, 5)) {
	case 0: w->nodes[s->leader].ready = false; break;
	case 1:
		n = node_in(w, s->location, false);
		if (n)
			n->ready = true;
		break;
	case 2:
		n = node_in(w, s->location, true);
		if (n)
			n->leader = !n->leader;
		break;
	case 3: publish(&w->nodes[s->leader], s->wireguard_ip); break;
	default:
		n = node_in(w, s->location, rnd(w, 2));
		if (n)
			n->has_wireguard_ip = false;
		break;
	}
}

/* A node publishes the address its segment got in plan (any
 * granularity), as its agent does: a location's leader the location's, a
 * node in cross granularity or a lone one its own. */
static void publish_got(struct world *w, const struct plan *plan)
{
	const struct plan_segment *s;

	if (!plan || !plan->n_segments)
		return;
	s = &plan->segments[rnd(w, (unsigned)plan->n_segments)];
	if (s->leader != PLAN_NO_LEADER)
		publish(&w->nodes[s->leader], s->wireguard_ip);
}

/* plans: the last step's full plans per granularity (location, cross,
 * full), or NULL. */
static void step(struct world *w, const struct plan *const plans[N_GRANS])
{
	unsigned r = rnd(w, 20), p = rnd(w, N_PEERS);
	const struct plan *plan = plans[0];

	if (r == 0 && w->c.n_nodes < MAX_NODES)
		join_node(w, w->c.n_nodes, w->next_id++);
	else if (r == 1 && w->c.n_nodes < MAX_NODES)
		rejoin_node(w);
	else if (r <= 3 && w->c.n_nodes > 3)
		delete_node(w);
	else if (r == 4)
		random_peer(w, &w->peers[p], p);
	else if (r <= 9 && plan)
		move_leader(w, plan);
	else if (r == 10)
		publish_got(w, plans[rnd(w, N_GRANS)]);
	else
		modify_node(w);
}

static void world_init(struct world *w, uint64_t seed, size_t n_nodes, bool tame)
{
	memset(w, 0, sizeof(*w));
	w->rng = seed;
	w->tame = tame;
	w->c.nodes = w->nodes;
	w->c.peers = w->peers;
	w->c.discovered = w->discovered;
	w->c.n_discovered = MAX_NODES * MAX_FOUND;
	w->c.n_peers = N_PEERS;
	for (size_t i = 0; i < n_nodes; i++)
		add_node(w);
	for (unsigned i = 0; i < N_PEERS; i++)
		random_peer(w, &w->peers[i], i);
	/* The local nodes need a pod CIDR, or there is no plan at all. */
	w->nodes[0].ready = w->nodes[1].ready = true;
}

/* ---- Comparing plans ----------------------------------------------------- */

static void assert_cidrs_equal(const struct cidr *a, size_t na, const struct cidr *b, size_t nb)
{
	char x[CIDR_STRLEN], y[CIDR_STRLEN];

	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(cidr_format(&a[i], x), cidr_format(&b[i], y));
}

static void assert_peers_equal(const struct plan *a, const struct plan *b)
{
	assert_int_equal(a->n_peers, b->n_peers);
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct plan_peer *p = &a->peers[i], *q = &b->peers[i];

		assert_string_equal(p->name, q->name);
		assert_memory_equal(p->public_key.bytes, q->public_key.bytes, WG_KEY_LEN);
		assert_string_equal(p->endpoint.host, q->endpoint.host);
		assert_int_equal(p->endpoint.port, q->endpoint.port);
		assert_int_equal(p->persistent_keepalive, q->persistent_keepalive);
		assert_int_equal(p->has_preshared_key, q->has_preshared_key);
		assert_cidrs_equal(p->allowed_ips, p->n_allowed_ips, q->allowed_ips, q->n_allowed_ips);
	}
}

static void assert_routes_equal(const struct plan *a, const struct plan *b)
{
	char x[CIDR_STRLEN], y[CIDR_STRLEN];

	assert_int_equal(a->n_routes, b->n_routes);
	for (size_t i = 0; i < a->n_routes; i++) {
		const struct route *r = &a->routes[i], *s = &b->routes[i];

		assert_string_equal(cidr_format(&r->dst, x), cidr_format(&s->dst, y));
		assert_true(ip_equal(&r->gateway, &s->gateway));
		assert_true(ip_equal(&r->src, &s->src));
		assert_string_equal(r->dev, s->dev);
		assert_int_equal(r->onlink, s->onlink);
		assert_int_equal(r->table, s->table);
	}
}

static void assert_segments_equal(const struct plan *a, const struct plan *b)
{
	char x[CIDR_STRLEN], y[CIDR_STRLEN];

	assert_int_equal(a->n_segments, b->n_segments);
	for (size_t i = 0; i < a->n_segments; i++) {
		const struct plan_segment *s = &a->segments[i], *t = &b->segments[i];

		assert_string_equal(s->name, t->name);
		assert_string_equal(s->location, t->location);
		assert_int_equal(s->leader, t->leader);
		assert_int_equal(s->n_members, t->n_members);
		assert_string_equal(cidr_format(&s->wireguard_ip, x), cidr_format(&t->wireguard_ip, y));
	}
}

static void assert_plans_equal(const struct plan *a, const struct plan *b)
{
	assert_peers_equal(a, b);
	assert_routes_equal(a, b);
	assert_segments_equal(a, b);
	assert_cidrs_equal(a->cluster_cidrs, a->n_cluster_cidrs, b->cluster_cidrs, b->n_cluster_cidrs);
	assert_int_equal(a->n_rejections, b->n_rejections);
	for (size_t i = 0; i < a->n_rejections; i++)
		assert_string_equal(a->rejections[i].msg, b->rejections[i].msg);
	assert_true(plan_equal(a, b));
}

/* ---- The property -------------------------------------------------------- */

/* One local node in one granularity: its cache, and the full plan of the
 * previous step (to know whether the plan changed). */
struct follower {
	struct topology_options o;
	const char *self;
	struct topology_cache *cache;
	struct plan prev;
	bool has_prev;
};

static void follow(struct follower *f, const struct cluster *c)
{
	struct plan full;
	struct error e1, e2;
	bool changed = false;
	int r_full = topology_compute(c, f->self, &f->o, &full, &e1);
	int r_cache = topology_cache_update(f->cache, c, f->self, &f->o, &changed, &e2);

	assert_int_equal(r_cache, r_full);
	if (r_full < 0) {
		assert_string_equal(e2.msg, e1.msg);
		plan_free(&f->prev);
		f->has_prev = false;
		return;
	}
	assert_plans_equal(topology_cache_plan(f->cache), &full);
	assert_int_equal(changed, !f->has_prev || !plan_equal(&f->prev, &full));
	plan_free(&f->prev);
	f->prev = full;
	f->has_prev = true;
}

static void add_stats(struct topology_cache_stats *sum, const struct topology_cache_stats *st)
{
	sum->computed += st->computed;
	sum->patched += st->patched;
	sum->unchanged += st->unchanged;
	sum->joined += st->joined;
	sum->left += st->left;
	sum->flipped += st->flipped;
	sum->new_leaders += st->new_leaders;
	sum->republished += st->republished;
}

/* sum: per granularity (location, cross, full). */
static void run_property(uint64_t seed, size_t n_nodes, unsigned steps, enum encapsulation encap,
			 bool tame, const char *subnet, struct topology_cache_stats sum[N_GRANS])
{
	static const enum granularity grans[N_GRANS] = { GRANULARITY_LOCATION, GRANULARITY_CROSS,
							 GRANULARITY_FULL };
	struct world *w = malloc(sizeof(*w));
	struct follower f[N_GRANS * N_SELVES];

	assert_non_null(w);
	world_init(w, seed, n_nodes, tame);
	for (size_t i = 0; i < N_GRANS * N_SELVES; i++) {
		f[i] = (struct follower){ .self = i % N_SELVES ? "n001" : "n000",
					  .cache = topology_cache_new() };
		assert_non_null(f[i].cache);
		assert_int_equal(topology_options_default(&f[i].o), 0);
		f[i].o.granularity = grans[i / N_SELVES];
		f[i].o.encapsulation = encap;
		f[i].o.subnet = cidr_of("%s", subnet);
		f[i].o.service_cidrs[f[i].o.n_service_cidrs++] = cidr_of("172.17.0.0/24");
	}
	for (unsigned s = 0; s < steps; s++) {
		const struct plan *plans[N_GRANS];

		for (size_t i = 0; i < N_GRANS * N_SELVES; i++)
			follow(&f[i], &w->c);
		for (size_t g = 0; g < N_GRANS; g++)
			plans[g] = f[g * N_SELVES].has_prev ? &f[g * N_SELVES].prev : NULL;
		step(w, plans);
	}
	for (size_t i = 0; i < N_GRANS * N_SELVES; i++) {
		struct topology_cache_stats st = topology_cache_stats(f[i].cache);

		add_stats(&sum[i / N_SELVES], &st);
		topology_cache_free(f[i].cache);
		plan_free(&f[i].prev);
	}
	free(w);
}

static void test_random_changes(void **state)
{
	struct topology_cache_stats sum[N_GRANS] = { { 0 } }, all = { 0 };

	(void)state;
	for (uint64_t seed = 1; seed <= 24; seed++)
		run_property(seed * 0x9e3779b97f4a7c15ull, 8 + (seed - 1) % 12 * 2, 150,
			     (enum encapsulation)(seed % 3), seed > 12,
			     seed % 2 ? "10.4.0.0/16" : "10.4.0.0/26", sum);
	for (size_t g = 0; g < N_GRANS; g++)
		add_stats(&all, &sum[g]);
	/* Every path was taken, so the comparison above covers each; nodes
	 * joining, leaving and turning (Not)Ready were patched in every
	 * granularity. */
	assert_true(all.computed > 100);
	assert_true(all.patched > 100);
	assert_true(all.unchanged > 100);
	for (size_t g = 0; g < N_GRANS; g++) {
		assert_true(sum[g].joined >= 30);
		assert_true(sum[g].left >= 25);
		assert_true(sum[g].flipped >= 25);
	}
	/* A remote location's leader handed over, patched where leaders
	 * lead a location (in full granularity every node leads itself). */
	assert_true(sum[0].new_leaders >= 25);
	assert_true(sum[1].new_leaders >= 25);
	/* ... and the addresses agents publish after, in every granularity. */
	for (size_t g = 0; g < N_GRANS; g++)
		assert_true(sum[g].republished >= 25);
}

/* ---- The path each change takes ------------------------------------------ */

/* A Ready, usable node named name in location, numbered i for its
 * networks, its private IP in LAN 192.168.lan.0/24. */
static void plain_node(struct node *n, const char *name, const char *location, unsigned i,
		       unsigned lan)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->location, sizeof(n->location), "%s", location);
	n->pod_cidrs[0] = cidr_of("10.244.%u.0/24", i);
	n->n_pod_cidrs = 1;
	n->internal_ip = cidr_of("192.168.%u.%u/24", lan, 1 + i);
	n->has_internal_ip = true;
	snprintf(n->endpoint.host, sizeof(n->endpoint.host), "203.0.113.%u", 1 + i);
	n->endpoint.port = 51820;
	n->public_key.bytes[0] = (uint8_t)(1 + i);
	n->has_key = n->ready = true;
}

/* n000 and n001 in aws, n002 and n003 in gcp. */
static struct world *two_locations(void)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->c.nodes = w->nodes;
	w->c.peers = w->peers;
	w->c.discovered = w->discovered;
	w->c.n_discovered = MAX_NODES * MAX_FOUND;
	for (unsigned i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%03u", i);
		plain_node(&w->nodes[w->c.n_nodes++], name, i < 2 ? "aws" : "gcp", i, i / 2);
	}
	return w;
}

/* Room for a node at index i (it keeps the model sorted by name). */
static struct node *insert_at(struct world *w, size_t i)
{
	move_nodes(w, i + 1, i, w->c.n_nodes - i);
	w->c.n_nodes++;
	return &w->nodes[i];
}

static void remove_at(struct world *w, size_t i)
{
	move_nodes(w, i, i + 1, w->c.n_nodes - i - 1);
	w->c.n_nodes--;
}

struct expect {
	unsigned long computed, patched, unchanged;
	bool changed;
};

/* An update of self's plan in granularity g, compared with the full
 * computation, taking the path want says. */
static void update_as(struct topology_cache *cache, const struct world *w, const char *self,
		      enum granularity g, const struct expect *want)
{
	struct topology_options o;
	struct topology_cache_stats st;
	struct plan full;
	struct error err;
	bool changed;

	assert_int_equal(topology_options_default(&o), 0);
	o.granularity = g;
	assert_int_equal(topology_cache_update(cache, &w->c, self, &o, &changed, &err), 0);
	assert_int_equal(topology_compute(&w->c, self, &o, &full, &err), 0);
	assert_plans_equal(topology_cache_plan(cache), &full);
	plan_free(&full);
	st = topology_cache_stats(cache);
	assert_int_equal(st.computed, want->computed);
	assert_int_equal(st.patched, want->patched);
	assert_int_equal(st.unchanged, want->unchanged);
	assert_int_equal(changed, want->changed);
}

static void update_in(struct topology_cache *cache, const struct world *w, enum granularity g,
		      const struct expect *want)
{
	update_as(cache, w, "n000", g, want);
}

static void update_expecting(struct topology_cache *cache, const struct world *w,
			     const struct expect *want)
{
	update_in(cache, w, GRANULARITY_LOCATION, want);
}

/* How many updates were a node joining, leaving, turning (Not)Ready, and
 * how many handed a remote location's lead over. */
static void assert_kinds(const struct topology_cache *cache, unsigned long joined,
			 unsigned long left, unsigned long flipped, unsigned long new_leaders)
{
	struct topology_cache_stats st = topology_cache_stats(cache);

	assert_int_equal(st.joined, joined);
	assert_int_equal(st.left, left);
	assert_int_equal(st.flipped, flipped);
	assert_int_equal(st.new_leaders, new_leaders);
}

static void test_paths(void **state)
{
	struct world *w = two_locations();
	struct discovered_endpoint *found0 = discovered_of(w, &w->nodes[0]);
	struct discovered_endpoint *found1 = discovered_of(w, &w->nodes[1]);
	struct topology_cache *cache = topology_cache_new();
	struct topology_options o;
	struct error err;
	bool changed;

	(void)state;
	assert_non_null(cache);
	assert_int_equal(topology_options_default(&o), 0);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	update_expecting(cache, w, &(struct expect){ 1, 0, 1, false });
	/* gcp's leader moves its port: its peer is patched. */
	w->nodes[2].endpoint.port = 51821;
	update_expecting(cache, w, &(struct expect){ 1, 1, 1, true });
	/* ... rotates its key: patched too. */
	w->nodes[2].public_key.bytes[1] = 7;
	update_expecting(cache, w, &(struct expect){ 1, 2, 1, true });
	/* gcp's other node carries no peer: nothing changes. */
	w->nodes[3].endpoint.port = 51821;
	update_expecting(cache, w, &(struct expect){ 1, 2, 2, false });
	/* The leader's endpoint moves to an address no route holds: patched. */
	snprintf(w->nodes[2].endpoint.host, sizeof(w->nodes[2].endpoint.host), "203.0.113.99");
	update_expecting(cache, w, &(struct expect){ 1, 3, 2, true });
	/* ... to n003's private IP, which a tunnel route holds: that route
	 * is left out now, so the plan is recomputed. */
	snprintf(w->nodes[2].endpoint.host, sizeof(w->nodes[2].endpoint.host), "192.168.1.4");
	update_expecting(cache, w, &(struct expect){ 2, 3, 2, true });
	/* ... and back out: a hidden route comes back, recomputed. */
	snprintf(w->nodes[2].endpoint.host, sizeof(w->nodes[2].endpoint.host), "203.0.113.3");
	update_expecting(cache, w, &(struct expect){ 3, 3, 2, true });
	/* The leader turns NATed: it dials in (no endpoint), patched. */
	w->nodes[2].persistent_keepalive = 25;
	update_expecting(cache, w, &(struct expect){ 3, 4, 2, true });
	/* The local node discovers where it is: patched. */
	found0[0].key = w->nodes[2].public_key;
	snprintf(found0[0].endpoint.host, sizeof(found0[0].endpoint.host), "198.51.100.7");
	found0[0].endpoint.port = 40000;
	w->nodes[0].n_discovered = 1;
	update_expecting(cache, w, &(struct expect){ 3, 5, 2, true });
	/* Another node discovers it elsewhere: the first node by name wins,
	 * nothing changes. */
	found1[0] = found0[0];
	found1[0].endpoint.port = 40001;
	w->nodes[1].n_discovered = 1;
	update_expecting(cache, w, &(struct expect){ 3, 5, 3, false });
	/* A node of another location that does not lead it turns NotReady:
	 * its routes and AllowedIPs go, patched. */
	w->nodes[3].ready = false;
	update_expecting(cache, w, &(struct expect){ 3, 6, 3, true });
	/* ... and Ready again: back, patched. */
	w->nodes[3].ready = true;
	update_expecting(cache, w, &(struct expect){ 3, 7, 3, true });
	/* gcp's leader turns NotReady: n003 leads now, the gcp peer dials
	 * it, patched. */
	w->nodes[2].ready = false;
	update_expecting(cache, w, &(struct expect){ 3, 8, 3, true });
	/* ... and Ready again: it leads by name, patched. */
	w->nodes[2].ready = true;
	update_expecting(cache, w, &(struct expect){ 3, 9, 3, true });
	assert_kinds(cache, 0, 0, 4, 2);
	/* A node of the local location turns NotReady: recomputed. */
	w->nodes[1].ready = false;
	update_expecting(cache, w, &(struct expect){ 4, 9, 3, true });
	/* After an invalidation the plan is recomputed, and found unchanged. */
	topology_cache_invalidate(cache);
	update_expecting(cache, w, &(struct expect){ 5, 9, 3, false });
	/* The local node's keepalive is on every peer: recomputed. */
	w->nodes[0].persistent_keepalive = 25;
	update_expecting(cache, w, &(struct expect){ 6, 9, 3, true });
	/* A failed update leaves no plan; the next one says "changed". */
	w->nodes[0].n_pod_cidrs = 0;
	assert_int_equal(topology_cache_update(cache, &w->c, "n000", &o, &changed, &err), -1);
	assert_string_equal(err.msg, "topology: node n000: no pod CIDR yet");
	w->nodes[0].n_pod_cidrs = 1;
	update_expecting(cache, w, &(struct expect){ 7, 9, 3, true });
	topology_cache_free(cache);
	free(w);
}

/* The address of the plan's segment name. */
static struct cidr segment_address(const struct topology_cache *cache, const char *name)
{
	const struct plan *plan = topology_cache_plan(cache);

	for (size_t i = 0; i < plan->n_segments; i++)
		if (!strcmp(plan->segments[i].name, name))
			return plan->segments[i].wireguard_ip;
	fail_msg("no segment %s", name);
	return (struct cidr){ .prefix = 0 };
}

static void test_join_and_leave_paths(void **state)
{
	struct world *w = two_locations();
	struct topology_cache *cache = topology_cache_new();
	struct cidr gcp, moved;

	(void)state;
	assert_non_null(cache);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	/* A node joins gcp, after its leader: its networks come (routes, the
	 * gcp peer's AllowedIPs, cluster CIDRs), patched. */
	plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
	update_expecting(cache, w, &(struct expect){ 1, 1, 0, true });
	/* ... and leaves: they go, patched. */
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 1, 2, 0, true });
	/* One joins between gcp's nodes (the index of n003 moves): patched. */
	plain_node(insert_at(w, 3), "n002a", "gcp", 5, 1);
	update_expecting(cache, w, &(struct expect){ 1, 3, 0, true });
	remove_at(w, 3);
	update_expecting(cache, w, &(struct expect){ 1, 4, 0, true });
	/* A node without a location is a segment (and peer) of its own. */
	plain_node(insert_at(w, 4), "n004", "", 4, 2);
	update_expecting(cache, w, &(struct expect){ 1, 5, 0, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 1, 6, 0, true });
	assert_kinds(cache, 3, 3, 0, 0);
	/* A node joining gcp with the leader annotation would lead it:
	 * recomputed; leaving, it hands gcp back: recomputed. */
	plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
	w->nodes[4].leader = true;
	update_expecting(cache, w, &(struct expect){ 2, 6, 0, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 3, 6, 0, true });
	/* One with n003's pod CIDR would have it rejected: recomputed; and
	 * its leaving too, from a plan with a rejection. */
	plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
	w->nodes[4].pod_cidrs[0] = w->nodes[3].pod_cidrs[0];
	update_expecting(cache, w, &(struct expect){ 4, 6, 0, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 5, 6, 0, true });
	/* A lone node that published gcp's address takes it first (gcp only
	 * hashed its name), even NotReady (when nothing routes to it): gcp's
	 * address moves, recomputed. */
	gcp = segment_address(cache, "location/gcp");
	plain_node(insert_at(w, 4), "n004", "", 4, 2);
	w->nodes[4].wireguard_ip = gcp;
	w->nodes[4].has_wireguard_ip = true;
	w->nodes[4].ready = false;
	update_expecting(cache, w, &(struct expect){ 6, 6, 0, true });
	moved = segment_address(cache, "location/gcp");
	assert_false(cidr_equal(&moved, &gcp));
	/* ... leaving, it frees the address gcp probed past: gcp gets it
	 * back, recomputed. */
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 7, 6, 0, true });
	moved = segment_address(cache, "location/gcp");
	assert_true(cidr_equal(&moved, &gcp));
	assert_kinds(cache, 3, 3, 0, 0);
	topology_cache_free(cache);
	free(w);
}

/* In cross and full granularity a usable node has a peer of its own. */
static void test_cross_and_full_paths(void **state)
{
	static const enum granularity grans[] = { GRANULARITY_CROSS, GRANULARITY_FULL };

	(void)state;
	for (size_t g = 0; g < 2; g++) {
		struct world *w = two_locations();
		struct topology_cache *cache = topology_cache_new();

		assert_non_null(cache);
		update_in(cache, w, grans[g], &(struct expect){ 1, 0, 0, true });
		/* n003 (not gcp's leader) turns NotReady: its peer, routes and
		 * membership go, patched; Ready again: back, patched. */
		w->nodes[3].ready = false;
		update_in(cache, w, grans[g], &(struct expect){ 1, 1, 0, true });
		w->nodes[3].ready = true;
		update_in(cache, w, grans[g], &(struct expect){ 1, 2, 0, true });
		/* A node joins gcp, and leaves: patched. */
		plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
		update_in(cache, w, grans[g], &(struct expect){ 1, 3, 0, true });
		remove_at(w, 4);
		update_in(cache, w, grans[g], &(struct expect){ 1, 4, 0, true });
		assert_kinds(cache, 1, 1, 2, 0);
		/* gcp's leader turns NotReady, and Ready again: in cross n003
		 * leads gcp meanwhile (the peers stay, each usable node has its
		 * own); in full it leads only itself. Patched. */
		w->nodes[2].ready = false;
		update_in(cache, w, grans[g], &(struct expect){ 1, 5, 0, true });
		w->nodes[2].ready = true;
		update_in(cache, w, grans[g], &(struct expect){ 1, 6, 0, true });
		assert_kinds(cache, 1, 1, 4, grans[g] == GRANULARITY_CROSS ? 2 : 0);
		topology_cache_free(cache);
		free(w);
	}
}

/* Joins, leaves and flips the patches would get wrong: each recomputed. */
static void test_recomputed_members(void **state)
{
	struct world *w = two_locations();
	struct topology_cache *cache = topology_cache_new();
	struct cidr address;

	(void)state;
	assert_non_null(cache);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	/* A node joins gcp with the endpoint of gcp's leader for private IP:
	 * the route to it is left out (it would carry WireGuard's own
	 * packets); leaving, from a plan with that rejection. */
	plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
	w->nodes[4].internal_ip = cidr_of("%s/24", w->nodes[2].endpoint.host);
	update_expecting(cache, w, &(struct expect){ 2, 0, 0, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 3, 0, 0, true });
	/* A lone node joins whose endpoint is n003's private IP, which a
	 * route into the tunnels holds: that route is left out now. */
	plain_node(insert_at(w, 4), "n004", "", 4, 2);
	snprintf(w->nodes[4].endpoint.host, sizeof(w->nodes[4].endpoint.host), "192.168.1.4");
	update_expecting(cache, w, &(struct expect){ 4, 0, 0, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 5, 0, 0, true });
	/* A lone node joins (patched) and publishes the address it got
	 * (patched: it moves none), then a NotReady one that published the
	 * same (recomputed: taken). When the first leaves, the second would
	 * take the address: recomputed; the second leaving then: patched. */
	plain_node(insert_at(w, 4), "n004", "", 4, 2);
	update_expecting(cache, w, &(struct expect){ 5, 1, 0, true });
	address = segment_address(cache, "node/n004");
	w->nodes[4].wireguard_ip = address;
	w->nodes[4].has_wireguard_ip = true;
	update_expecting(cache, w, &(struct expect){ 5, 1, 1, false });
	plain_node(insert_at(w, 5), "n005", "", 5, 2);
	w->nodes[5].ready = false;
	w->nodes[5].wireguard_ip = address;
	w->nodes[5].has_wireguard_ip = true;
	update_expecting(cache, w, &(struct expect){ 6, 1, 1, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 7, 1, 1, true });
	remove_at(w, 4);
	update_expecting(cache, w, &(struct expect){ 7, 2, 1, true });
	/* A node joins gcp with n003's private IP (recomputed: it is
	 * taken); n003 turning NotReady hands that route to it: recomputed. */
	plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
	w->nodes[4].internal_ip = w->nodes[3].internal_ip;
	update_expecting(cache, w, &(struct expect){ 8, 2, 1, true });
	w->nodes[3].ready = false;
	update_expecting(cache, w, &(struct expect){ 9, 2, 1, true });
	topology_cache_free(cache);
	free(w);
}

/* n001 reaches gcp through its leader n000: over the underlay for IPv4
 * (one subnet), through the encapsulation for IPv6. A node joining with
 * an IPv4 pod CIDR copies a route (patched); but n003's IPv6 pod CIDR has
 * the only route of its family, so its going would take n000 off the
 * encapsulation's flood list, and its coming back would need a route of
 * a kind there is none of: recomputed. */
static void test_recomputed_flood_list(void **state)
{
	struct world *w = two_locations();
	struct topology_cache *cache = topology_cache_new();

	(void)state;
	assert_non_null(cache);
	w->nodes[3].pod_cidrs[w->nodes[3].n_pod_cidrs++] = cidr_of("fd00:3::/64");
	update_as(cache, w, "n001", GRANULARITY_LOCATION, &(struct expect){ 1, 0, 0, true });
	plain_node(insert_at(w, 4), "n004", "gcp", 4, 1);
	update_as(cache, w, "n001", GRANULARITY_LOCATION, &(struct expect){ 1, 1, 0, true });
	assert_int_equal(topology_cache_plan(cache)->n_encap_remotes, 1);
	w->nodes[3].ready = false;
	update_as(cache, w, "n001", GRANULARITY_LOCATION, &(struct expect){ 2, 1, 0, true });
	assert_int_equal(topology_cache_plan(cache)->n_encap_remotes, 0);
	w->nodes[3].ready = true;
	update_as(cache, w, "n001", GRANULARITY_LOCATION, &(struct expect){ 3, 1, 0, true });
	topology_cache_free(cache);
	free(w);
}

static bool gcp_has(const struct topology_cache *cache, const struct cidr *address)
{
	struct cidr now = segment_address(cache, "location/gcp");

	return cidr_equal(&now, address);
}

/* A first plan of w (computed); then gcp's leader n002 publishes gcp's
 * address, as its agent does (not updated yet). */
static struct cidr publish_gcp_address(struct topology_cache *cache, struct world *w)
{
	struct cidr gcp;

	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	gcp = segment_address(cache, "location/gcp");
	publish(&w->nodes[2], gcp);
	return gcp;
}

/* n000 and n001 in aws, n002, n003 and n004 in gcp (n002 leads it). */
static struct world *three_in_gcp(void)
{
	struct world *w = two_locations();

	plain_node(&w->nodes[w->c.n_nodes++], "n004", "gcp", 4, 1);
	return w;
}

/* gcp's lead moving every way it can, seen from aws's leader and from a
 * node that reaches gcp through it, in location and cross granularity:
 * each patched. */
static void test_new_leader_paths(void **state)
{
	static const enum granularity grans[] = { GRANULARITY_LOCATION, GRANULARITY_CROSS };
	static const char *const selves[] = { "n000", "n001" };

	(void)state;
	for (size_t k = 0; k < 4; k++) {
		struct world *w = three_in_gcp();
		struct topology_cache *cache = topology_cache_new();
		enum granularity g = grans[k / 2];
		const char *self = selves[k % 2];

		assert_non_null(cache);
		update_as(cache, w, self, g, &(struct expect){ 1, 0, 0, true });
		/* The leader turns NotReady: n003 takes over. */
		w->nodes[2].ready = false;
		update_as(cache, w, self, g, &(struct expect){ 1, 1, 0, true });
		/* Ready again: it takes the lead back (by name). */
		w->nodes[2].ready = true;
		update_as(cache, w, self, g, &(struct expect){ 1, 2, 0, true });
		/* n004 is annotated leader: it leads; then n003 too: n003 (by
		 * name); n003's annotation goes: n004 again. */
		w->nodes[4].leader = true;
		update_as(cache, w, self, g, &(struct expect){ 1, 3, 0, true });
		w->nodes[3].leader = true;
		update_as(cache, w, self, g, &(struct expect){ 1, 4, 0, true });
		w->nodes[3].leader = false;
		update_as(cache, w, self, g, &(struct expect){ 1, 5, 0, true });
		/* n002, not leading, turns NotReady; annotated meanwhile it
		 * changes nothing; Ready again, it leads (annotated, by name). */
		w->nodes[2].ready = false;
		update_as(cache, w, self, g, &(struct expect){ 1, 6, 0, true });
		w->nodes[2].leader = true;
		update_as(cache, w, self, g, &(struct expect){ 1, 6, 1, false });
		w->nodes[2].ready = true;
		update_as(cache, w, self, g, &(struct expect){ 1, 7, 1, true });
		assert_kinds(cache, 0, 0, 4, 6);
		topology_cache_free(cache);
		free(w);
	}
}

/* gcp's address when its lead moves (location granularity: the leader
 * carries the location's address, and its published one comes first). */
static void test_new_leader_addresses(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();
	struct cidr gcp;

	(void)state;
	assert_non_null(cache);
	/* n002 publishes gcp's address: nothing changes. */
	gcp = publish_gcp_address(cache, w);
	update_expecting(cache, w, &(struct expect){ 1, 0, 1, false });
	/* It turns NotReady: n003 leads, published nothing, and gcp keeps
	 * the address n002 published (the first gcp lists), patched. */
	w->nodes[2].ready = false;
	update_expecting(cache, w, &(struct expect){ 1, 1, 1, true });
	assert_true(gcp_has(cache, &gcp));
	/* n003 publishes it too (nothing changes); n002 is back and leads
	 * with it, patched. */
	publish(&w->nodes[3], gcp);
	update_expecting(cache, w, &(struct expect){ 1, 1, 2, false });
	w->nodes[2].ready = true;
	update_expecting(cache, w, &(struct expect){ 1, 2, 2, true });
	/* n004 publishes another address (nothing changes); annotated, it
	 * leads gcp with that one first: recomputed, and the address moves. */
	publish(&w->nodes[4], cidr_of("10.4.200.1/16"));
	update_expecting(cache, w, &(struct expect){ 1, 2, 3, false });
	w->nodes[4].leader = true;
	update_expecting(cache, w, &(struct expect){ 2, 2, 3, true });
	assert_false(gcp_has(cache, &gcp));
	assert_kinds(cache, 0, 0, 2, 2);
	assert_int_equal(topology_cache_stats(cache).republished, 3);
	topology_cache_free(cache);
	free(w);
}

/* When n002 (having published gcp's address) stops leading and n003
 * published none, gcp takes the first address it lists, after every
 * request's first: recomputed when that could be another. */
static void test_recomputed_leader_addresses(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();
	struct cidr gcp;

	(void)state;
	assert_non_null(cache);
	gcp = publish_gcp_address(cache, w);
	/* A NotReady gcp node before n002 by name published another one,
	 * which gcp lists first once n002 does not lead. */
	plain_node(insert_at(w, 2), "n001z", "gcp", 5, 1);
	w->nodes[2].ready = false;
	publish(&w->nodes[2], cidr_of("10.4.200.1/16"));
	update_expecting(cache, w, &(struct expect){ 2, 0, 0, true });
	w->nodes[3].ready = false;
	update_expecting(cache, w, &(struct expect){ 3, 0, 0, true });
	assert_false(gcp_has(cache, &gcp));
	/* n002 leads again with its address first, which gcp does not
	 * have: recomputed, and it moves back. n001z leaves (patched). */
	w->nodes[3].ready = true;
	update_expecting(cache, w, &(struct expect){ 4, 0, 0, true });
	assert_true(gcp_has(cache, &gcp));
	remove_at(w, 2);
	update_expecting(cache, w, &(struct expect){ 4, 1, 0, true });
	/* A lone node leading itself published gcp's address too: it takes
	 * it first once n002 does not lead. */
	plain_node(insert_at(w, 5), "n005", "", 5, 2);
	publish(&w->nodes[5], gcp);
	update_expecting(cache, w, &(struct expect){ 5, 1, 0, true });
	w->nodes[2].ready = false;
	update_expecting(cache, w, &(struct expect){ 6, 1, 0, true });
	assert_false(gcp_has(cache, &gcp));
	topology_cache_free(cache);
	free(w);
}

/* Handovers the patch would get wrong: each recomputed. */
static void test_recomputed_leaders(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();

	(void)state;
	assert_non_null(cache);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	/* The local location's lead moves to n001. */
	w->nodes[1].leader = true;
	update_expecting(cache, w, &(struct expect){ 2, 0, 0, true });
	w->nodes[1].leader = false;
	update_expecting(cache, w, &(struct expect){ 3, 0, 0, true });
	/* gcp's leader loses its key (no readiness change): not usable. */
	w->nodes[2].has_key = false;
	update_expecting(cache, w, &(struct expect){ 4, 0, 0, true });
	w->nodes[2].has_key = true;
	update_expecting(cache, w, &(struct expect){ 5, 0, 0, true });
	/* n003 would lead with its endpoint in the tunnel route to n004's
	 * private IP (that route would be left out). */
	snprintf(w->nodes[3].endpoint.host, sizeof(w->nodes[3].endpoint.host), "192.168.1.5");
	update_expecting(cache, w, &(struct expect){ 5, 0, 1, false });
	w->nodes[2].ready = false;
	update_expecting(cache, w, &(struct expect){ 6, 0, 1, true });
	/* (That left the route to n004's private IP out: recomputed when
	 * it comes back.) n002 would lead again with its endpoint its own
	 * private IP (the route to it would be left out). */
	snprintf(w->nodes[2].endpoint.host, sizeof(w->nodes[2].endpoint.host), "192.168.1.3");
	snprintf(w->nodes[3].endpoint.host, sizeof(w->nodes[3].endpoint.host), "203.0.113.4");
	update_expecting(cache, w, &(struct expect){ 7, 0, 1, true });
	w->nodes[2].ready = true;
	update_expecting(cache, w, &(struct expect){ 8, 0, 1, true });
	snprintf(w->nodes[2].endpoint.host, sizeof(w->nodes[2].endpoint.host), "203.0.113.3");
	update_expecting(cache, w, &(struct expect){ 9, 0, 1, true });
	/* gcp's only usable node goes and comes back: no leader between. */
	w->nodes[3].has_key = w->nodes[4].has_key = false;
	update_expecting(cache, w, &(struct expect){ 10, 0, 1, false });
	w->nodes[2].ready = false;
	update_expecting(cache, w, &(struct expect){ 11, 0, 1, true });
	w->nodes[2].ready = true;
	update_expecting(cache, w, &(struct expect){ 12, 0, 1, true });
	assert_kinds(cache, 0, 0, 0, 0);
	topology_cache_free(cache);
	free(w);
}

/* In cross granularity the leader's peer also carries gcp's members that
 * cannot hold tunnels, and gcp's allowed-location-ips: recomputed. */
static void test_recomputed_cross_leaders(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();

	(void)state;
	assert_non_null(cache);
	w->nodes[4].has_key = false;
	update_in(cache, w, GRANULARITY_CROSS, &(struct expect){ 1, 0, 0, true });
	w->nodes[2].ready = false;
	update_in(cache, w, GRANULARITY_CROSS, &(struct expect){ 2, 0, 0, true });
	w->nodes[2].ready = true;
	update_in(cache, w, GRANULARITY_CROSS, &(struct expect){ 3, 0, 0, true });
	w->nodes[4].has_key = true;
	w->nodes[4].allowed_location_ips[0] = cidr_of("172.16.0.0/24");
	w->nodes[4].n_allowed_location_ips = 1;
	update_in(cache, w, GRANULARITY_CROSS, &(struct expect){ 4, 0, 0, true });
	w->nodes[3].leader = true;
	update_in(cache, w, GRANULARITY_CROSS, &(struct expect){ 5, 0, 0, true });
	assert_kinds(cache, 0, 0, 0, 0);
	topology_cache_free(cache);
	free(w);
}

/* A published address moves none: gcp's probed past the one a lone node
 * published; once gcp's leader publishes gcp's, gcp takes it first (the
 * probe is gone), and the lone node may leave, patched. */
static void test_republished_probe(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();
	struct cidr gcp, moved;

	(void)state;
	assert_non_null(cache);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	gcp = segment_address(cache, "location/gcp");
	plain_node(&w->nodes[w->c.n_nodes++], "n005", "", 5, 2);
	publish(&w->nodes[5], gcp);
	update_expecting(cache, w, &(struct expect){ 2, 0, 0, true });
	moved = segment_address(cache, "location/gcp");
	assert_false(cidr_equal(&moved, &gcp));
	publish(&w->nodes[2], moved);
	update_expecting(cache, w, &(struct expect){ 2, 0, 1, false });
	remove_at(w, 5);
	update_expecting(cache, w, &(struct expect){ 2, 1, 1, true });
	assert_true(gcp_has(cache, &moved));
	assert_kinds(cache, 0, 1, 0, 0);
	topology_cache_free(cache);
	free(w);
}

/* Published addresses the allocation may read otherwise: recomputed. */
static void test_recomputed_republished(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();
	struct cidr gcp;

	(void)state;
	assert_non_null(cache);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	gcp = segment_address(cache, "location/gcp");
	/* The local node publishes aws's address. */
	publish(&w->nodes[0], segment_address(cache, "location/aws"));
	update_expecting(cache, w, &(struct expect){ 2, 0, 0, false });
	/* A node of gcp publishes gcp's address while gcp's leader has none
	 * (it would take it first from another node's). */
	publish(&w->nodes[3], gcp);
	update_expecting(cache, w, &(struct expect){ 3, 0, 0, false });
	/* gcp's leader publishes another address: gcp takes it first. */
	publish(&w->nodes[2], cidr_of("10.4.200.1/16"));
	update_expecting(cache, w, &(struct expect){ 4, 0, 0, true });
	assert_false(gcp_has(cache, &gcp));
	/* gcp without a leader (nobody has a key), then without members. */
	w->nodes[2].has_key = w->nodes[3].has_key = w->nodes[4].has_key = false;
	update_expecting(cache, w, &(struct expect){ 5, 0, 0, true });
	w->nodes[3].has_wireguard_ip = false;
	update_expecting(cache, w, &(struct expect){ 6, 0, 0, false });
	w->nodes[2].ready = w->nodes[3].ready = w->nodes[4].ready = false;
	update_expecting(cache, w, &(struct expect){ 7, 0, 0, true });
	w->nodes[2].has_wireguard_ip = false;
	update_expecting(cache, w, &(struct expect){ 8, 0, 0, false });
	topology_cache_free(cache);
	free(w);
}

/* A node whose own request reads its published address (every node in
 * cross granularity, a lone one in full granularity or without a
 * location) moves none by publishing the address it got: patched,
 * nothing changes; publishing another, its request takes that one first:
 * recomputed. In cross granularity that holds even while gcp's leader
 * published its own. */
static void test_republished_own_address(void **state)
{
	static const enum granularity grans[] = { GRANULARITY_CROSS, GRANULARITY_FULL };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct world *w = three_in_gcp();
		struct topology_cache *cache = topology_cache_new();
		enum granularity g = grans[k];

		assert_non_null(cache);
		update_in(cache, w, g, &(struct expect){ 1, 0, 0, true });
		publish(&w->nodes[2], segment_address(cache, g == GRANULARITY_CROSS ? "location/gcp"
										   : "node/n002"));
		update_in(cache, w, g, &(struct expect){ 1, 0, 1, false });
		publish(&w->nodes[3], cidr_of("10.4.200.1/16"));
		update_in(cache, w, g, &(struct expect){ 2, 0, 1, true });
		assert_int_equal(topology_cache_stats(cache).republished, 1);
		topology_cache_free(cache);
		free(w);
	}
}

/* A lone node (no location) publishing the address it got, in location
 * granularity: patched; the local node publishing its own: recomputed. */
static void test_republished_lone_address(void **state)
{
	struct world *w = three_in_gcp();
	struct topology_cache *cache = topology_cache_new();

	(void)state;
	assert_non_null(cache);
	plain_node(&w->nodes[w->c.n_nodes++], "n005", "", 5, 2);
	update_expecting(cache, w, &(struct expect){ 1, 0, 0, true });
	publish(&w->nodes[5], segment_address(cache, "node/n005"));
	update_expecting(cache, w, &(struct expect){ 1, 0, 1, false });
	publish(&w->nodes[0], segment_address(cache, "location/aws"));
	update_expecting(cache, w, &(struct expect){ 2, 0, 1, false });
	assert_int_equal(topology_cache_stats(cache).republished, 1);
	topology_cache_free(cache);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_changes),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_join_and_leave_paths),
		cmocka_unit_test(test_cross_and_full_paths),
		cmocka_unit_test(test_recomputed_members),
		cmocka_unit_test(test_recomputed_flood_list),
		cmocka_unit_test(test_new_leader_paths),
		cmocka_unit_test(test_new_leader_addresses),
		cmocka_unit_test(test_recomputed_leader_addresses),
		cmocka_unit_test(test_recomputed_leaders),
		cmocka_unit_test(test_recomputed_cross_leaders),
		cmocka_unit_test(test_republished_probe),
		cmocka_unit_test(test_recomputed_republished),
		cmocka_unit_test(test_republished_own_address),
		cmocka_unit_test(test_republished_lone_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
