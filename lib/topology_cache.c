// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The topology cache. Every update digests each node three times: its
 * shape (everything the topology reads but the rest), its WireGuard
 * attributes (key, endpoint, keepalive) and its discovered endpoints. When
 * no shape changed, the segments, leaders, addresses, claims and routes
 * are what they were, and a node's WireGuard attributes show in one peer
 * at most: the one it carries (whose key and endpoint are its own).
 * Discovered endpoints show in the endpoints of NATed nodes' and external
 * peers' peers. Those peers are patched in place. Recomputed instead: an
 * endpoint moving to an address that changes which routes are left out
 * (routes keep endpoints out of the tunnel), a change of the local node
 * (its keepalive is on every peer), of the external peers or the options.
 * A remote node turning Ready or NotReady in location granularity, its
 * leaders staying, is patched too: its networks' routes and AllowedIPs.
 */
#include "topology.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "topology_impl.h"

struct node_digest {
	uint64_t shape;      /* without the flags */
	uint64_t wireguard;
	uint64_t discovered;
	unsigned flags;      /* FLAG_* */
};

enum { FLAG_READY = 1 << 1, FLAG_USABLE = 1 << 5 };

struct topology_cache {
	bool has_plan;                /* plan and the fields below are of the last update */
	bool stale;                   /* the next update recomputes */
	char self[MODEL_NAME_MAX + 1];
	struct topology_options opts;
	struct plan plan;
	struct node_digest *digests;  /* per node of the last update */
	size_t n_nodes;
	uint64_t peers_digest;
	size_t self_index;
	size_t *peer_of;              /* node -> index into plan.peers, or TOPO_NONE */
	size_t n_hidden_routes;       /* as topo.n_hidden_routes */
	struct found_endpoint *found; /* the discovered endpoints, as topo.found */
	size_t n_found;
	struct topology_cache_stats stats;
};

/* ---- Digests ------------------------------------------------------------ */

/* Digests only serve to tell this process's values apart, so words are
 * read in host order. */
static uint64_t mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t v;

	h = mix(h, n);
	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&v, b, 8);
		h = mix(h, v);
	}
	v = 0;
	memcpy(&v, b, n);
	return mix(h, v);
}

static uint64_t mix_string(uint64_t h, const char *s, size_t size)
{
	return mix_bytes(h, s, strnlen(s, size));
}

/* Only the bytes of the family: the rest of the union may be anything. */
static uint64_t mix_ip(uint64_t h, const struct ip_addr *ip)
{
	return mix_bytes(mix(h, (uint64_t)ip->family), ip->bytes, ip->family ? ip_len(ip) : 0);
}

static uint64_t mix_cidr(uint64_t h, const struct cidr *c)
{
	return mix(mix_ip(h, &c->ip), c->prefix);
}

static uint64_t mix_cidrs(uint64_t h, const struct cidr *c, size_t n)
{
	h = mix(h, n);
	for (size_t i = 0; i < n; i++)
		h = mix_cidr(h, &c[i]);
	return h;
}

static uint64_t mix_endpoint(uint64_t h, const struct endpoint *e)
{
	return mix(mix_string(h, e->host, sizeof(e->host)), e->port);
}

static unsigned shape_flags(const struct node *n)
{
	return (unsigned)n->has_internal_ip | n->ready * FLAG_READY | n->leader << 2 |
	       n->has_public_endpoint << 3 | n->has_wireguard_ip << 4 |
	       topo_node_usable(n) * FLAG_USABLE;
}

static uint64_t shape_digest(const struct node *n)
{
	uint64_t h = mix_string(0, n->name, sizeof(n->name));

	h = mix_string(h, n->location, sizeof(n->location));
	h = mix_cidrs(h, n->pod_cidrs, n->n_pod_cidrs);
	h = mix_cidrs(h, &n->internal_ip, n->has_internal_ip);
	h = mix_cidrs(h, &n->wireguard_ip, n->has_wireguard_ip);
	return mix_cidrs(h, n->allowed_location_ips, n->n_allowed_location_ips);
}

static uint64_t discovered_digest(const struct cluster *c, const struct node *n)
{
	const struct discovered_endpoint *d = node_discovered(c, n);
	uint64_t h = mix(0, n->n_discovered);

	for (size_t i = 0; i < n->n_discovered; i++)
		h = mix_endpoint(mix_bytes(h, d[i].key.bytes, WG_KEY_LEN), &d[i].endpoint);
	return h;
}

static uint64_t wireguard_digest(const struct node *n)
{
	uint64_t h = mix_bytes(0, n->public_key.bytes, WG_KEY_LEN);

	return mix(mix_endpoint(h, &n->endpoint), (uint64_t)n->persistent_keepalive);
}

static uint64_t peers_digest(const struct cluster *c)
{
	uint64_t h = mix(0, c->n_peers);

	for (size_t i = 0; i < c->n_peers; i++) {
		const struct peer *p = &c->peers[i];

		h = mix_string(h, p->name, sizeof(p->name));
		h = mix_bytes(h, p->public_key.bytes, WG_KEY_LEN);
		h = mix_cidrs(h, p->allowed_ips, p->n_allowed_ips);
		h = mix(mix_endpoint(h, &p->endpoint), (uint64_t)p->persistent_keepalive);
		h = mix(h, p->has_preshared_key);
		if (p->has_preshared_key)
			h = mix_bytes(h, p->preshared_key.bytes, WG_KEY_LEN);
	}
	return h;
}

static bool options_equal(const struct topology_options *a, const struct topology_options *b)
{
	if (a->n_service_cidrs != b->n_service_cidrs)
		return false;
	for (size_t i = 0; i < a->n_service_cidrs; i++)
		if (!cidr_equal(&a->service_cidrs[i], &b->service_cidrs[i]))
			return false;
	return a->granularity == b->granularity && a->encapsulation == b->encapsulation &&
	       cidr_equal(&a->subnet, &b->subnet) && a->listen_port == b->listen_port &&
	       !strcmp(a->wg_ifname, b->wg_ifname) && !strcmp(a->encap_ifname, b->encap_ifname) &&
	       !strcmp(a->underlay_ifname, b->underlay_ifname);
}

/* ---- Patching ------------------------------------------------------------ */

static bool endpoints_equal(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && !strcmp(a->host, b->host);
}

static bool same_shape(const struct node_digest *a, const struct node_digest *b)
{
	return a->shape == b->shape && a->flags == b->flags;
}

/* Whether the last plan stands for the same nodes, options, external
 * peers and local node. */
static bool same_frame(const struct topology_cache *c, const struct cluster *cluster,
		       const char *self, const struct topology_options *opts, uint64_t peers)
{
	return c->has_plan && !c->stale && c->n_nodes == cluster->n_nodes &&
	       c->peers_digest == peers && !strcmp(c->self, self) && options_equal(&c->opts, opts);
}

/* Whether only WireGuard attributes and discovered endpoints of nodes
 * other than the local one changed, with nothing else about the
 * computation. */
static bool patchable(const struct topology_cache *c, const struct cluster *cluster,
		      const char *self, const struct topology_options *opts,
		      const struct node_digest *d, uint64_t peers)
{
	if (!same_frame(c, cluster, self, opts, peers) ||
	    d[c->self_index].wireguard != c->digests[c->self_index].wireguard)
		return false;
	for (size_t i = 0; i < cluster->n_nodes; i++)
		if (!same_shape(&d[i], &c->digests[i]))
			return false;
	return true;
}

/* Routes through the tunnel leave out destinations holding a peer's
 * endpoint address. An endpoint may move from one address to another
 * when that left nothing out and leaves nothing out: no route was
 * hidden, and no tunnel route holds the new address. */
static bool endpoint_may_move(const struct topology_cache *c, const struct endpoint *to)
{
	struct ip_addr ip;

	if (c->n_hidden_routes)
		return false;
	if (ip_parse(to->host, &ip) < 0)
		return true;
	for (size_t i = 0; i < c->plan.n_routes; i++) {
		const struct route *r = &c->plan.routes[i];

		if (!strcmp(r->dev, c->opts.wg_ifname) && cidr_contains(&r->dst, &ip))
			return false;
	}
	return true;
}

/* One peer brought up to date; false when the change needs a
 * recomputation. */
static bool patch_peer(struct topology_cache *c, struct plan_peer *p, const struct wg_key *key,
		       const struct endpoint *endpoint, bool *changed)
{
	if (strcmp(p->endpoint.host, endpoint->host) && !endpoint_may_move(c, endpoint))
		return false;
	*changed |= !key_equal(&p->public_key, key) || !endpoints_equal(&p->endpoint, endpoint);
	p->public_key = *key;
	p->endpoint = *endpoint;
	return true;
}

/* The peer node n carries, if any. */
static bool patch_node_peer(struct topology_cache *c, const struct topo *t, size_t n,
			    bool *changed)
{
	const struct node *node = &t->c->nodes[n];
	struct endpoint endpoint;

	if (c->peer_of[n] == TOPO_NONE)
		return true;
	endpoint = topo_node_endpoint(t, node);
	return patch_peer(c, &c->plan.peers[c->peer_of[n]], &node->public_key, &endpoint, changed);
}

static int peer_name_cmp(const void *name, const void *peer)
{
	return strcmp(name, ((const struct plan_peer *)peer)->name);
}

/* External peer ext's, found by name (plan peers are sorted by name); it
 * has none when the local node holds no tunnels. */
static bool patch_external_peer(struct topology_cache *c, const struct topo *t,
				const struct peer *ext, bool *changed)
{
	char name[MODEL_NAME_MAX + 16];
	struct endpoint endpoint = topo_peer_endpoint(t, ext);
	struct plan_peer *p;

	if (!c->plan.n_peers)
		return true;
	snprintf(name, sizeof(name), "peer/%s", ext->name);
	p = bsearch(name, c->plan.peers, c->plan.n_peers, sizeof(*p), peer_name_cmp);
	return !p || patch_peer(c, p, &ext->public_key, &endpoint, changed);
}

/* Discovered endpoints changed: a new index, and every peer may dial
 * elsewhere now. */
static bool reindex_discovered(struct topology_cache *c, struct topo *t)
{
	if (topo_index_discovered(t) < 0)
		return false;
	free(c->found);
	c->found = t->found;
	c->n_found = t->n_found;
	return true;
}

/* Patches the plan for every node whose WireGuard attributes changed, and
 * every peer when discovered endpoints changed. A patch that fails half
 * way leaves a plan that the recomputation replaces (and compares with:
 * the peers patched so far are as computed, the one that failed differs,
 * so "changed" still comes out right). */
static bool patch(struct topology_cache *c, const struct cluster *cluster,
		  const struct node_digest *d, bool *changed)
{
	struct topo t = { .c = cluster, .found = c->found, .n_found = c->n_found };
	bool rediscover = false;

	*changed = false;
	for (size_t i = 0; i < cluster->n_nodes; i++)
		rediscover |= d[i].discovered != c->digests[i].discovered;
	if (rediscover) {
		t = (struct topo){ .c = cluster };
		if (!reindex_discovered(c, &t))
			return false;
	}
	for (size_t i = 0; i < cluster->n_nodes; i++)
		if ((rediscover || d[i].wireguard != c->digests[i].wireguard) &&
		    !patch_node_peer(c, &t, i, changed))
			return false;
	for (size_t i = 0; rediscover && i < cluster->n_peers; i++)
		if (!patch_external_peer(c, &t, &cluster->peers[i], changed))
			return false;
	return true;
}

/* ---- Patching a readiness flip ------------------------------------------ */

/* A remote node turning Ready or NotReady, in location granularity, joins
 * or leaves its segment's members: its networks' routes and its leader's
 * peer's AllowedIPs change, nothing else, as long as the leaders stay and
 * nothing was rejected (claims, pod CIDR and private IP checks do not read
 * readiness; a plan without rejections kept every network and hid no
 * route). Anything less plain recomputes. */

/* The one node whose readiness alone changed, with nothing else about the
 * computation. */
static bool readiness_patchable(const struct topology_cache *c, const struct cluster *cluster,
				const char *self, const struct topology_options *opts,
				const struct node_digest *d, uint64_t peers, size_t *flipped)
{
	*flipped = TOPO_NONE;
	if (!same_frame(c, cluster, self, opts, peers) || opts->granularity != GRANULARITY_LOCATION ||
	    c->plan.n_rejections)
		return false;
	for (size_t i = 0; i < cluster->n_nodes; i++) {
		const struct node_digest *was = &c->digests[i], *is = &d[i];

		if (was->wireguard != is->wireguard || was->discovered != is->discovered)
			return false;
		if (same_shape(was, is))
			continue;
		if (*flipped != TOPO_NONE || was->shape != is->shape ||
		    (was->flags ^ is->flags) & ~(unsigned)(FLAG_READY | FLAG_USABLE))
			return false;
		*flipped = i;
	}
	return *flipped != TOPO_NONE && *flipped != c->self_index;
}

static int segment_name_cmp(const void *name, const void *seg)
{
	return strcmp(name, ((const struct plan_segment *)seg)->name);
}

/* Node n's segment in the plan (a location's: a lone node leads its own). */
static struct plan_segment *location_segment(struct plan *plan, const struct node *n)
{
	char name[MODEL_NAME_MAX + 16];

	if (!n->location[0] || !n->has_internal_ip)
		return NULL;
	snprintf(name, sizeof(name), "location/%s", n->location);
	return bsearch(name, plan->segments, plan->n_segments, sizeof(*plan->segments),
		       segment_name_cmp);
}

/* A flip of node n in the segment it shares with its leader. */
struct flip {
	const struct node *node;
	size_t n;
	struct plan_segment *seg;
	struct cidr nets[MODEL_MAX_POD_CIDRS + 1]; /* its networks, as the spine's */
	size_t n_nets;
	bool join;                                 /* becomes a member */
	struct route templates[2];                 /* a route away, per family (IPv4, IPv6) */
	struct plan_peer *peer;                    /* the leader's; NULL: no tunnels here */
};

static bool cidr_in(const struct cidr *net, const struct cidr *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(net, &set[i]))
			return true;
	return false;
}

/* Whether other (not n) has a network n has, or is not the local leader
 * but has its private IP (via): shared networks go to the first owner by
 * name, and routes are told apart by their gateway. */
static bool shares_network(const struct flip *f, const struct node *other,
			   const struct ip_addr *via)
{
	for (size_t j = 0; j < other->n_pod_cidrs; j++) {
		struct cidr net = cidr_network(&other->pod_cidrs[j]);

		if (cidr_in(&net, f->nets, f->n_nets))
			return true;
	}
	for (size_t j = 0; j < other->n_allowed_location_ips; j++) {
		struct cidr net = cidr_network(&other->allowed_location_ips[j]);

		if (cidr_in(&net, f->nets, f->n_nets))
			return true;
	}
	if (other->has_internal_ip) {
		struct cidr host = cidr_host(&other->internal_ip.ip);

		return cidr_in(&host, f->nets, f->n_nets) ||
		       (via && via != &other->internal_ip.ip && ip_equal(via, &other->internal_ip.ip));
	}
	return false;
}

static bool networks_unshared(const struct flip *f, const struct cluster *cluster,
			      const struct ip_addr *via)
{
	for (size_t i = 0; i < cluster->n_nodes; i++)
		if (i != f->n && shares_network(f, &cluster->nodes[i], via))
			return false;
	for (size_t i = 0; i < cluster->n_peers; i++)
		for (size_t j = 0; j < cluster->peers[i].n_allowed_ips; j++) {
			struct cidr net = cidr_network(&cluster->peers[i].allowed_ips[j]);

			if (cidr_in(&net, f->nets, f->n_nets))
				return false;
		}
	return true;
}

/* Whether route r goes where routes away from the segment go: into the
 * tunnels, or to the local leader's private IP (or, for IPv6 behind an
 * IPv4 one, its link-local address on the encapsulation). */
static bool routes_away(const struct topology_cache *c, const struct route *r,
			const struct ip_addr *via)
{
	struct ip_addr gateway;

	if (!via)
		return !strcmp(r->dev, c->opts.wg_ifname);
	if (via->family == r->dst.ip.family)
		gateway = *via;
	else if (r->dst.ip.family == AF_INET6)
		gateway = topology_encap_ip6(via);
	else
		return false;
	return ip_equal(&r->gateway, &gateway);
}

/* A route away for each family, not one of n's own: routes for its networks
 * are copies (with their destinations), and the family keeps a route when
 * they go (so the rules stand). */
static bool find_templates(struct flip *f, const struct topology_cache *c,
			   const struct ip_addr *via)
{
	bool found[2] = { false, false };

	for (size_t i = 0; i < c->plan.n_routes; i++) {
		const struct route *r = &c->plan.routes[i];
		size_t k = r->dst.ip.family == AF_INET6;

		if (!found[k] && !cidr_in(&r->dst, f->nets, f->n_nets) && routes_away(c, r, via)) {
			f->templates[k] = *r;
			found[k] = true;
		}
	}
	for (size_t i = 0; i < f->n_nets; i++)
		if (!found[f->nets[i].ip.family == AF_INET6])
			return false;
	return true;
}

/* Routes into the tunnels leave out destinations holding a peer's endpoint. */
static bool holds_an_endpoint(const struct plan *plan, const struct cidr *dst)
{
	struct ip_addr ip;

	for (size_t i = 0; i < plan->n_peers; i++)
		if (ip_parse(plan->peers[i].endpoint.host, &ip) == 0 && cidr_contains(dst, &ip))
			return true;
	return false;
}

/* The first of n sorted items (each of size bytes, starting with a cidr:
 * a route's destination, or a cidr itself) not below net. */
static size_t lower_bound(const void *items, size_t n, size_t size, const struct cidr *net)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cidr_cmp((const struct cidr *)((const char *)items + mid * size), net) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

_Static_assert(offsetof(struct route, dst) == 0, "a route starts with its destination");

static size_t route_index(const struct plan *plan, const struct cidr *dst)
{
	return lower_bound(plan->routes, plan->n_routes, sizeof(*plan->routes), dst);
}

static size_t allowed_index(const struct plan_peer *p, const struct cidr *net)
{
	return lower_bound(p->allowed_ips, p->n_allowed_ips, sizeof(*p->allowed_ips), net);
}

static bool route_present(const struct plan *plan, const struct cidr *dst)
{
	size_t i = route_index(plan, dst);

	return i < plan->n_routes && cidr_equal(&plan->routes[i].dst, dst);
}

static bool allowed_present(const struct plan_peer *p, const struct cidr *net)
{
	size_t i = allowed_index(p, net);

	return i < p->n_allowed_ips && cidr_equal(&p->allowed_ips[i], net);
}

/* Whether every network of n is in the plan when it leaves, and in none
 * when it joins (and a joining route hides no endpoint). */
static bool networks_as_expected(const struct flip *f, const struct plan *plan)
{
	for (size_t i = 0; i < f->n_nets; i++) {
		const struct cidr *net = &f->nets[i];

		if (route_present(plan, net) == f->join ||
		    (f->peer && allowed_present(f->peer, net) == f->join) ||
		    (f->join && f->peer && holds_an_endpoint(plan, net)))
			return false;
	}
	return true;
}

static void gather_networks(struct flip *f)
{
	for (size_t j = 0; j < f->node->n_pod_cidrs; j++)
		f->nets[f->n_nets++] = cidr_network(&f->node->pod_cidrs[j]);
	f->nets[f->n_nets++] = cidr_host(&f->node->internal_ip.ip);
}

static bool distinct_networks(const struct flip *f)
{
	for (size_t i = 1; i < f->n_nets; i++)
		if (cidr_in(&f->nets[i], f->nets, i))
			return false;
	return true;
}

/* Whether node n may now lead its segment: it beats leader only with the
 * annotation, a public endpoint or an earlier name (the leader order). */
static bool may_lead(const struct cluster *cluster, size_t n, size_t leader)
{
	const struct node *node = &cluster->nodes[n];

	return topo_node_usable(node) && (node->leader || node->has_public_endpoint || n < leader);
}

/* Checks everything before the plan is touched. */
static bool plan_flip(struct flip *f, struct topology_cache *c, const struct cluster *cluster,
		      size_t n)
{
	const struct node *me = &cluster->nodes[c->self_index];
	const struct plan_segment *mine = location_segment(&c->plan, me);
	const struct ip_addr *via = NULL;

	*f = (struct flip){ .node = &cluster->nodes[n], .n = n, .join = cluster->nodes[n].ready };
	f->seg = location_segment(&c->plan, f->node);
	if (!f->seg || f->seg == mine || f->seg->leader == PLAN_NO_LEADER || f->seg->leader == n ||
	    may_lead(cluster, n, f->seg->leader))
		return false;
	if (c->plan.is_leader) {
		if (c->peer_of[f->seg->leader] == TOPO_NONE)
			return false;
		f->peer = &c->plan.peers[c->peer_of[f->seg->leader]];
	} else if (mine && mine->leader != PLAN_NO_LEADER) {
		via = &cluster->nodes[mine->leader].internal_ip.ip;
	} else {
		return false;
	}
	if (!f->node->n_pod_cidrs)
		return true; /* never a member */
	gather_networks(f);
	return distinct_networks(f) && networks_unshared(f, cluster, via) &&
	       find_templates(f, c, via) && networks_as_expected(f, &c->plan);
}

static bool make_room(struct plan *plan, struct plan_peer *peer, size_t n)
{
	struct route *routes = realloc(plan->routes, (plan->n_routes + n + 1) * sizeof(*routes));
	struct cidr *allowed;

	if (!routes)
		return false;
	plan->routes = routes;
	if (!peer)
		return true;
	allowed = realloc(peer->allowed_ips, (peer->n_allowed_ips + n + 1) * sizeof(*allowed));
	if (!allowed)
		return false;
	peer->allowed_ips = allowed;
	return true;
}

static void add_network(struct plan *plan, struct flip *f, const struct cidr *net)
{
	struct route r = f->templates[net->ip.family == AF_INET6];
	size_t i = route_index(plan, net);

	r.dst = *net;
	memmove(&plan->routes[i + 1], &plan->routes[i], (plan->n_routes++ - i) * sizeof(r));
	plan->routes[i] = r;
	if (f->peer) {
		struct plan_peer *p = f->peer;

		i = allowed_index(p, net);
		memmove(&p->allowed_ips[i + 1], &p->allowed_ips[i],
			(p->n_allowed_ips++ - i) * sizeof(*net));
		p->allowed_ips[i] = *net;
	}
}

static void remove_network(struct plan *plan, struct flip *f, const struct cidr *net)
{
	size_t i = route_index(plan, net);

	memmove(&plan->routes[i], &plan->routes[i + 1], (--plan->n_routes - i) * sizeof(*plan->routes));
	if (f->peer) {
		struct plan_peer *p = f->peer;

		i = allowed_index(p, net);
		memmove(&p->allowed_ips[i], &p->allowed_ips[i + 1],
			(--p->n_allowed_ips - i) * sizeof(*net));
	}
}

/* Node n turned Ready or NotReady; false (with the plan untouched) when
 * that needs a recomputation. */
static bool patch_readiness(struct topology_cache *c, const struct cluster *cluster, size_t n,
			    bool *changed)
{
	struct flip f;

	*changed = false;
	if (!plan_flip(&f, c, cluster, n) || !make_room(&c->plan, f.peer, f.n_nets))
		return false;
	for (size_t i = 0; i < f.n_nets; i++)
		(f.join ? add_network : remove_network)(&c->plan, &f, &f.nets[i]);
	if (f.n_nets) {
		f.seg->n_members = f.join ? f.seg->n_members + 1 : f.seg->n_members - 1;
		*changed = true;
	}
	return true;
}

/* ---- Recomputing --------------------------------------------------------- */

/* Keeps what patching needs of the computation t: it takes t's arrays. */
static void keep(struct topology_cache *c, struct topo *t, const struct plan *plan, bool *changed)
{
	*changed = !c->has_plan || !plan_equal(&c->plan, plan);
	plan_free(&c->plan);
	c->plan = *plan;
	free(c->peer_of);
	c->peer_of = t->peer_of;
	t->peer_of = NULL;
	free(c->found);
	c->found = t->found;
	c->n_found = t->n_found;
	t->found = NULL;
	c->self_index = t->self;
	c->n_hidden_routes = t->n_hidden_routes;
}

static int recompute(struct topology_cache *c, const struct cluster *cluster, const char *self,
		     const struct topology_options *opts, bool *changed, struct error *err)
{
	struct topo t;
	struct plan plan;
	int r = topo_run(&t, cluster, self, opts, &plan, err);

	if (r == 0)
		keep(c, &t, &plan, changed);
	topo_free(&t);
	return r;
}

/* ---- The cache ----------------------------------------------------------- */

struct topology_cache *topology_cache_new(void)
{
	return calloc(1, sizeof(struct topology_cache));
}

void topology_cache_free(struct topology_cache *c)
{
	if (!c)
		return;
	plan_free(&c->plan);
	free(c->digests);
	free(c->peer_of);
	free(c->found);
	free(c);
}

static void forget(struct topology_cache *c)
{
	c->has_plan = false;
	plan_free(&c->plan);
}

int topology_cache_update(struct topology_cache *c, const struct cluster *cluster,
			  const char *self, const struct topology_options *opts, bool *changed,
			  struct error *err)
{
	struct node_digest *d = malloc((cluster->n_nodes + 1) * sizeof(*d));
	uint64_t peers = peers_digest(cluster);
	size_t flipped;

	if (!d) {
		forget(c);
		return error_set(err, "topology cache: out of memory");
	}
	for (size_t i = 0; i < cluster->n_nodes; i++)
		d[i] = (struct node_digest){ shape_digest(&cluster->nodes[i]),
					     wireguard_digest(&cluster->nodes[i]),
					     discovered_digest(cluster, &cluster->nodes[i]),
					     shape_flags(&cluster->nodes[i]) };
	if ((patchable(c, cluster, self, opts, d, peers) && patch(c, cluster, d, changed)) ||
	    (readiness_patchable(c, cluster, self, opts, d, peers, &flipped) &&
	     patch_readiness(c, cluster, flipped, changed))) {
		c->stats.patched += *changed;
		c->stats.unchanged += !*changed;
	} else if (recompute(c, cluster, self, opts, changed, err) == 0) {
		c->stats.computed++;
	} else {
		free(d);
		forget(c);
		return -1;
	}
	free(c->digests);
	c->digests = d;
	c->n_nodes = cluster->n_nodes;
	c->peers_digest = peers;
	c->opts = *opts;
	snprintf(c->self, sizeof(c->self), "%s", self);
	c->has_plan = true;
	c->stale = false;
	return 0;
}

const struct plan *topology_cache_plan(const struct topology_cache *c)
{
	return &c->plan;
}

void topology_cache_invalidate(struct topology_cache *c)
{
	c->stale = true;
}

struct topology_cache_stats topology_cache_stats(const struct topology_cache *c)
{
	return c->stats;
}
