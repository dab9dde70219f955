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
 */
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "topology_impl.h"

struct node_digest {
	uint64_t shape;
	uint64_t wireguard;
	uint64_t discovered;
};

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

static uint64_t shape_digest(const struct node *n)
{
	uint64_t h = mix_string(0, n->name, sizeof(n->name));

	h = mix_string(h, n->location, sizeof(n->location));
	h = mix_cidrs(h, n->pod_cidrs, n->n_pod_cidrs);
	h = mix(h, (uint64_t)n->has_internal_ip | n->ready << 1 | n->leader << 2 |
			   n->has_public_endpoint << 3 | n->has_wireguard_ip << 4 |
			   topo_node_usable(n) << 5);
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

/* Whether only WireGuard attributes and discovered endpoints of nodes
 * other than the local one changed, with nothing else about the
 * computation. */
static bool patchable(const struct topology_cache *c, const struct cluster *cluster,
		      const char *self, const struct topology_options *opts,
		      const struct node_digest *d, uint64_t peers)
{
	if (!c->has_plan || c->stale || c->n_nodes != cluster->n_nodes || c->peers_digest != peers ||
	    strcmp(c->self, self) || !options_equal(&c->opts, opts) ||
	    d[c->self_index].wireguard != c->digests[c->self_index].wireguard)
		return false;
	for (size_t i = 0; i < cluster->n_nodes; i++)
		if (d[i].shape != c->digests[i].shape)
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

	if (!d) {
		forget(c);
		return error_set(err, "topology cache: out of memory");
	}
	for (size_t i = 0; i < cluster->n_nodes; i++)
		d[i] = (struct node_digest){ shape_digest(&cluster->nodes[i]),
					     wireguard_digest(&cluster->nodes[i]),
					     discovered_digest(cluster, &cluster->nodes[i]) };
	if (patchable(c, cluster, self, opts, d, peers) && patch(c, cluster, d, changed)) {
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
