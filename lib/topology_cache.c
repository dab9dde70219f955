// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The topology cache. Every update digests each node four times: its shape
 * (everything the topology reads but the rest), its published WireGuard
 * IP, its WireGuard attributes (key, endpoint, keepalive) and its
 * discovered endpoints. When no shape or published address changed, the
 * segments, leaders, addresses, claims and routes are what they were, and
 * a node's WireGuard attributes show in one peer at most: the one it
 * carries (whose key and endpoint are its own). Discovered endpoints show
 * in the endpoints of NATed nodes' and external peers' peers. Those peers
 * are patched in place. Recomputed instead: an endpoint moving to an
 * address that changes which routes are left out (routes keep endpoints
 * out of the tunnel), a change of the local node (its keepalive is on
 * every peer), of the external peers or the options. A remote node
 * joining, leaving or turning Ready or NotReady, a remote location's
 * leader handing over, and a remote node publishing another address are
 * patched in topology_cache_members.c; this file keeps what those patches
 * need of a computation (topology_cache_impl.h).
 */
#include "topology_cache_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

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
	return (unsigned)n->has_internal_ip | n->ready * FLAG_READY | n->leader * FLAG_LEADER |
	       n->has_public_endpoint * FLAG_PUBLIC | n->has_wireguard_ip * FLAG_PUBLISHED |
	       topo_node_usable(n) * FLAG_USABLE;
}

static uint64_t shape_digest(const struct node *n)
{
	uint64_t h = mix_string(0, n->name, sizeof(n->name));

	h = mix_string(h, n->location, sizeof(n->location));
	h = mix_cidrs(h, n->pod_cidrs, n->n_pod_cidrs);
	h = mix_cidrs(h, &n->internal_ip, n->has_internal_ip);
	return mix_cidrs(h, n->allowed_location_ips, n->n_allowed_location_ips);
}

/* Apart from the shape: an agent publishes its plan's address after every
 * change of it, so a new leader's address follows its handover. */
static uint64_t published_digest(const struct node *n)
{
	return mix_cidrs(0, &n->wireguard_ip, n->has_wireguard_ip);
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

/* ---- Patching WireGuard attributes ---------------------------------------- */

static bool endpoints_equal(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && !strcmp(a->host, b->host);
}

static bool same_shape(const struct node_digest *a, const struct node_digest *b)
{
	return a->shape == b->shape && a->published == b->published && a->flags == b->flags;
}

bool digests_equal(const struct node_digest *a, const struct node_digest *b)
{
	return same_shape(a, b) && a->wireguard == b->wireguard && a->discovered == b->discovered;
}

uint64_t no_discovered_digest(void)
{
	return mix(0, 0);
}

bool cache_frame_holds(const struct topology_cache *c, const char *self,
		       const struct topology_options *opts, uint64_t peers)
{
	return c->has_plan && !c->stale && c->peers_digest == peers && !strcmp(c->self, self) &&
	       options_equal(&c->opts, opts);
}

/* Whether only WireGuard attributes and discovered endpoints of nodes
 * other than the local one changed, with nothing else about the
 * computation. */
static bool patchable(const struct topology_cache *c, const struct cluster *cluster,
		      const char *self, const struct topology_options *opts,
		      const struct node_digest *d, uint64_t peers)
{
	if (!cache_frame_holds(c, self, opts, peers) || c->n_nodes != cluster->n_nodes ||
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
	return ip_parse(to->host, &ip) < 0 || !in_tunnel_route(c, &ip);
}

/* One peer brought up to date; false when the change needs a
 * recomputation. */
static bool patch_peer(struct topology_cache *c, struct plan_peer *p, const struct wg_key *key,
		       const struct endpoint *endpoint, bool *changed)
{
	if (strcmp(p->endpoint.host, endpoint->host)) {
		if (!endpoint_may_move(c, endpoint))
			return false;
		c->endpoints_stale = true;
	}
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

	if (c->memo[n].peer == TOPO_NONE)
		return true;
	endpoint = topo_node_endpoint(t, node);
	return patch_peer(c, &c->plan.peers[c->memo[n].peer], &node->public_key, &endpoint,
			  changed);
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

/* ---- Where the peers' endpoints are ---------------------------------------- */

static bool index_endpoints(struct topology_cache *c)
{
	struct net_key *keys = malloc((2 * c->plan.n_peers + 1) * sizeof(*keys)), *sorted;
	struct ip_addr ip;
	size_t n = 0;

	if (!keys)
		return false;
	for (size_t i = 0; i < c->plan.n_peers; i++) {
		if (ip_parse(c->plan.peers[i].endpoint.host, &ip) == 0) {
			struct cidr host = cidr_host(&ip);

			keys[n++] = net_key(&host, 0);
		}
	}
	sorted = net_keys_sort(keys, keys + n, n);
	memmove(keys, sorted, n * sizeof(*keys));
	free(c->endpoints);
	c->endpoints = keys;
	c->n_endpoints = n;
	c->room.endpoints = n;
	c->endpoints_stale = false;
	return true;
}

bool endpoints_indexed(struct topology_cache *c)
{
	return !c->endpoints_stale || index_endpoints(c);
}

bool endpoint_inside(const struct topology_cache *c, const struct cidr *dst)
{
	struct net_key net = net_key(dst, 0);
	size_t i = net_keys_lower_bound(c->endpoints, c->n_endpoints, &net);

	return i < c->n_endpoints && net_key_contains(&net, &c->endpoints[i]);
}

size_t cidr_lower_bound(const void *items, size_t n, size_t size, const struct cidr *net)
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

/* The cluster CIDR holding ip, or NULL. They are disjoint and sorted, so
 * it is the one at ip's place or the one before. */
static const struct cidr *cluster_cidr_holding(const struct plan *plan, const struct ip_addr *ip)
{
	struct cidr host = cidr_host(ip);
	size_t i = cidr_lower_bound(plan->cluster_cidrs, plan->n_cluster_cidrs,
				    sizeof(*plan->cluster_cidrs), &host);

	if (i < plan->n_cluster_cidrs && cidr_equal(&plan->cluster_cidrs[i], &host))
		return &plan->cluster_cidrs[i];
	if (i > 0 && cidr_contains(&plan->cluster_cidrs[i - 1], ip))
		return &plan->cluster_cidrs[i - 1];
	return NULL;
}

_Static_assert(offsetof(struct route, dst) == 0, "a route starts with its destination");

/* Every route's destination lies in one cluster CIDR, so only the routes
 * inside the one holding ip (a run, in order) may hold it. */
bool in_tunnel_route(const struct topology_cache *c, const struct ip_addr *ip)
{
	const struct plan *plan = &c->plan;
	const struct cidr *outer = cluster_cidr_holding(plan, ip);

	if (!outer)
		return false;
	for (size_t i = cidr_lower_bound(plan->routes, plan->n_routes, sizeof(*plan->routes), outer);
	     i < plan->n_routes && cidr_overlaps(outer, &plan->routes[i].dst); i++) {
		const struct route *r = &plan->routes[i];

		if (!strcmp(r->dev, c->opts.wg_ifname) && cidr_contains(&r->dst, ip))
			return true;
	}
	return false;
}

/* ---- Recomputing --------------------------------------------------------- */

/* Plan segment index per segment of t (those with members are listed). */
static size_t *plan_segments_of(const struct topo *t)
{
	size_t *map = malloc((t->n_segs + 1) * sizeof(*map)), k = 0;

	for (size_t i = 0; map && i < t->n_segs; i++)
		map[i] = t->segs[i].n_members ? k++ : TOPO_NONE;
	return map;
}

static void remember_node(struct node_memo *m, const struct topo *t, size_t i,
			  const size_t *plan_seg)
{
	const struct hot *h = &t->hot[i];

	*m = (struct node_memo){ .peer = t->peer_of[i], .seg = plan_seg[h->seg],
				 .n_pods = h->n_pods, .alone = h->alone,
				 .location_ips = h->n_location_ips > 0 };
	memcpy(m->nets, h->pods, h->n_pods * sizeof(*h->pods));
	m->n_nets = h->n_pods;
	if (h->private_host.ip.family)
		m->nets[m->n_nets++] = h->private_host;
}

static bool remember_nodes(struct topology_cache *c, const struct topo *t)
{
	size_t *plan_seg = plan_segments_of(t);

	free(c->memo);
	c->memo = malloc((t->c->n_nodes + 1) * sizeof(*c->memo));
	if (!plan_seg || !c->memo) {
		free(plan_seg);
		return false;
	}
	for (size_t i = 0; i < t->c->n_nodes; i++)
		remember_node(&c->memo[i], t, i, plan_seg);
	free(plan_seg);
	return true;
}

/* Every node's accepted allowed-location-ips (few, if any). */
static bool remember_location_ips(struct topology_cache *c, const struct topo *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->c->n_nodes; i++)
		n += t->hot[i].n_location_ips;
	free(c->location_ips);
	c->location_ips = malloc((n + 1) * sizeof(*c->location_ips));
	c->n_location_ips = 0;
	if (!c->location_ips)
		return false;
	for (size_t i = 0; i < t->c->n_nodes; i++)
		for (size_t j = 0; j < t->hot[i].n_location_ips; j++)
			if (t->loc_ok[i * MODEL_MAX_LOCATION_IPS + j])
				c->location_ips[c->n_location_ips++] =
					cidr_network(&t->c->nodes[i].allowed_location_ips[j]);
	return true;
}

/* Whether no network of the spine repeats (two nodes with one private IP). */
static bool spine_unique(const struct topo *t)
{
	for (size_t i = 1; i < t->n_spine; i++)
		if (net_keys_equal(&t->spine[i - 1], &t->spine[i]))
			return false;
	return true;
}

/* Keeps what patching needs of the computation t (taking some of t's
 * arrays); false when out of memory: the plan stands, but the next update
 * recomputes. */
static bool keep(struct topology_cache *c, struct topo *t, const struct plan *plan, bool *changed)
{
	*changed = !c->has_plan || !plan_equal(&c->plan, plan);
	plan_free(&c->plan);
	c->plan = *plan;
	free(c->found);
	c->found = t->found;
	c->n_found = t->n_found;
	t->found = NULL;
	free(c->endpoints);
	c->endpoints = t->endpoints;
	c->n_endpoints = t->n_endpoints;
	c->endpoints_stale = false;
	t->endpoints = NULL;
	c->self_index = t->self;
	c->n_hidden_routes = t->n_hidden_routes;
	c->tunnels = t->tunnels;
	c->nets_unique = spine_unique(t);
	book_free(&c->book);
	c->room.peers = c->plan.n_peers;
	c->room.routes = c->plan.n_routes;
	c->room.segments = c->plan.n_segments;
	c->room.cluster_cidrs = c->plan.n_cluster_cidrs;
	c->room.endpoints = c->n_endpoints;
	c->room.memo = t->c->n_nodes;
	return remember_nodes(c, t) && remember_location_ips(c, t) &&
	       book_build(&c->book, t, c->memo) == 0;
}

static int recompute(struct topology_cache *c, const struct cluster *cluster, const char *self,
		     const struct topology_options *opts, bool *changed, bool *kept,
		     struct error *err)
{
	struct topo t;
	struct plan plan;
	int r = topo_run(&t, cluster, self, opts, &plan, err);

	if (r == 0)
		*kept = keep(c, &t, &plan, changed);
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
	free(c->memo);
	free(c->location_ips);
	free(c->found);
	free(c->endpoints);
	book_free(&c->book);
	free(c);
}

static void forget(struct topology_cache *c)
{
	c->has_plan = false;
	plan_free(&c->plan);
}

static void digest_nodes(const struct cluster *cluster, struct node_digest *d)
{
	for (size_t i = 0; i < cluster->n_nodes; i++)
		d[i] = (struct node_digest){ .shape = shape_digest(&cluster->nodes[i]),
					     .published = published_digest(&cluster->nodes[i]),
					     .wireguard = wireguard_digest(&cluster->nodes[i]),
					     .discovered = discovered_digest(cluster, &cluster->nodes[i]),
					     .flags = shape_flags(&cluster->nodes[i]) };
}

int topology_cache_update(struct topology_cache *c, const struct cluster *cluster,
			  const char *self, const struct topology_options *opts, bool *changed,
			  struct error *err)
{
	struct node_digest *d = malloc((cluster->n_nodes + 1) * sizeof(*d));
	uint64_t peers = peers_digest(cluster);
	bool kept = true;

	if (!d) {
		forget(c);
		return error_set(err, "topology cache: out of memory");
	}
	digest_nodes(cluster, d);
	if ((patchable(c, cluster, self, opts, d, peers) && patch(c, cluster, d, changed)) ||
	    patch_members(c, cluster, self, opts, d, peers, changed)) {
		c->stats.patched += *changed;
		c->stats.unchanged += !*changed;
	} else if (recompute(c, cluster, self, opts, changed, &kept, err) == 0) {
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
	c->stale = !kept;
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
