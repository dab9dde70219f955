// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The topology computation. Steps, each over plain arrays indexed like
 * cluster->nodes: gather each node's fields, group nodes into segments,
 * elect leaders, give out WireGuard IPs, settle which allowed IPs are
 * accepted, sort every node's networks once (the spine), then read the
 * local node's peers, routes and address lists off it in order, so two
 * plans of the same model are identical. docs/topology.md says why.
 */
#include "topology.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "topology_impl.h"

#define NONE ((size_t)-1)

struct seg {
	size_t first, count;  /* into topo.order: every node of the segment */
	size_t n_members;
	size_t leader;        /* node index or NONE */
	bool by_node;         /* a single node's segment, named after the node */
	const char *name;     /* location or node name */
};

struct vec {
	void *items;
	size_t n, cap;
};

struct found_endpoint {
	const struct wg_key *key;
	const struct endpoint *endpoint;
	size_t order;
};

/* What the hot loops read of each node, gathered once: a struct node is
 * kilobytes (its discovered endpoints), so loops over the model itself
 * would miss the cache on every node. */
struct hot {
	struct cidr pods[MODEL_MAX_POD_CIDRS]; /* networks */
	struct cidr private_host;              /* family 0: none */
	struct ip_addr addr;   /* the WireGuard device address; family 0: none */
	struct cidr addr_host; /* the same as a host network */
	size_t seg;
	uint8_t n_pods;
	bool member;           /* Ready with a pod CIDR, or the local node */
	bool usable;           /* may hold tunnels: Ready, key, endpoint, pod CIDR */
	bool encap;            /* the local node reaches it encapsulated */
	bool encap_used;       /* some route goes through the encapsulation to it */
	bool alone;            /* a segment of its own */
	bool leader, public;   /* the leader annotation; a public endpoint */
	bool published;        /* has a published WireGuard IP (wireguard_ip) */
	uint8_t n_location_ips;
	uint8_t n_discovered;  /* saturated at 255: only tested for zero */
	struct ip_addr wireguard_ip;
};

struct topo {
	const struct cluster *c;
	const struct topology_options *o;
	size_t self;
	const struct node *me;
	bool failed;          /* out of memory somewhere: checked per step */
	struct hot *hot;      /* per node */
	size_t *order;        /* node indices grouped by segment, then by name */
	struct seg *segs;
	size_t n_segs;
	bool *loc_ok;         /* accepted allowed-location-ips, per node */
	bool *peer_ok;        /* accepted allowed IPs, per external peer */
	struct found_endpoint *found;
	size_t n_found;
	bool tunnels;         /* the local node holds WireGuard tunnels */
	size_t *peer_of;      /* node index -> plan peer index */
	struct net_key *endpoints; /* the plan peers' endpoint addresses, sorted */
	size_t n_endpoints;
	struct net_key *spine, *spine_storage;
	size_t n_spine;
	size_t first_external; /* plan peer index of the first external peer */
	struct vec *route_out;
	bool *has_extras;     /* per plan peer: has allowed IPs off the spine */
	struct vec peers, routes, extra_routes, cluster, encap, rejections;
};

static void push(struct topo *t, struct vec *v, const void *item, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->items, cap * size);

		if (!p) {
			t->failed = true;
			return;
		}
		v->items = p;
		v->cap = cap;
	}
	memcpy((char *)v->items + v->n * size, item, size);
	v->n++;
}

/* qsort, unless the items are in order already (node-named segments and
 * peers come in the model's name order), and never on an empty vector's
 * NULL. */
static void sort(void *items, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++) {
		if (cmp((char *)items + (i - 1) * size, (char *)items + i * size) > 0) {
			qsort(items, n, size, cmp);
			return;
		}
	}
}

static void reject(struct topo *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reject(struct topo *t, const char *fmt, ...)
{
	struct plan_rejection r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	push(t, &t->rejections, &r, sizeof(r));
}

/* ---- Segments and leaders ---------------------------------------------- */

static bool is_usable(const struct node *n)
{
	return n->ready && n->has_key && n->endpoint.host[0] && n->endpoint.port &&
	       n->n_pod_cidrs > 0;
}

static bool alone(const struct topo *t, const struct node *n)
{
	return t->o->granularity == GRANULARITY_FULL || !n->location[0] || !n->has_internal_ip;
}

/* Leader order: the annotation, then a public endpoint, then the name (the
 * earlier node, as nodes are sorted by name). */
static bool leads_before(const struct hot *a, const struct hot *b)
{
	if (a->leader != b->leader)
		return a->leader;
	return a->public && !b->public;
}

static size_t elect_leader(const struct topo *t, const struct seg *s)
{
	size_t best = NONE;

	for (size_t i = s->first; i < s->first + s->count; i++) {
		size_t n = t->order[i];

		if (t->hot[n].usable && (best == NONE || leads_before(&t->hot[n], &t->hot[best])))
			best = n;
	}
	return best;
}

static bool shares_subnet(const struct topo *t, const struct node *n)
{
	return t->me->has_internal_ip && cidr_contains(&t->me->internal_ip, &n->internal_ip.ip);
}

static bool needs_encap(const struct topo *t, const struct node *n)
{
	switch (t->o->encapsulation) {
	case ENCAP_ALWAYS:
		return true;
	case ENCAP_CROSSSUBNET:
		return !shares_subnet(t, n);
	case ENCAP_NEVER:
		break;
	}
	return false;
}

static void gather_hot(struct topo *t, size_t i)
{
	const struct node *node = &t->c->nodes[i];
	struct hot *h = &t->hot[i];

	for (size_t j = 0; j < node->n_pod_cidrs; j++)
		h->pods[j] = cidr_network(&node->pod_cidrs[j]);
	h->n_pods = (uint8_t)node->n_pod_cidrs;
	if (node->has_internal_ip)
		h->private_host = cidr_host(&node->internal_ip.ip);
	h->member = i == t->self || (node->ready && node->n_pod_cidrs > 0);
	h->usable = is_usable(node);
	h->encap = needs_encap(t, node);
	h->alone = alone(t, node);
	h->leader = node->leader;
	h->public = node->has_public_endpoint;
	h->published = node->has_wireguard_ip;
	h->wireguard_ip = node->wireguard_ip.ip;
	h->n_location_ips = (uint8_t)node->n_allowed_location_ips;
	h->n_discovered = (uint8_t)(node->n_discovered > 255 ? 255 : node->n_discovered);
}

/* Location name -> segment index, by open addressing: grouping costs O(n)
 * plus sorting the distinct locations, not a sort of every node. */
struct loc_slot {
	const char *name; /* NULL: free */
	size_t seg;
};

struct loc_table {
	struct loc_slot *slots;
	size_t mask;
};

static struct loc_slot *loc_slot(struct loc_table *lt, const char *location)
{
	size_t i = (size_t)name_hash("location", location) & lt->mask;

	while (lt->slots[i].name && strcmp(lt->slots[i].name, location))
		i = (i + 1) & lt->mask;
	return &lt->slots[i];
}

static void location_segments(struct topo *t, struct loc_table *lt)
{
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct node *node = &t->c->nodes[i];
		struct loc_slot *slot;

		if (t->hot[i].alone)
			continue;
		slot = loc_slot(lt, node->location);
		if (!slot->name) {
			t->segs[t->n_segs] = (struct seg){ .name = node->location };
			*slot = (struct loc_slot){ node->location, t->n_segs++ };
		}
	}
}

static int seg_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seg *)a)->name, ((const struct seg *)b)->name);
}

/* Location segments sorted by name, then one segment per lone node in the
 * model's (name) order; members listed in name order within each. */
static int build_segments(struct topo *t)
{
	size_t n = t->c->n_nodes, cap = 16, *fill;
	struct loc_table lt;

	while (cap < 2 * n)
		cap *= 2;
	lt = (struct loc_table){ calloc(cap, sizeof(struct loc_slot)), cap - 1 };
	fill = calloc(n + 1, sizeof(*fill));
	if (!lt.slots || !fill) {
		free(lt.slots);
		free(fill);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		gather_hot(t, i);
	location_segments(t, &lt);
	sort(t->segs, t->n_segs, sizeof(*t->segs), seg_name_cmp);
	for (size_t i = 0; i < t->n_segs; i++)
		loc_slot(&lt, t->segs[i].name)->seg = i;
	for (size_t i = 0; i < n; i++) {
		const struct node *node = &t->c->nodes[i];

		if (t->hot[i].alone) {
			t->segs[t->n_segs] = (struct seg){ .by_node = true, .name = node->name };
			t->hot[i].seg = t->n_segs++;
		} else {
			t->hot[i].seg = loc_slot(&lt, node->location)->seg;
		}
	}
	for (size_t i = 0; i < n; i++) {
		t->segs[t->hot[i].seg].count++;
		t->segs[t->hot[i].seg].n_members += t->hot[i].member;
	}
	for (size_t i = 1; i < t->n_segs; i++)
		t->segs[i].first = t->segs[i - 1].first + t->segs[i - 1].count;
	for (size_t i = 0; i < n; i++) {
		const struct seg *seg = &t->segs[t->hot[i].seg];

		t->order[seg->first + fill[t->hot[i].seg]++] = i;
	}
	for (size_t i = 0; i < t->n_segs; i++)
		t->segs[i].leader = elect_leader(t, &t->segs[i]);
	free(lt.slots);
	free(fill);
	return 0;
}

/* ---- WireGuard IPs ------------------------------------------------------ */

/* Location and full granularity: one address per segment, which its leader
 * carries. Published addresses: the leader's first, then the members'. */
static void segment_requests(const struct topo *t, struct wgip_request *req, struct ip_addr *pub)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n_segs; i++) {
		const struct seg *s = &t->segs[i];

		req[i] = (struct wgip_request){ s->by_node ? "node" : "location", s->name, &pub[k], 0, 0 };
		if (s->leader != NONE && t->hot[s->leader].published) {
			pub[k++] = t->hot[s->leader].wireguard_ip;
			req[i].n_strong = 1;
		}
		for (size_t j = s->first; j < s->first + s->count; j++) {
			const struct hot *h = &t->hot[t->order[j]];

			if (t->order[j] != s->leader && h->published)
				pub[k++] = h->wireguard_ip;
		}
		req[i].n_published = (size_t)(&pub[k] - req[i].published);
	}
}

/* Cross granularity: every node has an address of its own. */
static void node_requests(const struct topo *t, struct wgip_request *req, struct ip_addr *pub)
{
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];

		pub[i] = h->wireguard_ip;
		req[i] = (struct wgip_request){ "node", t->c->nodes[i].name, &pub[i], h->published,
						h->published };
	}
}

static void set_address(struct hot *h, const struct ip_addr *ip)
{
	h->addr = *ip;
	h->addr_host = cidr_host(ip);
}

static int allocate_addresses(struct topo *t, struct error *err)
{
	bool cross = t->o->granularity == GRANULARITY_CROSS;
	size_t n = cross ? t->c->n_nodes : t->n_segs;
	struct wgip_request *req = calloc(n ? n : 1, sizeof(*req));
	struct ip_addr *pub = calloc(t->c->n_nodes ? t->c->n_nodes : 1, sizeof(*pub));
	struct ip_addr *ips = calloc(n ? n : 1, sizeof(*ips));
	int r = -1;

	if (!req || !pub || !ips) {
		error_set(err, "out of memory");
		goto out;
	}
	if (cross)
		node_requests(t, req, pub);
	else
		segment_requests(t, req, pub);
	if (wgip_allocate(&t->o->subnet, req, n, ips, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!ips[i].family)
			reject(t, "%s %s: no WireGuard IP left in the subnet", req[i].kind, req[i].name);
	for (size_t i = 0; i < t->n_segs && !cross; i++)
		if (t->segs[i].leader != NONE)
			set_address(&t->hot[t->segs[i].leader], &ips[i]);
	for (size_t i = 0; i < n && cross; i++)
		if (t->hot[i].usable)
			set_address(&t->hot[i], &ips[i]);
	r = 0;
out:
	free(req);
	free(pub);
	free(ips);
	return r;
}

/* Who carries the tunnel for node n: its own, in cross granularity, when
 * it is usable; else its segment's leader. */
static size_t carrier_of(const struct topo *t, size_t n)
{
	if (t->o->granularity == GRANULARITY_CROSS && t->hot[n].usable)
		return n;
	return t->segs[t->hot[n].seg].leader;
}

/* ---- Allowed IPs: who may claim what ------------------------------------ */

/* The candidates (allowed-location-ips, then external peers' allowed IPs,
 * each by name) sit in a trie; the cluster's own ranges (few queries that
 * stop early, against many ranges) strike the candidates they overlap;
 * then the candidates are taken in order, against those taken before. */
struct candidates {
	struct claims trie;
	bool **ok;              /* per candidate: where to store the verdict */
	struct claim *blocked;  /* per candidate: the cluster range it hit */
	size_t owner;           /* of the range being checked */
	const struct claim *range;
};

static int add_candidate(struct candidates *cs, const struct claim *cand, bool *ok, size_t *cap,
			 struct error *err)
{
	size_t n = cs->trie.n_items;

	if (n == *cap) {
		size_t cap2 = *cap ? *cap * 2 : 16;
		bool **ok2 = realloc(cs->ok, cap2 * sizeof(*ok2));

		if (!ok2)
			return error_set(err, "out of memory");
		cs->ok = ok2;
		*cap = cap2;
	}
	cs->ok[n] = ok;
	return claims_add(&cs->trie, cand, err);
}

static int collect_candidates(struct topo *t, struct candidates *cs, struct error *err)
{
	size_t cap = 0;

	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct node *n = &t->c->nodes[i];

		for (size_t j = 0; j < t->hot[i].n_location_ips; j++) {
			struct claim want = { cidr_network(&n->allowed_location_ips[j]), t->hot[i].seg,
					      "allowed-location-ip", "node", n->name };

			if (add_candidate(cs, &want, &t->loc_ok[i * MODEL_MAX_LOCATION_IPS + j], &cap, err) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < t->c->n_peers; i++) {
		const struct peer *p = &t->c->peers[i];

		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			struct claim want = { cidr_network(&p->allowed_ips[j]), t->n_segs + i,
					      "allowed IP", "peer", p->name };

			if (add_candidate(cs, &want, &t->peer_ok[i * MODEL_MAX_PEER_IPS + j], &cap, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* A cluster range overlapping candidate i: the first such range strikes it. */
static void strike(void *ctx, size_t i)
{
	struct candidates *cs = ctx;

	if (!cs->blocked[i].what && claims_get(&cs->trie, i)->owner != cs->range->owner)
		cs->blocked[i] = *cs->range;
}

static void strike_with(struct candidates *cs, const struct claim *range)
{
	cs->range = range;
	claims_each_overlap(&cs->trie, &range->net, strike, cs);
}

/* The WireGuard subnet, service CIDRs, and each node's pod CIDRs and
 * private IP (owned by its segment, so a location may announce the LAN its
 * own nodes live in). */
static void strike_with_cluster_ranges(struct topo *t, struct candidates *cs)
{
	struct claim subnet = { cidr_network(&t->o->subnet), CLAIM_OWNER_ALL, "WireGuard subnet", "", "" };

	strike_with(cs, &subnet);
	for (size_t i = 0; i < t->o->n_service_cidrs; i++) {
		struct claim svc = { cidr_network(&t->o->service_cidrs[i]), CLAIM_OWNER_ALL,
				     "service CIDR", "", "" };

		strike_with(cs, &svc);
	}
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];
		struct claim own = { .owner = h->seg, .what = "pod CIDR", .kind = "node",
				     .name = t->c->nodes[i].name };

		for (size_t j = 0; j < h->n_pods; j++) {
			own.net = h->pods[j];
			strike_with(cs, &own);
		}
		if (!h->private_host.ip.family)
			continue;
		own.net = h->private_host;
		own.what = "private IP";
		strike_with(cs, &own);
	}
}

static void reject_claim(struct topo *t, const struct claim *want, const struct claim *hit)
{
	char a[CIDR_STRLEN], b[CIDR_STRLEN], whose[MODEL_NAME_MAX + 16] = "";

	if (hit->kind[0])
		snprintf(whose, sizeof(whose), " of %s %s", hit->kind, hit->name);
	reject(t, "%s %s: %s %s ignored: overlaps %s %s%s", want->kind, want->name, want->what,
	       cidr_format(&want->net, a), hit->what, cidr_format(&hit->net, b), whose);
}

/* Takes the candidates in order, each against the cluster's ranges and
 * the candidates of other owners taken before it. */
static int take_candidates(struct topo *t, struct candidates *cs, struct error *err)
{
	struct claims taken;
	int r = 0;

	claims_init(&taken);
	for (size_t i = 0; i < cs->trie.n_items && r == 0; i++) {
		const struct claim *want = claims_get(&cs->trie, i);
		const struct claim *hit = cs->blocked[i].what ? &cs->blocked[i]
							      : claims_conflict(&taken, &want->net, want->owner);

		*cs->ok[i] = !hit;
		if (hit)
			reject_claim(t, want, hit);
		else
			r = claims_add(&taken, want, err);
	}
	claims_free(&taken);
	return r;
}

static int settle_claims(struct topo *t, struct error *err)
{
	struct candidates cs = { .ok = NULL };
	int r = -1;

	claims_init(&cs.trie);
	if (collect_candidates(t, &cs, err) < 0)
		goto out;
	if (!cs.trie.n_items) {
		r = 0;
		goto out;
	}
	cs.blocked = calloc(cs.trie.n_items, sizeof(*cs.blocked));
	if (!cs.blocked) {
		error_set(err, "out of memory");
		goto out;
	}
	strike_with_cluster_ranges(t, &cs);
	r = take_candidates(t, &cs, err);
out:
	claims_free(&cs.trie);
	free(cs.ok);
	free(cs.blocked);
	return r;
}

/* ---- Endpoints learned from handshakes ---------------------------------- */

static int found_cmp(const void *a, const void *b)
{
	const struct found_endpoint *x = a, *y = b;
	int r = memcmp(x->key->bytes, y->key->bytes, WG_KEY_LEN);

	return r ? r : x->order < y->order ? -1 : x->order > y->order;
}

static int index_discovered(struct topo *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->c->n_nodes; i++)
		n += t->hot[i].n_discovered ? t->c->nodes[i].n_discovered : 0;
	if (!n)
		return 0;
	t->found = calloc(n, sizeof(*t->found));
	if (!t->found)
		return -1;
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct node *node = &t->c->nodes[i];

		for (size_t j = 0; j < node->n_discovered; j++, t->n_found++)
			t->found[t->n_found] = (struct found_endpoint){
				&node->discovered[j].key, &node->discovered[j].endpoint, t->n_found };
	}
	sort(t->found, t->n_found, sizeof(*t->found), found_cmp);
	return 0;
}

/* The endpoint the first node (by name) discovered for key, or an empty one. */
static struct endpoint discovered_endpoint(const struct topo *t, const struct wg_key *key)
{
	struct found_endpoint want = { key, NULL, 0 };
	size_t lo = 0, hi = t->n_found;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (found_cmp(&t->found[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n_found && key_equal(t->found[lo].key, key))
		return *t->found[lo].endpoint;
	return (struct endpoint){ "", 0 };
}

/* ---- The spine: every node's networks in address order ------------------ */

/* Sorting is the expensive part of a plan, so it happens once: the spine
 * lists every node's networks (item: node << 2 | what) in address order,
 * and the routes, each peer's allowed IPs and the cluster CIDRs are read
 * off it in that order. Only the few networks that do not live on a node
 * (allowed-location-ips, peers' allowed IPs, subnet, service CIDRs) are
 * sorted apart and merged in. */
enum { NET_POD0, NET_POD1, NET_PRIVATE, NET_WG };

static int build_spine(struct topo *t)
{
	size_t n = 0, k = 0;
	struct net_key *keys;

	for (size_t i = 0; i < t->c->n_nodes; i++)
		n += t->hot[i].n_pods + !!t->hot[i].private_host.ip.family + !!t->hot[i].addr.family;
	keys = malloc((2 * n + 1) * sizeof(*keys));
	if (!keys)
		return -1;
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];

		for (size_t j = 0; j < h->n_pods; j++)
			keys[k++] = net_key(&h->pods[j], (uint32_t)(i << 2 | j));
		if (h->private_host.ip.family)
			keys[k++] = net_key(&h->private_host, (uint32_t)(i << 2 | NET_PRIVATE));
		if (h->addr.family)
			keys[k++] = net_key(&h->addr_host, (uint32_t)(i << 2 | NET_WG));
	}
	t->spine_storage = keys;
	t->spine = net_keys_sort(keys, keys + n, n);
	t->n_spine = n;
	return 0;
}

static const struct cidr *spine_net_of(const struct topo *t, size_t item)
{
	const struct hot *h = &t->hot[item >> 2];

	switch (item & 3) {
	case NET_POD0:
	case NET_POD1:
		return &h->pods[item & 3];
	case NET_PRIVATE:
		return &h->private_host;
	}
	return &h->addr_host;
}

static const struct cidr *spine_net(const struct topo *t, size_t i)
{
	return spine_net_of(t, t->spine[i].item);
}

/* A network two nodes claim (only in a broken model, as two nodes with one
 * pod CIDR) goes to the first by name. */
static bool spine_repeats(const struct topo *t, size_t i)
{
	return i > 0 && net_keys_equal(&t->spine[i], &t->spine[i - 1]);
}

/* ---- The local node's peers --------------------------------------------- */

static int my_keepalive(const struct topo *t)
{
	return t->me->persistent_keepalive > 0 ? t->me->persistent_keepalive : 0;
}

static struct plan_peer *peer_at(const struct topo *t, size_t i)
{
	return &((struct plan_peer *)t->peers.items)[i];
}

/* prefix + name into a plan_peer name (snprintf costs more than the rest
 * of a peer). */
static void join_name(char out[MODEL_NAME_MAX + 16], const char *prefix, const char *name)
{
	size_t lp = strlen(prefix), ln = strnlen(name, MODEL_NAME_MAX);

	memcpy(out, prefix, lp);
	memcpy(out + lp, name, ln);
	out[lp + ln] = '\0';
}

/* The plan peer for the tunnel to carrier, created on first use. */
static size_t node_peer(struct topo *t, size_t carrier)
{
	const struct node *n = &t->c->nodes[carrier];
	const struct seg *s = &t->segs[t->hot[carrier].seg];
	struct plan_peer p;

	if (t->peer_of[carrier] != NONE)
		return t->peer_of[carrier];
	p = (struct plan_peer){ .public_key = n->public_key, .persistent_keepalive = my_keepalive(t) };
	if (t->o->granularity != GRANULARITY_CROSS && !s->by_node)
		join_name(p.name, "location/", s->name);
	else
		join_name(p.name, "node/", n->name);
	/* A NATed node's published endpoint is behind its NAT: only a
	 * discovered one is worth dialing, else it dials in. */
	p.endpoint = n->persistent_keepalive > 0 ? discovered_endpoint(t, &n->public_key) : n->endpoint;
	push(t, &t->peers, &p, sizeof(p));
	t->peer_of[carrier] = t->peers.n - 1;
	return t->peers.n - 1;
}

/* The walkers below call fn(t, arg, network) for each network; fn counts
 * or appends a peer's allowed IPs (arg: the peer), adds a route, or pushes
 * onto a list. */
typedef void each_fn(struct topo *t, size_t arg, const struct cidr *net);

/* The accepted allowed-location-ips of segment s. */
static void each_location_net(struct topo *t, const struct seg *s, size_t arg, each_fn *fn)
{
	for (size_t i = s->first; i < s->first + s->count; i++) {
		size_t n = t->order[i];
		const struct node *node = &t->c->nodes[n];

		for (size_t j = 0; j < t->hot[n].n_location_ips; j++) {
			struct cidr net = cidr_network(&node->allowed_location_ips[j]);

			if (t->loc_ok[n * MODEL_MAX_LOCATION_IPS + j])
				fn(t, arg, &net);
		}
	}
}

/* The accepted allowed IPs of external peer p. */
static void each_peer_net(struct topo *t, size_t p, size_t arg, each_fn *fn)
{
	const struct peer *ext = &t->c->peers[p];

	for (size_t j = 0; j < ext->n_allowed_ips; j++) {
		struct cidr net = cidr_network(&ext->allowed_ips[j]);

		if (t->peer_ok[p * MODEL_MAX_PEER_IPS + j])
			fn(t, arg, &net);
	}
}

static bool is_remote(const struct topo *t, size_t n)
{
	return t->hot[n].member && t->hot[n].seg != t->hot[t->self].seg;
}

/* A segment outside the local one that someone carries tunnels for. */
static bool is_remote_segment(const struct topo *t, size_t i)
{
	return i != t->hot[t->self].seg && t->segs[i].leader != NONE && t->segs[i].n_members;
}

/* The plan peer carrying node n's networks, or NONE. */
static size_t peer_for(const struct topo *t, size_t n)
{
	size_t carrier = is_remote(t, n) ? carrier_of(t, n) : NONE;

	return carrier == NONE ? NONE : t->peer_of[carrier];
}

/* Counting first (n_allowed_ips), so each list is allocated once. */
static void count(struct topo *t, size_t peer, const struct cidr *net)
{
	(void)net;
	peer_at(t, peer)->n_allowed_ips++;
}

static void allow(struct topo *t, size_t peer, const struct cidr *net)
{
	struct plan_peer *p = peer_at(t, peer);

	p->allowed_ips[p->n_allowed_ips++] = *net;
}

/* Room for n items up front, so pushes never move large items. */
static void reserve(struct topo *t, struct vec *v, size_t n, size_t size)
{
	void *p;

	if (n <= v->cap)
		return;
	p = realloc(v->items, n * size);
	if (!p) {
		t->failed = true;
		return;
	}
	v->items = p;
	v->cap = n;
}

static void create_peers(struct topo *t)
{
	size_t most = t->o->granularity == GRANULARITY_CROSS ? t->c->n_nodes : t->n_segs;

	reserve(t, &t->peers, most + t->c->n_peers, sizeof(struct plan_peer));
	for (size_t n = 0; n < t->c->n_nodes; n++)
		if (is_remote(t, n) && carrier_of(t, n) != NONE)
			node_peer(t, carrier_of(t, n));
	t->first_external = t->peers.n;
	for (size_t i = 0; i < t->c->n_peers; i++) {
		const struct peer *ext = &t->c->peers[i];
		struct plan_peer p = {
			.public_key = ext->public_key,
			.endpoint = ext->endpoint.host[0] ? ext->endpoint
							  : discovered_endpoint(t, &ext->public_key),
			.persistent_keepalive = ext->persistent_keepalive > 0 ? ext->persistent_keepalive
									      : my_keepalive(t),
			.preshared_key = ext->preshared_key,
			.has_preshared_key = ext->has_preshared_key,
		};

		join_name(p.name, "peer/", ext->name);
		push(t, &t->peers, &p, sizeof(p));
	}
}

/* Location and external peers' networks, after the spine's. */
static void each_extra_allowed(struct topo *t, each_fn *fn)
{
	for (size_t i = 0; i < t->n_segs; i++)
		if (is_remote_segment(t, i))
			each_location_net(t, &t->segs[i], t->peer_of[t->segs[i].leader], fn);
	for (size_t i = 0; i < t->c->n_peers; i++)
		each_peer_net(t, i, t->first_external + i, fn);
}

static void each_spine_allowed(struct topo *t, each_fn *fn)
{
	for (size_t i = 0; i < t->n_spine; i++) {
		size_t peer = peer_for(t, t->spine[i].item >> 2);

		if (peer != NONE && !spine_repeats(t, i))
			fn(t, peer, spine_net(t, i));
	}
}

static int cidr_cmp_void(const void *a, const void *b)
{
	return cidr_cmp(a, b);
}

/* Spine networks come sorted and unique; a peer with extras sorts them in. */
static void mark_extras(struct topo *t, size_t peer, const struct cidr *net)
{
	(void)net;
	t->has_extras[peer] = true;
}

static int fill_allowed_ips(struct topo *t)
{
	t->has_extras = calloc(t->peers.n + 1, sizeof(*t->has_extras));
	if (!t->has_extras)
		return -1;
	each_spine_allowed(t, count);
	each_extra_allowed(t, count);
	each_extra_allowed(t, mark_extras);
	for (size_t i = 0; i < t->peers.n; i++) {
		struct plan_peer *p = peer_at(t, i);

		p->allowed_ips = malloc((p->n_allowed_ips + 1) * sizeof(*p->allowed_ips));
		if (!p->allowed_ips)
			return -1;
		p->n_allowed_ips = 0;
	}
	each_spine_allowed(t, allow);
	each_extra_allowed(t, allow);
	for (size_t i = 0; i < t->peers.n; i++) {
		struct plan_peer *p = peer_at(t, i);
		size_t k = 0;

		if (!t->has_extras[i])
			continue;
		sort(p->allowed_ips, p->n_allowed_ips, sizeof(struct cidr), cidr_cmp_void);
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			if (!k || !cidr_equal(&p->allowed_ips[j], &p->allowed_ips[k - 1]))
				p->allowed_ips[k++] = p->allowed_ips[j];
		p->n_allowed_ips = k;
	}
	return 0;
}

/* ---- The local node's routes -------------------------------------------- */

/* WireGuard's own UDP packets must not be routed into the tunnel: note the
 * peers' endpoint addresses (IP literals) to keep them out of wg routes. */
static int collect_endpoints(struct topo *t)
{
	struct net_key *keys = calloc(2 * t->peers.n + 1, sizeof(*keys));
	struct ip_addr ip;

	if (!keys)
		return -1;
	for (size_t i = 0; i < t->peers.n; i++) {
		const char *host = peer_at(t, i)->endpoint.host;

		if (host[0] && ip_parse(host, &ip) == 0) {
			struct cidr net = cidr_host(&ip);

			keys[t->n_endpoints++] = net_key(&net, (uint32_t)i);
		}
	}
	t->endpoints = net_keys_sort(keys, keys + t->n_endpoints, t->n_endpoints);
	if (t->endpoints != keys)
		memcpy(keys, t->endpoints, t->n_endpoints * sizeof(*keys));
	t->endpoints = keys;
	return 0;
}

static bool holds_endpoint(const struct topo *t, const struct cidr *dst)
{
	struct net_key net;
	size_t i;

	if (!t->n_endpoints)
		return false;
	net = net_key(dst, 0);
	/* Starts below the lowest endpoint without holding it: wholly below
	 * every endpoint (pod CIDRs usually are), no search needed. */
	if (net_keys_lower_bound(&net, 1, &t->endpoints[0]) == 1 &&
	    !net_key_contains(&net, &t->endpoints[0]))
		return false;
	i = net_keys_lower_bound(t->endpoints, t->n_endpoints, &net);
	return i < t->n_endpoints && net_key_contains(&net, &t->endpoints[i]);
}

static void copy_ifname(char to[IF_NAMESIZE], const char from[IF_NAMESIZE])
{
	memcpy(to, from, IF_NAMESIZE);
	to[IF_NAMESIZE - 1] = '\0';
}

static void route_to(struct topo *t, const struct route *r)
{
	struct vec *v = t->route_out;

	if (v->n < v->cap)
		((struct route *)v->items)[v->n++] = *r; /* the common case, inlined */
	else
		push(t, v, r, sizeof(*r));
}

static void route_via_tunnel(struct topo *t, const struct cidr *dst)
{
	struct route r = { .dst = *dst, .table = SKEIN_ROUTE_TABLE };
	char buf[CIDR_STRLEN];

	if (holds_endpoint(t, dst)) {
		reject(t, "route to %s via %s left out: it holds a peer's endpoint",
		       cidr_format(&r.dst, buf), t->o->wg_ifname);
		return;
	}
	copy_ifname(r.dev, t->o->wg_ifname);
	if (t->hot[t->self].addr.family == dst->ip.family)
		r.src = t->hot[t->self].addr;
	route_to(t, &r);
}

static void through_encap(struct topo *t, struct route *r, size_t via)
{
	copy_ifname(r->dev, t->o->encap_ifname);
	r->onlink = true;
	t->hot[via].encap_used = true;
}

/* dst through another node of the local segment, over the underlay or the
 * encapsulation device. IPv6 routes cannot take an IPv4 gateway, so behind
 * a node with only an IPv4 private IP they use its derived link-local
 * address on the encapsulation device. */
static void route_via_node(struct topo *t, const struct cidr *dst, size_t via)
{
	const struct hot *h = &t->hot[via];
	struct route r = { .dst = *dst, .table = SKEIN_ROUTE_TABLE };
	char buf[CIDR_STRLEN];

	if (h->private_host.ip.family == dst->ip.family) {
		r.gateway = h->private_host.ip;
		if (h->encap)
			through_encap(t, &r, via);
		else
			copy_ifname(r.dev, t->o->underlay_ifname);
	} else if (dst->ip.family == AF_INET6) {
		r.gateway = topology_encap_ip6(&h->private_host.ip);
		through_encap(t, &r, via);
	} else {
		reject(t, "route to %s via node %s left out: its private IP is IPv6",
		       cidr_format(&r.dst, buf), t->c->nodes[via].name);
		return;
	}
	route_to(t, &r);
}

/* Somewhere outside the local segment: through the tunnels when the local
 * node holds them, else through the segment's leader. */
static void route_away(struct topo *t, size_t unused, const struct cidr *dst)
{
	size_t leader = t->segs[t->hot[t->self].seg].leader;

	(void)unused;
	if (t->tunnels)
		route_via_tunnel(t, dst);
	else if (leader != NONE)
		route_via_node(t, dst, leader);
}

/* Pods and WireGuard IPs of the local segment's nodes directly (their
 * private IPs are the underlay's business); everything of other segments
 * carried by someone away. */
static void spine_routes(struct topo *t)
{
	for (size_t i = 0; i < t->n_spine; i++) {
		size_t n = t->spine[i].item >> 2, what = t->spine[i].item & 3;

		if (n == t->self || !t->hot[n].member || spine_repeats(t, i))
			continue;
		if (!is_remote(t, n) && what != NET_PRIVATE)
			route_via_node(t, spine_net(t, i), n);
		else if (is_remote(t, n) && carrier_of(t, n) != NONE)
			route_away(t, 0, spine_net(t, i));
	}
}

static void extra_routes(struct topo *t)
{
	for (size_t i = 0; i < t->n_segs; i++)
		if (is_remote_segment(t, i))
			each_location_net(t, &t->segs[i], 0, route_away);
	for (size_t i = 0; i < t->c->n_peers; i++)
		each_peer_net(t, i, 0, route_away);
}

static int route_cmp(const void *a, const void *b)
{
	return cidr_cmp(&((const struct route *)a)->dst, &((const struct route *)b)->dst);
}

/* The first of routes[lo, n) whose destination is not below dst. */
static size_t route_lower_bound(const struct route *r, size_t lo, size_t n, const struct cidr *dst)
{
	size_t hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cidr_cmp(&r[mid].dst, dst) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void append_routes(struct plan *plan, const struct route *r, size_t n)
{
	if (n)
		memcpy(&plan->routes[plan->n_routes], r, n * sizeof(*r));
	plan->n_routes += n;
}

static void append_route(struct plan *plan, const struct route *r)
{
	if (!plan->n_routes || !cidr_equal(&r->dst, &plan->routes[plan->n_routes - 1].dst))
		plan->routes[plan->n_routes++] = *r;
}

/* The spine's routes (sorted, unique) with the few extras sorted in by
 * binary search; a destination both have keeps the spine's route. */
static int make_routes(struct topo *t, struct plan *plan)
{
	const struct route *a = t->routes.items, *b = t->extra_routes.items;
	size_t na = t->routes.n, nb = t->extra_routes.n, i = 0;

	sort(t->extra_routes.items, nb, sizeof(struct route), route_cmp);
	plan->routes = malloc((na + nb + 1) * sizeof(*plan->routes));
	if (!plan->routes)
		return -1;
	for (size_t j = 0; j < nb; j++) {
		size_t pos = route_lower_bound(a, i, na, &b[j].dst);

		append_routes(plan, a + i, pos - i);
		i = pos;
		if (i == na || !cidr_equal(&a[i].dst, &b[j].dst))
			append_route(plan, &b[j]);
	}
	append_routes(plan, a + i, na - i);
	return 0;
}

/* ---- Assembling the plan ------------------------------------------------ */

struct peer_rank {
	const char *name;
	size_t index;
};

static int peer_rank_cmp(const void *a, const void *b)
{
	return strcmp(((const struct peer_rank *)a)->name, ((const struct peer_rank *)b)->name);
}

static bool peers_sorted(const struct topo *t)
{
	for (size_t i = 1; i < t->peers.n; i++)
		if (strcmp(peer_at(t, i - 1)->name, peer_at(t, i)->name) > 0)
			return false;
	return true;
}

/* Moves the peers into the plan sorted by name: as they are (full and
 * cross granularity create them in name order), else each copied once
 * (they are large). */
static int sort_peers(struct topo *t, struct plan *plan)
{
	struct peer_rank *order;

	if (peers_sorted(t)) {
		plan->peers = t->peers.items;
		plan->n_peers = t->peers.n;
		t->peers = (struct vec){ 0 };
		return 0;
	}
	order = calloc(t->peers.n, sizeof(*order));
	plan->peers = calloc(t->peers.n, sizeof(*plan->peers));
	if (!order || !plan->peers) {
		free(order);
		return -1;
	}
	for (size_t i = 0; i < t->peers.n; i++)
		order[i] = (struct peer_rank){ peer_at(t, i)->name, i };
	qsort(order, t->peers.n, sizeof(*order), peer_rank_cmp);
	for (size_t i = 0; i < t->peers.n; i++)
		plan->peers[i] = *peer_at(t, order[i].index);
	plan->n_peers = t->peers.n;
	free(t->peers.items);
	t->peers = (struct vec){ 0 };
	free(order);
	return 0;
}

static void push_cidr(struct topo *t, size_t unused, const struct cidr *net)
{
	(void)unused;
	push(t, &t->cluster, net, sizeof(*net));
}

static void push_network(struct topo *t, const struct cidr *c)
{
	struct cidr net = cidr_network(c);

	push_cidr(t, 0, &net);
}

#define EXTRA_ITEM ((uint32_t)1 << 31)

/* The spine merged with the subnet, service CIDRs, accepted location and
 * peer networks; without networks inside another (kept networks are
 * disjoint and sorted, so a network inside any kept one is inside the
 * last kept one). */
static int make_cluster_cidrs(struct topo *t, struct plan *plan)
{
	const struct cidr *extras;
	struct net_key *keys, *sorted, *merged;
	size_t n, ne;

	push_network(t, &t->o->subnet);
	for (size_t i = 0; i < t->o->n_service_cidrs; i++)
		push_network(t, &t->o->service_cidrs[i]);
	for (size_t i = 0; i < t->n_segs; i++)
		each_location_net(t, &t->segs[i], 0, push_cidr);
	for (size_t i = 0; i < t->c->n_peers; i++)
		each_peer_net(t, i, 0, push_cidr);
	if (t->failed)
		return -1;
	extras = t->cluster.items;
	ne = t->cluster.n;
	n = ne + t->n_spine;
	keys = malloc((2 * ne + n + 1) * sizeof(*keys));
	plan->cluster_cidrs = malloc((n + 1) * sizeof(*plan->cluster_cidrs));
	if (!keys || !plan->cluster_cidrs) {
		free(keys);
		return -1;
	}
	for (size_t i = 0; i < ne; i++)
		keys[i] = net_key(&extras[i], EXTRA_ITEM | (uint32_t)i);
	sorted = net_keys_sort(keys, keys + ne, ne);
	merged = keys + 2 * ne;
	net_keys_merge(t->spine, t->n_spine, sorted, ne, merged);
	for (size_t i = 0, last = 0; i < n; i++) {
		const struct net_key *k = &merged[i];

		if (plan->n_cluster_cidrs && net_key_contains(&merged[last], k))
			continue;
		plan->cluster_cidrs[plan->n_cluster_cidrs++] =
			k->item & EXTRA_ITEM ? extras[k->item & ~EXTRA_ITEM]
					     : *spine_net_of(t, k->item);
		last = i;
	}
	free(keys);
	return 0;
}

static int ip_cmp_void(const void *a, const void *b)
{
	return ip_cmp(a, b);
}

static int make_encap_remotes(struct topo *t, struct plan *plan)
{
	for (size_t i = 0; i < t->c->n_nodes; i++)
		if (t->hot[i].encap_used)
			push(t, &t->encap, &t->hot[i].private_host.ip, sizeof(struct ip_addr));
	if (t->failed)
		return -1;
	plan->encap_remotes = t->encap.items;
	plan->n_encap_remotes = t->encap.n;
	t->encap = (struct vec){ 0 };
	sort(plan->encap_remotes, plan->n_encap_remotes, sizeof(struct ip_addr), ip_cmp_void);
	return 0;
}

static int make_rules(struct plan *plan)
{
	static const int families[] = { AF_INET, AF_INET6 };

	plan->rules = calloc(2, sizeof(*plan->rules));
	if (!plan->rules)
		return -1;
	for (size_t f = 0; f < 2; f++) {
		bool used = false;

		for (size_t i = 0; i < plan->n_routes && !used; i++)
			used = plan->routes[i].dst.ip.family == families[f];
		if (used)
			plan->rules[plan->n_rules++] = (struct rule){
				.family = families[f],
				.src = { .ip.family = families[f] },
				.dst = { .ip.family = families[f] },
				.table = SKEIN_ROUTE_TABLE,
				.priority = SKEIN_RULE_PRIORITY,
			};
	}
	return 0;
}

static struct cidr device_address(const struct topo *t, const struct ip_addr *ip)
{
	struct cidr c = { .ip = *ip, .prefix = t->o->subnet.prefix };

	return ip->family ? c : (struct cidr){ .prefix = 0 };
}

static int make_segments(const struct topo *t, struct plan *plan)
{
	plan->segments = calloc(t->n_segs ? t->n_segs : 1, sizeof(*plan->segments));
	if (!plan->segments)
		return -1;
	for (size_t i = 0; i < t->n_segs; i++) {
		const struct seg *s = &t->segs[i];
		struct plan_segment *out = &plan->segments[plan->n_segments];

		if (!s->n_members)
			continue;
		snprintf(out->location, sizeof(out->location), "%s",
			 t->c->nodes[t->order[s->first]].location);
		snprintf(out->name, sizeof(out->name), "%s/%s", s->by_node ? "node" : "location", s->name);
		out->leader = s->leader == NONE ? PLAN_NO_LEADER : s->leader;
		if (s->leader != NONE)
			out->wireguard_ip = device_address(t, &t->hot[s->leader].addr);
		out->n_members = s->n_members;
		plan->n_segments++;
	}
	return 0;
}

static int make_local_pod_cidrs(const struct topo *t, struct plan *plan)
{
	const struct hot *me = &t->hot[t->self];

	plan->local_pod_cidrs = calloc(MODEL_MAX_POD_CIDRS, sizeof(*plan->local_pod_cidrs));
	if (!plan->local_pod_cidrs)
		return -1;
	memcpy(plan->local_pod_cidrs, me->pods, me->n_pods * sizeof(*me->pods));
	plan->n_local_pod_cidrs = me->n_pods;
	sort(plan->local_pod_cidrs, plan->n_local_pod_cidrs, sizeof(struct cidr), cidr_cmp_void);
	return 0;
}

static bool has_ipv6_pods(const struct hot *h)
{
	for (size_t i = 0; i < h->n_pods; i++)
		if (h->pods[i].ip.family == AF_INET6)
			return true;
	return false;
}

static int assemble(struct topo *t, struct plan *plan)
{
	const struct hot *me = &t->hot[t->self];

	if (sort_peers(t, plan) < 0 || make_routes(t, plan) < 0 || make_cluster_cidrs(t, plan) < 0 ||
	    make_encap_remotes(t, plan) < 0 || make_rules(plan) < 0 || make_segments(t, plan) < 0 ||
	    make_local_pod_cidrs(t, plan) < 0)
		return -1;
	plan->rejections = t->rejections.items;
	plan->n_rejections = t->rejections.n;
	t->rejections = (struct vec){ 0 };
	plan->is_leader = t->segs[me->seg].leader == t->self;
	if (t->tunnels)
		plan->wireguard_ip = device_address(t, &me->addr);
	if (has_ipv6_pods(me) && me->private_host.ip.family == AF_INET)
		plan->encap_ip6 = topology_encap_ip6(&me->private_host.ip);
	return 0;
}

/* ---- Entry point -------------------------------------------------------- */

int topology_options_default(struct topology_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->granularity = GRANULARITY_LOCATION;
	opts->encapsulation = ENCAP_CROSSSUBNET;
	if (cidr_parse("10.4.0.0/16", &opts->subnet) < 0)
		return -1;
	opts->listen_port = 51820;
	snprintf(opts->wg_ifname, sizeof(opts->wg_ifname), "skein0");
	snprintf(opts->encap_ifname, sizeof(opts->encap_ifname), "skein-vx");
	return 0;
}

static int check_options(const struct topology_options *o, struct error *err)
{
	if (o->granularity != GRANULARITY_LOCATION && o->granularity != GRANULARITY_FULL &&
	    o->granularity != GRANULARITY_CROSS)
		return error_set(err, "mesh granularity: unknown value %d", (int)o->granularity);
	if (o->encapsulation != ENCAP_NEVER && o->encapsulation != ENCAP_CROSSSUBNET &&
	    o->encapsulation != ENCAP_ALWAYS)
		return error_set(err, "encapsulation: unknown value %d", (int)o->encapsulation);
	if (!o->subnet.ip.family || cidr_size(&o->subnet) < 4)
		return error_set(err, "subnet: needs at least 4 addresses");
	if (o->n_service_cidrs > TOPOLOGY_MAX_SERVICE_CIDRS)
		return error_set(err, "service CIDRs: at most %d", TOPOLOGY_MAX_SERVICE_CIDRS);
	if (!o->wg_ifname[0])
		return error_set(err, "WireGuard interface: no name");
	if (!o->encap_ifname[0])
		return error_set(err, "encapsulation interface: no name");
	return 0;
}

/* Binary search (the model is sorted by name), then a plain scan in case
 * it is not. */
static size_t find_node(const struct cluster *c, const char *name)
{
	size_t lo = 0, hi = c->n_nodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->nodes[mid].name, name);

		if (!r)
			return mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			return i;
	return NONE;
}

static int alloc_arrays(struct topo *t)
{
	size_t n = t->c->n_nodes;

	t->order = calloc(n, sizeof(*t->order));
	t->hot = calloc(n, sizeof(*t->hot));
	t->segs = calloc(n, sizeof(*t->segs));
	t->peer_of = malloc(n * sizeof(*t->peer_of));
	t->loc_ok = calloc(n * MODEL_MAX_LOCATION_IPS, sizeof(*t->loc_ok));
	t->peer_ok = calloc(t->c->n_peers * MODEL_MAX_PEER_IPS + 1, sizeof(*t->peer_ok));
	if (!t->order || !t->hot || !t->segs || !t->peer_of ||
	    !t->loc_ok || !t->peer_ok)
		return -1;
	memset(t->peer_of, 0xff, n * sizeof(*t->peer_of));
	return 0;
}

static void free_peers(struct plan_peer *peers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(peers[i].allowed_ips);
	free(peers);
}

static void topo_free(struct topo *t)
{
	free(t->order);
	free(t->hot);
	free(t->segs);
	free(t->peer_of);
	free(t->loc_ok);
	free(t->peer_ok);
	free(t->found);
	free(t->endpoints);
	free_peers(t->peers.items, t->peers.n);
	free(t->spine_storage);
	free(t->has_extras);
	free(t->routes.items);
	free(t->extra_routes.items);
	free(t->cluster.items);
	free(t->encap.items);
	free(t->rejections.items);
}

static bool holds_tunnels(const struct topo *t)
{
	if (t->o->granularity == GRANULARITY_CROSS)
		return t->hot[t->self].usable;
	return t->segs[t->hot[t->self].seg].leader == t->self;
}

static int compute(struct topo *t, struct plan *plan, struct error *err)
{
	if (alloc_arrays(t) < 0 || build_segments(t) < 0)
		return error_set(err, "out of memory");
	if (allocate_addresses(t, err) < 0 || settle_claims(t, err) < 0)
		return -1;
	if (index_discovered(t) < 0 || build_spine(t) < 0)
		return error_set(err, "out of memory");
	t->tunnels = holds_tunnels(t);
	if (t->tunnels) {
		create_peers(t);
		if (t->failed || fill_allowed_ips(t) < 0)
			return error_set(err, "out of memory");
	}
	if (collect_endpoints(t) < 0)
		return error_set(err, "out of memory");
	t->route_out = &t->routes;
	reserve(t, &t->routes, t->n_spine, sizeof(struct route));
	spine_routes(t);
	t->route_out = &t->extra_routes;
	extra_routes(t);
	if (t->failed || assemble(t, plan) < 0)
		return error_set(err, "out of memory");
	return 0;
}

int topology_compute(const struct cluster *cluster, const char *self,
		     const struct topology_options *opts, struct plan *plan,
		     struct error *err)
{
	struct topo t = { .c = cluster, .o = opts };
	int r;

	memset(plan, 0, sizeof(*plan));
	if (check_options(opts, err) < 0)
		return error_prefix(err, "topology");
	t.self = find_node(cluster, self);
	if (t.self == NONE)
		return error_set(err, "topology: node %s: not in the cluster model", self);
	t.me = &cluster->nodes[t.self];
	if (!t.me->n_pod_cidrs)
		return error_set(err, "topology: node %s: no pod CIDR yet", self);
	r = compute(&t, plan, err);
	topo_free(&t);
	if (r < 0) {
		plan_free(plan);
		return error_prefix(err, "topology");
	}
	return 0;
}
