// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The plan read off the settled model: every node's networks sorted once
 * (the spine), then the local node's peers, routes and address lists
 * taken from it in order, and the few networks that live on no node
 * merged in.
 */
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology_impl.h"

/* ---- The spine: every node's networks in address order ------------------ */

/* Sorting is the expensive part of a plan, so it happens once: the spine
 * lists every node's networks (item: node << 2 | what) in address order,
 * and the routes, each peer's allowed IPs and the cluster CIDRs are read
 * off it in that order. The pod CIDRs come sorted from their check; the
 * private and WireGuard IPs are sorted and merged in (ties in item order,
 * as one stable sort of every node's networks in node order gives). Only
 * the few networks that do not live on a node (allowed-location-ips,
 * peers' allowed IPs, subnet, service CIDRs) are sorted apart and merged
 * in later. */
enum { NET_POD0, NET_POD1, NET_PRIVATE, NET_WG };

/* The pod CIDR keys of those kept, in place. */
static void drop_rejected_pods(struct topo *t)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n_pod_keys; i++) {
		const struct net_key *k = &t->pod_keys[i];

		if (t->hot[k->item >> 2].kept_pods & (1u << (k->item & 3)))
			t->pod_keys[kept++] = *k;
	}
	t->n_pod_keys = kept;
}

static int build_spine(struct topo *t)
{
	size_t n = 0, k = 0;
	struct net_key *keys;

	if (t->pods_rejected)
		drop_rejected_pods(t);
	for (size_t i = 0; i < t->c->n_nodes; i++)
		n += !!t->hot[i].private_host.ip.family + !!t->hot[i].addr.family;
	keys = malloc((2 * n + 1) * sizeof(*keys));
	t->spine = malloc((n + t->n_pod_keys + 1) * sizeof(*t->spine));
	if (!keys || !t->spine) {
		free(keys);
		return -1;
	}
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];

		if (h->private_host.ip.family)
			keys[k++] = net_key(&h->private_host, (uint32_t)(i << 2 | NET_PRIVATE));
		if (h->addr.family)
			keys[k++] = net_key(&h->addr_host, (uint32_t)(i << 2 | NET_WG));
	}
	net_keys_merge(t->pod_keys, t->n_pod_keys, net_keys_sort(keys, keys + n, n), n, t->spine);
	t->n_spine = n + t->n_pod_keys;
	/* Freed at once, so what is allocated next can reuse the memory. */
	free(keys);
	free(t->pod_key_storage);
	t->pod_key_storage = t->pod_keys = NULL;
	return 0;
}

/* The loops below copy the spine's networks: read off the keys once,
 * after the private IPs taken are dropped (copying a network rebuilt just
 * before stalls on the bytes still being written). */
static int name_spine_nets(struct topo *t)
{
	t->spine_nets = malloc((t->n_spine + 1) * sizeof(*t->spine_nets));
	if (!t->spine_nets)
		return -1;
	for (size_t i = 0; i < t->n_spine; i++)
		net_key_cidr(&t->spine[i], &t->spine_nets[i]);
	return 0;
}

/* A network two nodes claim (only in a broken model, as two nodes with one
 * private IP: pod CIDRs are claim-checked) goes to the first by name. */
static bool spine_repeats(const struct topo *t, size_t i)
{
	return i > 0 && net_keys_equal(&t->spine[i], &t->spine[i - 1]);
}

/* Whether private IP key k lies in another node's pod CIDR (pod: the last
 * one before k, or NULL) or a reserved range; says so when it does. */
static bool private_ip_taken(struct topo *t, const struct reserved_ranges *r,
			     const struct net_key *k, const struct net_key *pod)
{
	size_t n = k->item >> 2;
	const struct cidr *ip = &t->hot[n].private_host;
	const struct claim *reserved = reserved_overlapping(r, k);
	char a[CIDR_STRLEN], b[CIDR_STRLEN];
	struct cidr pod_net;

	if (pod && pod->item >> 2 != n && net_key_contains(pod, k)) {
		net_key_cidr(pod, &pod_net);
		topo_reject(t, "node %s: private IP %s not routed: inside pod CIDR %s of node %s",
			    t->c->nodes[n].name, cidr_format(ip, a), cidr_format(&pod_net, b),
			    t->c->nodes[pod->item >> 2].name);
	} else if (reserved)
		topo_reject(t, "node %s: private IP %s not routed: inside %s %s", t->c->nodes[n].name,
			    cidr_format(ip, a), reserved->what, cidr_format(&reserved->net, b));
	else
		return false;
	return true;
}

/* A private IP goes to its carrier's peer as a host network, which
 * WireGuard prefers to any wider one: one inside another node's pod CIDR,
 * the WireGuard subnet or a service CIDR (the internal-ip annotation is
 * open to nodes/patch) would take that address, so it leaves the spine.
 * Kept pod CIDRs are disjoint, so the one that may hold a network is the
 * last pod CIDR before it in address order. */
static void drop_taken_private_ips(struct topo *t)
{
	struct net_key pod;
	struct reserved_ranges r;
	bool has_pod = false;
	size_t kept = 0;

	topo_reserved_ranges(t, &r);

	for (size_t i = 0; i < t->n_spine; i++) {
		struct net_key k = t->spine[i];
		size_t what = k.item & 3;

		if (what == NET_POD0 || what == NET_POD1) {
			if (!has_pod || !net_key_contains(&pod, &k))
				pod = k; /* else the same node's, inside its other */
			has_pod = true;
		} else if (what == NET_PRIVATE && private_ip_taken(t, &r, &k, has_pod ? &pod : NULL)) {
			continue;
		}
		t->spine[kept++] = k;
	}
	t->n_spine = kept;
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

/* A model name into room for MODEL_NAME_MAX + 1 bytes (snprintf costs more
 * than the rest of a peer or segment). */
static void copy_name(char *out, const char *name)
{
	size_t n = strnlen(name, MODEL_NAME_MAX);

	memcpy(out, name, n);
	out[n] = '\0';
}

/* prefix + name into a plan peer's or segment's name. */
static void join_name(char out[MODEL_NAME_MAX + 16], const char *prefix, const char *name)
{
	size_t lp = strlen(prefix);

	memcpy(out, prefix, lp);
	copy_name(out + lp, name);
}

/* The host's characters only: most of an endpoint's 256 bytes are unused,
 * and reading them would touch four more cache lines per node. */
static void copy_endpoint(struct endpoint *to, const struct endpoint *from)
{
	size_t n = strnlen(from->host, MODEL_HOST_MAX);

	memcpy(to->host, from->host, n);
	to->host[n] = '\0';
	to->port = from->port;
}

/* WireGuard's own UDP packets must not be routed into the tunnel: a
 * peer's endpoint address (an IP literal) is noted as the peer is made,
 * while its host is at hand, to keep it out of wg routes. */
static void note_endpoint(struct topo *t, const struct plan_peer *p)
{
	struct ip_addr ip;
	struct cidr net;

	if (!p->endpoint.host[0] || ip_parse(p->endpoint.host, &ip) < 0)
		return;
	net = cidr_host(&ip);
	t->endpoints[t->n_endpoints++] = net_key(&net, (uint32_t)(p - peer_at(t, 0)));
}

/* The next peer, zeroed and named, in the room create_peers reserved: a
 * peer is large, so it is filled in place rather than built and copied
 * in. Whether the peers come in name order is seen here, while the last
 * one's name is still in cache. */
static struct plan_peer *new_peer(struct topo *t, const char *prefix, const char *name)
{
	struct plan_peer *p = peer_at(t, t->peers.n++);

	memset(p, 0, sizeof(*p));
	join_name(p->name, prefix, name);
	if (t->peers.n > 1 && strcmp(p[-1].name, p->name) > 0)
		t->peers_unsorted = true;
	return p;
}

/* The plan peer for the tunnel to carrier, created on first use. */
static void node_peer(struct topo *t, size_t carrier)
{
	const struct node *n = &t->c->nodes[carrier];
	const struct seg *s = &t->segs[t->hot[carrier].seg];
	struct plan_peer *p;

	if (t->peer_of[carrier] != TOPO_NONE)
		return;
	t->peer_of[carrier] = t->peers.n;
	if (t->o->granularity != GRANULARITY_CROSS && !s->by_node)
		p = new_peer(t, "location/", s->name);
	else
		p = new_peer(t, "node/", n->name);
	p->public_key = n->public_key;
	copy_endpoint(&p->endpoint, topo_node_endpoint_ref(t, n));
	p->persistent_keepalive = my_keepalive(t);
	note_endpoint(t, p);
}

static void external_peer(struct topo *t, const struct peer *ext)
{
	struct plan_peer *p = new_peer(t, "peer/", ext->name);

	p->public_key = ext->public_key;
	copy_endpoint(&p->endpoint, topo_peer_endpoint_ref(t, ext));
	p->persistent_keepalive = ext->persistent_keepalive > 0 ? ext->persistent_keepalive
								: my_keepalive(t);
	p->preshared_key = ext->preshared_key;
	p->has_preshared_key = ext->has_preshared_key;
	note_endpoint(t, p);
}

/* The walkers below call fn(t, arg, network) for each network; fn counts
 * or appends a peer's allowed IPs (arg: the peer), adds a route, or pushes
 * onto a list. */
typedef void each_fn(struct topo *t, size_t arg, const struct cidr *net);

/* The accepted allowed-location-ips of segment s (most segments have
 * none, and looking at each member's would visit every node). */
static void each_location_net(struct topo *t, const struct seg *s, size_t arg, each_fn *fn)
{
	if (!s->n_location_ips)
		return;
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

/* Who carries the tunnel for node n: its own, in cross granularity, when
 * it is usable; else its segment's leader. */
static size_t carrier_of(const struct topo *t, size_t n)
{
	if (t->o->granularity == GRANULARITY_CROSS && t->hot[n].usable)
		return n;
	return t->segs[t->hot[n].seg].leader;
}

static bool is_remote(const struct topo *t, size_t n)
{
	return t->hot[n].member && t->hot[n].seg != t->hot[t->self].seg;
}

/* A segment outside the local one that someone carries tunnels for. */
static bool is_remote_segment(const struct topo *t, size_t i)
{
	return i != t->hot[t->self].seg && t->segs[i].leader != TOPO_NONE && t->segs[i].n_members;
}

/* Counting first, so each list is allocated once. */
static void count(struct topo *t, size_t peer, const struct cidr *net)
{
	(void)net;
	t->fill[peer].n++;
}

static void allow(struct topo *t, size_t peer, const struct cidr *net)
{
	struct allowed_fill *f = &t->fill[peer];

	f->ips[f->n++] = *net;
}

/* Whether node n is remote and carries its own tunnel: node_peer will
 * read its fields. */
static bool carries_itself(const struct topo *t, size_t n)
{
	return is_remote(t, n) && carrier_of(t, n) == n;
}

/* Fails (t->failed) only when the room for every peer cannot be had. */
static void create_peers(struct topo *t)
{
	size_t most = t->o->granularity == GRANULARITY_CROSS ? t->c->n_nodes : t->n_segs;

	topo_reserve(t, &t->peers, most + t->c->n_peers, sizeof(struct plan_peer));
	t->endpoints = malloc((2 * (most + t->c->n_peers) + 1) * sizeof(*t->endpoints));
	if (!t->endpoints)
		t->failed = true;
	if (t->failed)
		return;
	for (size_t n = 0; n < t->c->n_nodes; n++) {
		size_t next = n + TOPO_AHEAD;

		/* In the loop itself: GCC drops a function that only prefetches. */
		if (next < t->c->n_nodes && carries_itself(t, next)) {
			const struct node *ahead = &t->c->nodes[next];

			__builtin_prefetch(ahead->name);
			__builtin_prefetch(ahead->endpoint.host);
			__builtin_prefetch(&ahead->public_key);
			__builtin_prefetch(&ahead->persistent_keepalive);
		}
		if (is_remote(t, n) && carrier_of(t, n) != TOPO_NONE)
			node_peer(t, carrier_of(t, n));
	}
	t->first_external = t->peers.n;
	for (size_t i = 0; i < t->c->n_peers; i++)
		external_peer(t, &t->c->peers[i]);
}

static int reach_nodes(struct topo *t)
{
	t->reach = malloc((t->c->n_nodes + 1) * sizeof(*t->reach));
	if (!t->reach)
		return -1;
	for (size_t n = 0; n < t->c->n_nodes; n++) {
		struct reach *r = &t->reach[n];
		size_t carrier = carrier_of(t, n);

		*r = (struct reach){ TOPO_NONE, REACH_NONE };
		if (n == t->self || !t->hot[n].member)
			continue;
		if (!is_remote(t, n))
			r->how = REACH_LOCAL;
		else if (carrier != TOPO_NONE)
			*r = (struct reach){ t->peer_of[carrier], REACH_AWAY };
	}
	return 0;
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
		size_t peer = t->reach[t->spine[i].item >> 2].peer;

		if (peer != TOPO_NONE && !spine_repeats(t, i))
			fn(t, peer, &t->spine_nets[i]);
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
	t->fill[peer].has_extras = true;
}

static void sort_in_extras(struct plan_peer *p)
{
	size_t k = 0;

	topo_sort(p->allowed_ips, p->n_allowed_ips, sizeof(struct cidr), cidr_cmp_void);
	for (size_t j = 0; j < p->n_allowed_ips; j++)
		if (!k || !cidr_equal(&p->allowed_ips[j], &p->allowed_ips[k - 1]))
			p->allowed_ips[k++] = p->allowed_ips[j];
	p->n_allowed_ips = k;
}

static int fill_allowed_ips(struct topo *t)
{
	t->fill = calloc(t->peers.n + 1, sizeof(*t->fill));
	if (!t->fill)
		return -1;
	each_spine_allowed(t, count);
	each_extra_allowed(t, count);
	each_extra_allowed(t, mark_extras);
	for (size_t i = 0; i < t->peers.n; i++) {
		struct allowed_fill *f = &t->fill[i];

		f->ips = peer_at(t, i)->allowed_ips = malloc((f->n + 1) * sizeof(*f->ips));
		if (!f->ips)
			return -1;
		f->n = 0;
	}
	each_spine_allowed(t, allow);
	each_extra_allowed(t, allow);
	for (size_t i = 0; i < t->peers.n; i++) {
		struct plan_peer *p = peer_at(t, i);

		p->n_allowed_ips = t->fill[i].n;
		if (t->fill[i].has_extras)
			sort_in_extras(p);
	}
	return 0;
}

/* ---- The local node's routes -------------------------------------------- */

/* The endpoints noted as peers were made, sorted for holds_endpoint. */
static void sort_endpoints(struct topo *t)
{
	struct net_key *sorted;

	if (!t->n_endpoints)
		return;
	sorted = net_keys_sort(t->endpoints, t->endpoints + t->n_endpoints, t->n_endpoints);
	if (sorted != t->endpoints)
		memcpy(t->endpoints, sorted, t->n_endpoints * sizeof(*sorted));
}

static bool holds_endpoint(const struct topo *t, const struct cidr *dst)
{
	struct net_key net;
	size_t i;

	if (!t->n_endpoints)
		return false;
	net = net_key(dst, 0);
	/* Starts below the lowest endpoint without holding it: wholly below
	 * every endpoint (pod CIDRs usually are), no search needed; nor when
	 * it starts above the highest (the other family's, often). */
	if (net_keys_lower_bound(&net, 1, &t->endpoints[0]) == 1 &&
	    !net_key_contains(&net, &t->endpoints[0]))
		return false;
	if (net_keys_lower_bound(&t->endpoints[t->n_endpoints - 1], 1, &net) == 1)
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
		topo_push(t, v, r, sizeof(*r));
}

static void route_via_tunnel(struct topo *t, const struct cidr *dst)
{
	struct route r = { .dst = *dst, .table = SKEIN_ROUTE_TABLE };
	char buf[CIDR_STRLEN];

	if (holds_endpoint(t, dst)) {
		topo_reject(t, "route to %s via %s left out: it holds a peer's endpoint",
		       cidr_format(&r.dst, buf), t->o->wg_ifname);
		t->n_hidden_routes++;
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
		topo_reject(t, "route to %s via node %s left out: its private IP is IPv6",
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
	else if (leader != TOPO_NONE)
		route_via_node(t, dst, leader);
}

/* Pods and WireGuard IPs of the local segment's nodes directly (their
 * private IPs are the underlay's business); everything of other segments
 * carried by someone away. */
static void spine_routes(struct topo *t)
{
	for (size_t i = 0; i < t->n_spine; i++) {
		size_t n = t->spine[i].item >> 2, what = t->spine[i].item & 3;
		enum reach_how how = t->reach[n].how;

		if (how == REACH_NONE || spine_repeats(t, i))
			continue;
		if (how == REACH_LOCAL && what != NET_PRIVATE)
			route_via_node(t, &t->spine_nets[i], n);
		else if (how == REACH_AWAY)
			route_away(t, 0, &t->spine_nets[i]);
	}
}

/* At most one route per allowed-location-ip and external peer's allowed
 * IP. */
static size_t extra_routes_bound(const struct topo *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_segs; i++)
		n += t->segs[i].n_location_ips;
	for (size_t i = 0; i < t->c->n_peers; i++)
		n += t->c->peers[i].n_allowed_ips;
	return n;
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

/* Whether extra b[j] joins the spine's routes a[0, na): not when they have
 * its destination (the spine's route stays), nor when an earlier extra
 * has it. */
static bool keeps_extra(const struct route *a, size_t na, const struct route *b, size_t j)
{
	size_t pos = route_lower_bound(a, 0, na, &b[j].dst);

	if (pos < na && cidr_equal(&a[pos].dst, &b[j].dst))
		return false;
	return j == 0 || !cidr_equal(&b[j - 1].dst, &b[j].dst);
}

/* The spine's routes (sorted, unique) with the few extras sorted in, in
 * place (copying ~15,000 routes into a new array cost more than the rest
 * of this): from the back, the spine's routes above each kept extra move
 * up past it. Room for the extras was reserved with the spine's. */
static int make_routes(struct topo *t, struct plan *plan)
{
	const struct route *b = t->extra_routes.items;
	size_t na = t->routes.n, nb = t->extra_routes.n, w = na, i = na;
	struct route *r;

	topo_sort(t->extra_routes.items, nb, sizeof(struct route), route_cmp);
	for (size_t j = 0; j < nb; j++)
		w += keeps_extra(t->routes.items, na, b, j);
	topo_reserve(t, &t->routes, w + 1, sizeof(struct route));
	if (t->failed)
		return -1;
	r = t->routes.items;
	plan->routes = r;
	plan->n_routes = w;
	t->routes = (struct vec){ 0 };
	for (size_t j = nb; j-- > 0;) {
		size_t pos;

		if (!keeps_extra(r, i, b, j))
			continue;
		pos = route_lower_bound(r, 0, i, &b[j].dst);
		w -= i - pos;
		memmove(&r[w], &r[pos], (i - pos) * sizeof(*r));
		r[--w] = b[j];
		i = pos;
	}
	return 0;
}

/* ---- Assembling the plan ------------------------------------------------ */

/* Sorting the peers: index is where a peer was, rank (filled in
 * afterwards, by old index) where it goes. */
struct peer_rank {
	const char *name;
	size_t index, rank;
};

static int peer_rank_cmp(const void *a, const void *b)
{
	return strcmp(((const struct peer_rank *)a)->name, ((const struct peer_rank *)b)->name);
}

/* Moves the peers into the plan sorted by name: as they are (full and
 * cross granularity create them in name order), else each copied once
 * (they are large); t->peer_of follows them. */
static int sort_peers(struct topo *t, struct plan *plan)
{
	struct peer_rank *order;

	if (!t->peers_unsorted) {
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
		order[i] = (struct peer_rank){ peer_at(t, i)->name, i, 0 };
	qsort(order, t->peers.n, sizeof(*order), peer_rank_cmp);
	for (size_t i = 0; i < t->peers.n; i++) {
		plan->peers[i] = *peer_at(t, order[i].index);
		order[order[i].index].rank = i;
	}
	for (size_t n = 0; n < t->c->n_nodes; n++)
		if (t->peer_of[n] != TOPO_NONE)
			t->peer_of[n] = order[t->peer_of[n]].rank;
	plan->n_peers = t->peers.n;
	free(t->peers.items);
	t->peers = (struct vec){ 0 };
	free(order);
	return 0;
}

static void push_cidr(struct topo *t, size_t unused, const struct cidr *net)
{
	(void)unused;
	topo_push(t, &t->cluster, net, sizeof(*net));
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
	/* The merge keeps the spine's order, so its networks come in turn. */
	for (size_t i = 0, last = 0, s = 0; i < n; i++) {
		const struct net_key *k = &merged[i];
		const struct cidr *net = k->item & EXTRA_ITEM ? &extras[k->item & ~EXTRA_ITEM]
							      : &t->spine_nets[s++];

		if (plan->n_cluster_cidrs && net_key_contains(&merged[last], k))
			continue;
		plan->cluster_cidrs[plan->n_cluster_cidrs++] = *net;
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
			topo_push(t, &t->encap, &t->hot[i].private_host.ip, sizeof(struct ip_addr));
	if (t->failed)
		return -1;
	plan->encap_remotes = t->encap.items;
	plan->n_encap_remotes = t->encap.n;
	t->encap = (struct vec){ 0 };
	topo_sort(plan->encap_remotes, plan->n_encap_remotes, sizeof(struct ip_addr), ip_cmp_void);
	return 0;
}

/* Routes are sorted by family first (AF_INET, then AF_INET6), so a family
 * has routes when the first or the last route is of it. */
static bool has_routes_of(const struct plan *plan, int family)
{
	return plan->n_routes && (plan->routes[0].dst.ip.family == family ||
				  plan->routes[plan->n_routes - 1].dst.ip.family == family);
}

static int make_rules(struct plan *plan)
{
	static const int families[] = { AF_INET, AF_INET6 };

	plan->rules = calloc(2, sizeof(*plan->rules));
	if (!plan->rules)
		return -1;
	for (size_t f = 0; f < 2; f++) {
		if (has_routes_of(plan, families[f]))
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
	plan->segments = malloc((t->n_segs + 1) * sizeof(*plan->segments));
	if (!plan->segments)
		return -1;
	for (size_t i = 0; i < t->n_segs; i++) {
		const struct seg *s = &t->segs[i];
		struct plan_segment *out = &plan->segments[plan->n_segments];

		if (i + TOPO_AHEAD < t->n_segs) {
			const struct seg *ahead = &t->segs[i + TOPO_AHEAD];

			__builtin_prefetch(t->c->nodes[t->order[ahead->first]].location);
			__builtin_prefetch(ahead->name);
		}
		if (!s->n_members)
			continue;
		memset(out, 0, sizeof(*out)); /* not by calloc: one pass, not two */
		copy_name(out->location, t->c->nodes[t->order[s->first]].location);
		join_name(out->name, s->by_node ? "node/" : "location/", s->name);
		out->leader = s->leader == TOPO_NONE ? PLAN_NO_LEADER : s->leader;
		if (s->leader != TOPO_NONE)
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
	topo_sort(plan->local_pod_cidrs, plan->n_local_pod_cidrs, sizeof(struct cidr), cidr_cmp_void);
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

/* The steps after the model is settled: sort, then read the plan off. */
int topo_build_plan(struct topo *t, struct plan *plan)
{
	if (build_spine(t) < 0)
		return -1;
	drop_taken_private_ips(t);
	if (name_spine_nets(t) < 0)
		return -1;
	if (t->tunnels)
		create_peers(t);
	if (t->failed || reach_nodes(t) < 0 || (t->tunnels && fill_allowed_ips(t) < 0))
		return -1;
	sort_endpoints(t);
	t->route_out = &t->routes;
	topo_reserve(t, &t->routes, t->n_spine + extra_routes_bound(t) + 1, sizeof(struct route));
	spine_routes(t);
	t->route_out = &t->extra_routes;
	extra_routes(t);
	if (t->failed || assemble(t, plan) < 0)
		return -1;
	return 0;
}
