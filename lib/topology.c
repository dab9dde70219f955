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

void topo_push(struct topo *t, struct vec *v, const void *item, size_t size)
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

/* Room for n items up front, so pushes never move large items. */
void topo_reserve(struct topo *t, struct vec *v, size_t n, size_t size)
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

/* qsort, unless the items are in order already (node-named segments and
 * peers come in the model's name order), and never on an empty vector's
 * NULL. */
void topo_sort(void *items, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++) {
		if (cmp((char *)items + (i - 1) * size, (char *)items + i * size) > 0) {
			qsort(items, n, size, cmp);
			return;
		}
	}
}

void topo_reject(struct topo *t, const char *fmt, ...)
{
	struct plan_rejection r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	topo_push(t, &t->rejections, &r, sizeof(r));
}

/* ---- Segments and leaders ---------------------------------------------- */

bool topo_node_usable(const struct node *n)
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
	size_t best = TOPO_NONE;

	for (size_t i = s->first; i < s->first + s->count; i++) {
		size_t n = t->order[i];

		if (t->hot[n].usable && (best == TOPO_NONE || leads_before(&t->hot[n], &t->hot[best])))
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

/* What the computation reads of node i, in one visit: a struct node spans
 * some 20 cache lines, and each pass over the model costs a miss for every
 * line it reads. h->pods holds every pod CIDR until settle_pod_cidrs keeps
 * the accepted ones; membership, which needs those, comes after. */
static void gather_hot(struct topo *t, size_t i)
{
	const struct node *node = &t->c->nodes[i];
	struct hot *h = &t->hot[i];

	memset(h, 0, sizeof(*h)); /* here rather than by calloc: one pass */
	for (size_t j = 0; j < node->n_pod_cidrs; j++)
		h->pods[j] = cidr_network(&node->pod_cidrs[j]);
	h->n_pods = (uint8_t)node->n_pod_cidrs;
	if (node->has_internal_ip)
		h->private_host = cidr_host(&node->internal_ip.ip);
	h->ready = node->ready;
	h->can_tunnel = topo_node_usable(node);
	h->encap = needs_encap(t, node);
	h->alone = alone(t, node);
	h->leader = node->leader;
	h->public = node->has_public_endpoint;
	h->published = node->has_wireguard_ip;
	h->wireguard_ip = node->wireguard_ip.ip;
	h->n_location_ips = (uint8_t)node->n_allowed_location_ips;
}

/* Whether node i takes part and may hold tunnels, now that its pod CIDRs
 * are settled. */
static void settle_membership(struct topo *t, size_t i)
{
	struct hot *h = &t->hot[i];

	h->member = i == t->self || (h->ready && h->n_pods > 0);
	h->usable = h->n_pods > 0 && h->can_tunnel;
}

/* Location name -> segment index, by open addressing: grouping costs O(n)
 * plus sorting the distinct locations, not a sort of every node. */
struct loc_slot {
	const char *name; /* NULL: free */
	size_t seg;
};

static struct loc_slot *loc_slot(const struct topo *t, const char *location)
{
	size_t i = (size_t)name_hash("location", location) & t->loc_mask;

	while (t->loc_slots[i].name && strcmp(t->loc_slots[i].name, location))
		i = (i + 1) & t->loc_mask;
	return &t->loc_slots[i];
}

/* Node i's location segment, made on first sight, while the gather has
 * the node at hand; hot.seg holds its table slot until the segments are
 * sorted (build_segments). */
static void place_in_location(struct topo *t, size_t i)
{
	const char *location = t->c->nodes[i].location;
	struct loc_slot *slot = loc_slot(t, location);

	if (!slot->name) {
		t->segs[t->n_segs] = (struct seg){ .name = location };
		*slot = (struct loc_slot){ location, t->n_segs++ };
	}
	t->hot[i].seg = (size_t)(slot - t->loc_slots);
}

static int seg_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seg *)a)->name, ((const struct seg *)b)->name);
}

/* Location segments sorted by name, then one segment per lone node in the
 * model's (name) order; members listed in name order within each. */
static int build_segments(struct topo *t)
{
	size_t n = t->c->n_nodes, *fill = calloc(n + 1, sizeof(*fill));

	if (!fill)
		return -1;
	for (size_t i = 0; i < n; i++)
		settle_membership(t, i);
	topo_sort(t->segs, t->n_segs, sizeof(*t->segs), seg_name_cmp);
	for (size_t i = 0; i < t->n_segs; i++)
		loc_slot(t, t->segs[i].name)->seg = i;
	for (size_t i = 0; i < n; i++) {
		const struct node *node = &t->c->nodes[i];

		if (t->hot[i].alone) {
			t->segs[t->n_segs] = (struct seg){ .by_node = true, .name = node->name };
			t->hot[i].seg = t->n_segs++;
		} else {
			t->hot[i].seg = t->loc_slots[t->hot[i].seg].seg;
		}
	}
	for (size_t i = 0; i < n; i++) {
		t->segs[t->hot[i].seg].count++;
		t->segs[t->hot[i].seg].n_members += t->hot[i].member;
		t->segs[t->hot[i].seg].n_location_ips += t->hot[i].n_location_ips;
	}
	for (size_t i = 1; i < t->n_segs; i++)
		t->segs[i].first = t->segs[i - 1].first + t->segs[i - 1].count;
	for (size_t i = 0; i < n; i++) {
		const struct seg *seg = &t->segs[t->hot[i].seg];

		t->order[seg->first + fill[t->hot[i].seg]++] = i;
	}
	for (size_t i = 0; i < t->n_segs; i++)
		t->segs[i].leader = elect_leader(t, &t->segs[i]);
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
		if (s->leader != TOPO_NONE && t->hot[s->leader].published) {
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
	/* Each request is set whole, wgip_allocate clears ips, and a request
	 * reads only the published addresses it was given. */
	struct wgip_request *req = malloc((n + 1) * sizeof(*req));
	struct ip_addr *pub = malloc((t->c->n_nodes + 1) * sizeof(*pub));
	struct ip_addr *ips = malloc((n + 1) * sizeof(*ips));
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
			topo_reject(t, "%s %s: no WireGuard IP left in the subnet", req[i].kind, req[i].name);
	for (size_t i = 0; i < t->n_segs && !cross; i++)
		if (t->segs[i].leader != TOPO_NONE)
			set_address(&t->hot[t->segs[i].leader], &ips[i]);
	for (size_t i = 0; i < n && cross; i++)
		if (t->hot[i].usable)
			set_address(&t->hot[i], &ips[i]);
	t->wgips = ips;
	ips = NULL;
	r = 0;
out:
	free(req);
	free(pub);
	free(ips);
	return r;
}


/* ---- Allowed IPs: who may claim what ------------------------------------ */

/* The candidates (external peers' allowed IPs, then allowed-location-ips,
 * each by name: Peers are written by admins, annotations by anyone with
 * nodes/patch, so a Peer's range outranks an annotation) sit in a trie;
 * the cluster's own ranges (few queries that stop early, against many
 * ranges) strike the candidates they overlap; then the candidates are
 * taken in order, against those taken before. */
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

	for (size_t i = 0; i < t->c->n_peers; i++) {
		const struct peer *p = &t->c->peers[i];

		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			struct claim want = { cidr_network(&p->allowed_ips[j]), t->n_segs + i,
					      "allowed IP", "peer", p->name };

			if (add_candidate(cs, &want, &t->peer_ok[i * MODEL_MAX_PEER_IPS + j], &cap, err) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct node *n = &t->c->nodes[i];

		for (size_t j = 0; j < t->hot[i].n_location_ips; j++) {
			struct claim want = { cidr_network(&n->allowed_location_ips[j]), t->hot[i].seg,
					      "allowed-location-ip", "node", n->name };

			if (add_candidate(cs, &want, &t->loc_ok[i * MODEL_MAX_LOCATION_IPS + j], &cap, err) < 0)
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

void topo_reserved_ranges(const struct topo *t, struct reserved_ranges *r)
{
	r->ranges[0] = (struct claim){ cidr_network(&t->o->subnet), CLAIM_OWNER_ALL,
				       "WireGuard subnet", "", "" };
	for (r->n = 1; r->n <= t->o->n_service_cidrs; r->n++)
		r->ranges[r->n] = (struct claim){ cidr_network(&t->o->service_cidrs[r->n - 1]),
						  CLAIM_OWNER_ALL, "service CIDR", "", "" };
	for (size_t i = 0; i < r->n; i++)
		r->keys[i] = net_key(&r->ranges[i].net, 0);
}

const struct claim *reserved_overlapping(const struct reserved_ranges *r, const struct net_key *k)
{
	for (size_t i = 0; i < r->n; i++)
		if (net_keys_overlap(&r->keys[i], k))
			return &r->ranges[i];
	return NULL;
}

/* Whose node n's pod CIDRs and private IP are: its segment's, so a
 * location may announce the LAN its own nodes live in (its leader carries
 * both). In cross granularity a usable node other than the leader carries
 * its own, so a location's claim over them would put them on two peers:
 * they are nobody's to share. */
static size_t node_range_owner(const struct topo *t, size_t n)
{
	const struct hot *h = &t->hot[n];

	if (t->o->granularity == GRANULARITY_CROSS && h->usable && t->segs[h->seg].leader != n)
		return CLAIM_OWNER_ALL;
	return h->seg;
}

/* The reserved ranges, and each node's pod CIDRs and private IP. */
static void strike_with_cluster_ranges(struct topo *t, struct candidates *cs)
{
	struct reserved_ranges r;

	topo_reserved_ranges(t, &r);
	for (size_t i = 0; i < r.n; i++)
		strike_with(cs, &r.ranges[i]);
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];
		struct claim own = { .owner = node_range_owner(t, i), .what = "pod CIDR",
				     .kind = "node", .name = t->c->nodes[i].name };

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
	topo_reject(t, "%s %s: %s %s ignored: overlaps %s %s%s", want->kind, want->name, want->what,
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

/* Pod CIDRs come from the Node's creator (or nodes/patch while still
 * empty), and every node gives them to that node's peer: one wider than a
 * node's can be (a whole cluster's pod network is a /16 or a /48) is an
 * attempt to draw everything to that node. */
static unsigned pod_min_prefix(const struct cidr *net)
{
	return net->ip.family == AF_INET6 ? 48 : 16;
}

/* The state of the pod CIDR check: the reserved ranges, and the pod
 * CIDRs kept so far when some two overlap (else none need looking up). */
struct pod_check {
	struct reserved_ranges reserved;
	struct claims taken;
	bool overlap;
};

static const struct claim *pod_cidr_conflict(const struct pod_check *pc, const struct cidr *net,
					     size_t node)
{
	struct net_key k = net_key(net, 0);
	const struct claim *hit = reserved_overlapping(&pc->reserved, &k);

	if (hit)
		return hit;
	return pc->overlap ? claims_conflict(&pc->taken, net, node) : NULL;
}

/* The model's pod CIDR j stays: in h->pods, and marked for the spine. */
static void keep_pod(struct hot *h, size_t j, const struct cidr *net)
{
	h->pods[h->n_pods++] = *net;
	h->kept_pods |= (uint8_t)(1u << j);
}

/* Node i's pod CIDRs (in t->hot already) without those too wide or
 * overlapping a reserved range or an earlier node's kept pod CIDR. */
static int take_pod_cidrs(struct topo *t, struct pod_check *pc, size_t i, struct error *err)
{
	struct hot *h = &t->hot[i];
	size_t n = h->n_pods;
	char buf[CIDR_STRLEN];

	h->n_pods = 0;
	for (size_t j = 0; j < n; j++) {
		struct claim want = { h->pods[j], i, "pod CIDR", "node", t->c->nodes[i].name };
		const struct claim *hit = pod_cidr_conflict(pc, &want.net, i);

		if (want.net.prefix < pod_min_prefix(&want.net))
			topo_reject(t, "node %s: pod CIDR %s ignored: wider than /%u", want.name,
				    cidr_format(&want.net, buf), pod_min_prefix(&want.net));
		else if (hit)
			reject_claim(t, &want, hit);
		else if (pc->overlap && claims_add(&pc->taken, &want, err) < 0)
			return -1;
		else
			keep_pod(h, j, &want.net);
	}
	t->pods_rejected |= h->n_pods < n;
	return 0;
}

/* In address order a network sorts right before those it holds, so sorted
 * networks overlap when some two neighbours do. */
static bool any_holds_next(const struct net_key *sorted, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (net_key_contains(&sorted[i - 1], &sorted[i]))
			return true;
	return false;
}

/* Every node into t->hot, and whether any two pod CIDRs overlap (sorted,
 * and kept for the spine). Usually none do, and a sort costs a fraction of
 * filling a claims trie. */
static int gather_nodes(struct topo *t, bool *overlap)
{
	struct net_key *keys = malloc((2 * MODEL_MAX_POD_CIDRS * t->c->n_nodes + 1) * sizeof(*keys));
	size_t n = 0;

	if (!keys)
		return -1;
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];

		/* What gather_hot reads (TOPO_AHEAD), in the loop itself: GCC
		 * drops a function that only prefetches. */
		if (i + TOPO_AHEAD < t->c->n_nodes) {
			const struct node *ahead = &t->c->nodes[i + TOPO_AHEAD];

			__builtin_prefetch(ahead->location);
			__builtin_prefetch(ahead->pod_cidrs);
			__builtin_prefetch(&ahead->internal_ip);
			__builtin_prefetch(&ahead->endpoint.port);
			__builtin_prefetch(&ahead->ready);
			__builtin_prefetch(&ahead->n_allowed_location_ips);
		}
		gather_hot(t, i);
		if (!h->alone)
			place_in_location(t, i);
		for (size_t j = 0; j < h->n_pods; j++)
			keys[n++] = net_key(&h->pods[j], (uint32_t)(i << 2 | j));
	}
	t->pod_key_storage = keys;
	t->pod_keys = net_keys_sort(keys, keys + n, n);
	t->n_pod_keys = n;
	*overlap = any_holds_next(t->pod_keys, n);
	return 0;
}

/* The local node's pod CIDRs were all rejected: the last rejection says why. */
static int no_pod_cidr_left(const struct topo *t, struct error *err)
{
	const struct plan_rejection *why = t->rejections.items;

	if (t->failed || !t->rejections.n)
		return error_set(err, "out of memory");
	return error_set(err, "no pod CIDR left: %s", why[t->rejections.n - 1].msg);
}

/* Gathers every node, then settles its pod CIDRs, nodes by name (the
 * first keeps a range two claim). Fails when none of the local node's is
 * left: it has no pods to route. */
static int settle_pod_cidrs(struct topo *t, struct error *err)
{
	struct pod_check pc;
	int r = 0;

	if (gather_nodes(t, &pc.overlap) < 0)
		return error_set(err, "out of memory");
	topo_reserved_ranges(t, &pc.reserved);
	claims_init(&pc.taken);
	for (size_t i = 0; i < t->c->n_nodes && r == 0; i++) {
		r = take_pod_cidrs(t, &pc, i, err);
		if (r == 0 && i == t->self && !t->hot[i].n_pods)
			r = no_pod_cidr_left(t, err);
	}
	claims_free(&pc.taken);
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
	int r = memcmp(x->key.bytes, y->key.bytes, WG_KEY_LEN);

	if (r)
		return r;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

int topo_index_discovered(struct topo *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->c->n_nodes; i++)
		n += t->c->nodes[i].n_discovered;
	if (!n)
		return 0;
	t->found = calloc(n, sizeof(*t->found));
	if (!t->found)
		return -1;
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct node *node = &t->c->nodes[i];
		const struct discovered_endpoint *d = node_discovered(t->c, node);

		for (size_t j = 0; j < node->n_discovered; j++)
			t->found[t->n_found++] = (struct found_endpoint){ d[j].key, (uint32_t)i, (uint32_t)j };
	}
	topo_sort(t->found, t->n_found, sizeof(*t->found), found_cmp);
	return 0;
}

/* An endpoint is 256 bytes, mostly unused: the plan copies only the
 * host's characters, so the lookups below hand out pointers. */
static const struct endpoint no_endpoint = { "", 0 };

/* The endpoint the first node (by name) discovered for key, or an empty one. */
static const struct endpoint *discovered_endpoint_ref(const struct topo *t, const struct wg_key *key)
{
	struct found_endpoint want = { *key, 0, 0 };
	size_t lo = 0, hi = t->n_found;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (found_cmp(&t->found[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n_found && key_equal(&t->found[lo].key, key)) {
		const struct found_endpoint *f = &t->found[lo];

		return &node_discovered(t->c, &t->c->nodes[f->node])[f->slot].endpoint;
	}
	return &no_endpoint;
}

const struct endpoint *topo_node_endpoint_ref(const struct topo *t, const struct node *n)
{
	return n->persistent_keepalive > 0 ? discovered_endpoint_ref(t, &n->public_key) : &n->endpoint;
}

const struct endpoint *topo_peer_endpoint_ref(const struct topo *t, const struct peer *p)
{
	return p->endpoint.host[0] ? &p->endpoint : discovered_endpoint_ref(t, &p->public_key);
}

struct endpoint topo_node_endpoint(const struct topo *t, const struct node *n)
{
	return *topo_node_endpoint_ref(t, n);
}

struct endpoint topo_peer_endpoint(const struct topo *t, const struct peer *p)
{
	return *topo_peer_endpoint_ref(t, p);
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
	return TOPO_NONE;
}

static int alloc_arrays(struct topo *t)
{
	size_t n = t->c->n_nodes, loc_mask = 15;

	/* Room for twice the nodes in locations (none in full granularity). */
	while (t->o->granularity != GRANULARITY_FULL && loc_mask + 1 < 2 * n)
		loc_mask = loc_mask * 2 + 1;

	t->order = malloc((n + 1) * sizeof(*t->order)); /* build_segments fills it */
	t->hot = malloc((n + 1) * sizeof(*t->hot));  /* gather_hot clears each */
	t->segs = malloc((n + 1) * sizeof(*t->segs)); /* each set whole */
	t->peer_of = malloc(n * sizeof(*t->peer_of));
	t->loc_ok = calloc(n * MODEL_MAX_LOCATION_IPS, sizeof(*t->loc_ok));
	t->peer_ok = calloc(t->c->n_peers * MODEL_MAX_PEER_IPS + 1, sizeof(*t->peer_ok));
	t->loc_slots = calloc(loc_mask + 1, sizeof(*t->loc_slots));
	t->loc_mask = loc_mask;
	if (!t->order || !t->hot || !t->segs || !t->peer_of ||
	    !t->loc_ok || !t->peer_ok || !t->loc_slots)
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

void topo_free(struct topo *t)
{
	free(t->order);
	free(t->hot);
	free(t->segs);
	free(t->peer_of);
	free(t->loc_ok);
	free(t->peer_ok);
	free(t->loc_slots);
	free(t->found);
	free(t->wgips);
	free(t->endpoints);
	free_peers(t->peers.items, t->peers.n);
	free(t->pod_key_storage);
	free(t->spine);
	free(t->spine_nets);
	free(t->reach);
	free(t->fill);
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
	if (alloc_arrays(t) < 0)
		return error_set(err, "out of memory");
	if (settle_pod_cidrs(t, err) < 0)
		return -1;
	if (t->failed || build_segments(t) < 0)
		return error_set(err, "out of memory");
	if (allocate_addresses(t, err) < 0 || settle_claims(t, err) < 0)
		return -1;
	if (topo_index_discovered(t) < 0)
		return error_set(err, "out of memory");
	t->tunnels = holds_tunnels(t);
	if (topo_build_plan(t, plan) < 0)
		return error_set(err, "out of memory");
	return 0;
}

int topo_run(struct topo *t, const struct cluster *cluster, const char *self,
	     const struct topology_options *opts, struct plan *plan, struct error *err)
{
	*t = (struct topo){ .c = cluster, .o = opts };
	memset(plan, 0, sizeof(*plan));
	if (check_options(opts, err) < 0)
		return error_prefix(err, "topology");
	t->self = find_node(cluster, self);
	if (t->self == TOPO_NONE)
		return error_set(err, "topology: node %s: not in the cluster model", self);
	t->me = &cluster->nodes[t->self];
	if (!t->me->n_pod_cidrs)
		return error_set(err, "topology: node %s: no pod CIDR yet", self);
	if (compute(t, plan, err) < 0) {
		plan_free(plan);
		return error_prefix(err, "topology");
	}
	return 0;
}

int topology_compute(const struct cluster *cluster, const char *self,
		     const struct topology_options *opts, struct plan *plan,
		     struct error *err)
{
	struct topo t;
	int r = topo_run(&t, cluster, self, opts, plan, err);

	topo_free(&t);
	return r;
}
