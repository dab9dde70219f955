// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cache's patches for one remote node joining, leaving, or turning
 * Ready or NotReady. Such a node, when it neither leads nor could lead a
 * segment, and the plan has no rejection (so every network was kept, no
 * claim was struck and no route hidden), brings or takes away:
 *
 * - as a member (Ready, with a pod CIDR; member.*): its routes, and its
 *   networks on the peer that carries them, its own (a node alone, every
 *   node in full granularity, a usable node in cross) or its location
 *   leader's; its own segment, or one member of its location's;
 * - as a node of the model (arrival, departure): its networks in
 *   cluster_cidrs, its WireGuard IP request, and a shift of every node
 *   index after it (plan segments' leaders, the memo, the discovered
 *   endpoints' index).
 *
 * A remote location's leader may hand over to another node when one of
 * its nodes turns Ready or NotReady or its leader annotation changes
 * (succession_is_safe, in location and cross granularity): the segment
 * names the new leader; in location granularity the location's peer dials
 * it, when the location's address provably stays; in cross granularity
 * the peers stay (each usable node has its own) when the leader's peer
 * carries nothing else. The agents' publishing of their addresses after
 * a handover or a join changes no plan when it moves no address
 * (patch_republish): the cache's book follows.
 *
 * Each patch has one gate (join_is_safe, leave_is_safe, flip_is_safe and
 * succession_is_safe) that checks everything and finds what the change
 * needs before the plan is touched; the plan is then changed in place,
 * memory reserved first, so the change cannot fail half way. Anything the
 * gate cannot prove recomputes. docs/topology.md says why each condition
 * is there.
 */
#include "topology_cache_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How the local node reaches other segments. */
enum way_out {
	WAY_NONE,   /* not at all: its segment has no leader */
	WAY_TUNNEL, /* through its own tunnels */
	WAY_LEADER, /* through its segment's leader */
	WAY_UNSURE, /* another node has the leader's address: recompute */
};

/* A node as a member: what it brings to the plan, or takes from it. */
struct member {
	size_t x;        /* its index, in the cluster it is in */
	bool alone;      /* a segment of its own (else its location's) */
	bool usable;
	bool carries;    /* it carries its own peer (and WireGuard IP) */
	bool carried;    /* someone carries its networks: itself or its location's leader */
	struct cidr nets[MODEL_MAX_POD_CIDRS + 2]; /* what is routed to it, sorted */
	size_t n_nets;
	struct ip_addr addr; /* its WireGuard IP, when it carries one */
	size_t seg;      /* its location's plan segment, or where its own is (or goes) */
	size_t peer;     /* the plan peer carrying its networks (or where its own goes) */
	bool leader_known; /* its location's next leader is settled (a flip's succession) */
	enum way_out reach;
	struct route templates[2];   /* WAY_LEADER: a route away per family (IPv4, IPv6) */
	struct plan_peer new_peer;   /* entering with a peer of its own */
	struct plan_segment new_seg; /* entering with a segment of its own */
};

/* Whether routes go to it, and whether they go through the local node's
 * tunnels (so a peer carries its networks). */
static bool routed(const struct member *m)
{
	return m->carried && m->reach != WAY_NONE;
}

static bool tunneled(const struct member *m)
{
	return m->carried && m->reach == WAY_TUNNEL;
}

/* ---- Small helpers -------------------------------------------------------- */

static bool cidr_in(const struct cidr *net, const struct cidr *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(net, &set[i]))
			return true;
	return false;
}

static bool overlap_any(const struct cidr *net, const struct cidr *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_overlaps(net, &set[i]))
			return true;
	return false;
}

static void sort_cidrs(struct cidr *nets, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cidr_cmp(&nets[j - 1], &nets[j]) > 0; j--) {
			struct cidr tmp = nets[j];

			nets[j] = nets[j - 1];
			nets[j - 1] = tmp;
		}
}

/* Room for n items in *items, which has room for *room. */
static bool grow(void **items, size_t *room, size_t n, size_t size)
{
	size_t more = *room + *room / 2 > n ? *room + *room / 2 : n;
	void *p;

	if (n <= *room)
		return true;
	p = realloc(*items, (more + 1) * size);
	if (!p)
		return false;
	*items = p;
	*room = more;
	return true;
}

static size_t route_index(const struct plan *plan, const struct cidr *dst)
{
	return cidr_lower_bound(plan->routes, plan->n_routes, sizeof(*plan->routes), dst);
}

static bool route_present(const struct plan *plan, const struct cidr *dst)
{
	size_t i = route_index(plan, dst);

	return i < plan->n_routes && cidr_equal(&plan->routes[i].dst, dst);
}

static bool allowed_present(const struct plan_peer *p, const struct cidr *net)
{
	size_t i = cidr_lower_bound(p->allowed_ips, p->n_allowed_ips, sizeof(*net), net);

	return i < p->n_allowed_ips && cidr_equal(&p->allowed_ips[i], net);
}

/* Where name goes in items sorted by name (each size bytes, name at
 * offset off); *found when it is there already. */
static size_t name_index(const void *items, size_t n, size_t size, size_t off, const char *name,
			 bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp((const char *)items + mid * size + off, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < n && !strcmp((const char *)items + lo * size + off, name);
	return lo;
}

/* ---- Sorted arrays edited in one pass ------------------------------------- */

/* Inserts the n sorted items of add (each size bytes, starting with a
 * cidr, none there yet) into items[0..*count), which has room. */
static void insert_sorted(void *items, size_t *count, size_t size, const void *add, size_t n)
{
	char *base = items;
	size_t end = *count;

	for (size_t j = n; j-- > 0;) {
		const char *item = (const char *)add + j * size;
		size_t pos = cidr_lower_bound(base, end, size, (const struct cidr *)item);

		memmove(base + (pos + j + 1) * size, base + pos * size, (end - pos) * size);
		memcpy(base + (pos + j) * size, item, size);
		end = pos;
	}
	*count += n;
}

/* Removes the items whose cidr is one of the n sorted nets (each there). */
static void remove_sorted(void *items, size_t *count, size_t size, const struct cidr *nets,
			  size_t n)
{
	char *base = items;
	size_t pos[MODEL_MAX_POD_CIDRS + 2], to;

	for (size_t j = 0; j < n; j++)
		pos[j] = cidr_lower_bound(base, *count, size, &nets[j]);
	to = n ? pos[0] : 0;
	for (size_t j = 0; j < n; j++) {
		size_t next = j + 1 < n ? pos[j + 1] : *count, run = next - pos[j] - 1;

		memmove(base + to * size, base + (pos[j] + 1) * size, run * size);
		to += run;
	}
	*count -= n;
}

/* Node index i of the plan in a model with a node joining at shift_at
 * (SIZE_MAX: none). */
static size_t shifted(size_t i, size_t shift_at)
{
	return i >= shift_at ? i + 1 : i;
}

/* ---- The local node and its routes away -------------------------------- */

static struct plan_segment *local_segment(const struct topology_cache *c)
{
	return &c->plan.segments[c->memo[c->self_index].seg];
}

static const struct cidr *private_ip(const struct node_memo *m)
{
	return m->n_nets > m->n_pods ? &m->nets[m->n_pods] : NULL;
}

/* Whether another node than x has one of nets (only in a model with two
 * nodes with one private IP: anything else would have been rejected). */
static bool shared(const struct topology_cache *c, size_t x, const struct cidr *nets, size_t n)
{
	if (c->nets_unique)
		return false;
	for (size_t i = 0; i < c->n_nodes; i++)
		for (size_t j = 0; i != x && j < c->memo[i].n_nets; j++)
			if (cidr_in(&c->memo[i].nets[j], nets, n))
				return true;
	for (size_t i = 1; i < n; i++)
		if (cidr_in(&nets[i], nets, i))
			return true;
	return false;
}

/* The leader's private IP, when the local node reaches others through it
 * (routes to it are told apart by their gateway, so nobody else may have
 * its address). */
static enum way_out reach_of(const struct topology_cache *c, const struct ip_addr **via)
{
	const struct plan_segment *mine = local_segment(c);
	const struct cidr *ip;

	if (c->tunnels)
		return WAY_TUNNEL;
	if (mine->leader == PLAN_NO_LEADER)
		return WAY_NONE;
	ip = private_ip(&c->memo[mine->leader]);
	if (!ip || shared(c, mine->leader, ip, 1))
		return WAY_UNSURE;
	*via = &ip->ip;
	return WAY_LEADER;
}

/* Whether route r goes where routes away go through the leader: to its
 * private IP (or, for IPv6 behind an IPv4 one, its link-local address on
 * the encapsulation). */
static bool through_leader(const struct route *r, const struct ip_addr *via)
{
	struct ip_addr gateway;

	if (via->family == r->dst.ip.family)
		gateway = *via;
	else if (r->dst.ip.family == AF_INET6)
		gateway = topology_encap_ip6(via);
	else
		return false;
	return ip_equal(&r->gateway, &gateway);
}

/* A route through the leader per family of m's networks, not one of m's
 * own: the new routes are copies (so the encapsulation's flood list stays
 * as it is), and the family keeps one when m's go (so do the rules). */
static bool find_templates(struct member *m, const struct plan *plan, const struct ip_addr *via)
{
	static const int families[2] = { AF_INET, AF_INET6 };

	for (size_t k = 0; k < 2; k++) {
		struct cidr first = { .ip.family = families[k] };
		bool needed = false, found = false;

		for (size_t i = 0; i < m->n_nets; i++)
			needed |= m->nets[i].ip.family == families[k];
		for (size_t i = route_index(plan, &first); needed && !found && i < plan->n_routes &&
		     plan->routes[i].dst.ip.family == families[k]; i++) {
			const struct route *r = &plan->routes[i];

			found = !cidr_in(&r->dst, m->nets, m->n_nets) && through_leader(r, via);
			m->templates[k] = *r;
		}
		if (needed && !found)
			return false;
	}
	return true;
}

/* As route_via_tunnel makes it. */
static struct route tunnel_route(const struct topology_cache *c, const struct cidr *dst)
{
	struct route r = { .dst = *dst, .table = SKEIN_ROUTE_TABLE };

	memcpy(r.dev, c->opts.wg_ifname, IF_NAMESIZE);
	r.dev[IF_NAMESIZE - 1] = '\0';
	if (c->plan.wireguard_ip.ip.family == dst->ip.family)
		r.src = c->plan.wireguard_ip.ip;
	return r;
}

static struct route route_to(const struct topology_cache *c, const struct member *m,
			     const struct cidr *dst)
{
	struct route r;

	if (m->reach == WAY_TUNNEL)
		return tunnel_route(c, dst);
	r = m->templates[dst->ip.family == AF_INET6];
	r.dst = *dst;
	return r;
}

/* One rule per family with routes (IPv4 routes sort first), as
 * make_rules; the plan has room for two. */
static void set_rules(struct plan *plan)
{
	int families[2];
	size_t n = 0;

	if (plan->n_routes && plan->routes[0].dst.ip.family == AF_INET)
		families[n++] = AF_INET;
	if (plan->n_routes && plan->routes[plan->n_routes - 1].dst.ip.family == AF_INET6)
		families[n++] = AF_INET6;
	for (size_t i = 0; i < n; i++)
		plan->rules[i] = (struct rule){ .family = families[i],
						.src = { .ip.family = families[i] },
						.dst = { .ip.family = families[i] },
						.table = SKEIN_ROUTE_TABLE,
						.priority = SKEIN_RULE_PRIORITY };
	plan->n_rules = n;
}

/* ---- A member's gate ------------------------------------------------------ */

static void describe_member(struct member *m, const struct topology_cache *c,
			    const struct node_memo *memo, size_t x, bool usable)
{
	*m = (struct member){ .x = x, .alone = memo->alone, .usable = usable, .seg = memo->seg,
			      .peer = TOPO_NONE };
	m->carries = usable && (memo->alone || c->opts.granularity == GRANULARITY_CROSS);
	m->carried = m->carries || !memo->alone;
	memcpy(m->nets, memo->nets, memo->n_nets * sizeof(*memo->nets));
	m->n_nets = memo->n_nets;
	if (m->carries) {
		m->addr = book_address(&c->book, memo->request);
		m->nets[m->n_nets++] = cidr_host(&m->addr);
	}
	sort_cidrs(m->nets, m->n_nets);
}

/* Whether node may now lead a segment whose leader is (in the order of
 * leaders) after it or not: it beats the leader only with the annotation,
 * a public endpoint or an earlier name. */
static bool may_lead(const struct node *node, bool before_leader)
{
	return topo_node_usable(node) &&
	       (node->leader || node->has_public_endpoint || before_leader);
}

static int segment_name_cmp(const void *name, const void *seg)
{
	return strcmp(name, ((const struct plan_segment *)seg)->name);
}

/* Its own segment, entering: named after it, led by it when usable. */
static bool own_segment_fits(struct member *m, const struct topology_cache *c,
			     const struct node *node)
{
	struct plan_segment *s = &m->new_seg;
	bool there;

	*s = (struct plan_segment){ .leader = m->usable ? m->x : PLAN_NO_LEADER, .n_members = 1 };
	snprintf(s->location, sizeof(s->location), "%s", node->location);
	snprintf(s->name, sizeof(s->name), "node/%s", node->name);
	if (m->usable)
		s->wireguard_ip = (struct cidr){ m->addr, c->opts.subnet.prefix };
	m->seg = name_index(c->plan.segments, c->plan.n_segments, sizeof(*s),
			    offsetof(struct plan_segment, name), s->name, &there);
	return !there && (!m->usable || m->addr.family);
}

/* Its own segment, exiting: it is its only member. */
static bool own_segment_is(const struct member *m, const struct topology_cache *c)
{
	const struct plan_segment *s;

	if (m->seg == TOPO_NONE)
		return false;
	s = &c->plan.segments[m->seg];
	return s->n_members == 1 && s->leader == (m->usable ? m->x : PLAN_NO_LEADER);
}

/* Its location's segment: a remote one with a leader, which stays (or
 * is settled apart: m->leader_known). Leader indices are the plan's, past
 * a node joining at shift_at. */
static bool location_segment_stays(struct member *m, const struct topology_cache *c,
				   const struct node *entering, size_t shift_at)
{
	const struct plan_segment *s;
	size_t leader;

	if (m->seg == TOPO_NONE || m->seg == c->memo[c->self_index].seg)
		return false;
	s = &c->plan.segments[m->seg];
	if (s->leader == PLAN_NO_LEADER)
		return false;
	leader = shifted(s->leader, shift_at);
	m->peer = c->memo[s->leader].peer;
	return m->leader_known ||
	       (leader != m->x && !(entering && may_lead(entering, m->x < leader)));
}

/* Its own peer, entering: where it goes by name, and what it is (as
 * node_peer makes it). */
static bool own_peer_fits(struct member *m, const struct topology_cache *c,
			  const struct cluster *cluster, const struct node *node, size_t shift_at)
{
	const struct topo t = { .c = cluster, .found = c->found, .n_found = c->n_found };
	const struct node *me = &cluster->nodes[shifted(c->self_index, shift_at)];
	struct plan_peer *p = &m->new_peer;
	bool there;

	*p = (struct plan_peer){ .public_key = node->public_key,
				 .endpoint = topo_node_endpoint(&t, node),
				 .persistent_keepalive = me->persistent_keepalive > 0 ?
								 me->persistent_keepalive : 0 };
	snprintf(p->name, sizeof(p->name), "node/%s", node->name);
	m->peer = name_index(c->plan.peers, c->plan.n_peers, sizeof(*p),
			     offsetof(struct plan_peer, name), p->name, &there);
	return !there;
}

/* Its own peer, exiting: it allows exactly its networks. */
static bool own_peer_is(struct member *m, const struct topology_cache *c, size_t peer)
{
	const struct plan_peer *p;

	m->peer = peer;
	if (peer == TOPO_NONE)
		return false;
	p = &c->plan.peers[peer];
	if (p->n_allowed_ips != m->n_nets)
		return false;
	for (size_t i = 0; i < m->n_nets; i++)
		if (!cidr_equal(&p->allowed_ips[i], &m->nets[i]))
			return false;
	return true;
}

/* Its routes (and allowed IPs on its leader's peer) are all there when
 * it exits, and none when it enters. */
static bool routes_as_expected(const struct member *m, const struct topology_cache *c,
			       bool enter)
{
	const struct plan_peer *leaders = tunneled(m) && !m->carries ? &c->plan.peers[m->peer] : NULL;

	for (size_t i = 0; i < m->n_nets; i++)
		if (route_present(&c->plan, &m->nets[i]) == enter ||
		    (leaders && allowed_present(leaders, &m->nets[i]) == enter))
			return false;
	return true;
}

/* Entering through the tunnels: no new route may hold a peer's endpoint,
 * nor any route the endpoint of its own new peer (routes keep endpoints
 * out of the tunnel: that would be a route left out). */
static bool hides_nothing(const struct member *m, struct topology_cache *c)
{
	struct ip_addr own;
	bool has_own = m->carries && ip_parse(m->new_peer.endpoint.host, &own) == 0;

	if (!endpoints_indexed(c))
		return false;
	for (size_t i = 0; i < m->n_nets; i++)
		if (endpoint_inside(c, &m->nets[i]) || (has_own && cidr_contains(&m->nets[i], &own)))
			return false;
	return !has_own || !in_tunnel_route(c, &own);
}

/* The peer that carries it, in the local node's tunnels. */
static bool carrier_ok(struct member *m, const struct topology_cache *c,
		       const struct cluster *cluster, const struct node *entering, size_t shift_at)
{
	if (!m->carries)
		return m->peer != TOPO_NONE;
	if (entering)
		return own_peer_fits(m, c, cluster, entering, shift_at);
	return own_peer_is(m, c, c->memo[m->x].peer);
}

/* The gate every member change passes: m entering (with its node) or
 * exiting, in a plan whose segments' leaders may be shifted at shift_at
 * (a node joining there). Finds what the change needs. */
static bool member_is_safe(struct member *m, struct topology_cache *c,
			   const struct cluster *cluster, const struct node *entering,
			   size_t shift_at)
{
	bool enter = entering != NULL;
	const struct ip_addr *via = NULL;

	if (m->alone ? !(enter ? own_segment_fits(m, c, entering) : own_segment_is(m, c)) :
		       !location_segment_stays(m, c, entering, shift_at))
		return false;
	m->reach = reach_of(c, &via);
	if (m->reach == WAY_UNSURE || (m->carries && !m->addr.family))
		return false;
	if (!routed(m))
		return true;
	if (m->reach == WAY_LEADER)
		return find_templates(m, &c->plan, via) && routes_as_expected(m, c, enter);
	return carrier_ok(m, c, cluster, entering, shift_at) && routes_as_expected(m, c, enter) &&
	       (!enter || hides_nothing(m, c));
}

/* Memory for the change, before anything changes. */
static bool room_to_enter(struct member *m, struct topology_cache *c)
{
	struct plan *plan = &c->plan;
	struct plan_peer *leaders = tunneled(m) && !m->carries ? &plan->peers[m->peer] : NULL;
	size_t allowed = leaders ? leaders->n_allowed_ips : 0;

	if ((m->alone && !grow((void **)&plan->segments, &c->room.segments, plan->n_segments + 1,
			       sizeof(*plan->segments))) ||
	    (routed(m) && !grow((void **)&plan->routes, &c->room.routes, plan->n_routes + m->n_nets,
				sizeof(*plan->routes))))
		return false;
	if (!tunneled(m))
		return true;
	if (leaders) /* a few networks: no room kept */
		return grow((void **)&leaders->allowed_ips, &allowed, allowed + m->n_nets,
			    sizeof(struct cidr));
	if (!grow((void **)&plan->peers, &c->room.peers, plan->n_peers + 1, sizeof(*plan->peers)) ||
	    !grow((void **)&c->endpoints, &c->room.endpoints, c->n_endpoints + 1,
		  sizeof(*c->endpoints)))
		return false;
	m->new_peer.allowed_ips = malloc(m->n_nets * sizeof(struct cidr));
	if (!m->new_peer.allowed_ips)
		return false;
	memcpy(m->new_peer.allowed_ips, m->nets, m->n_nets * sizeof(struct cidr));
	m->new_peer.n_allowed_ips = m->n_nets;
	return true;
}

/* ---- A member entering or exiting ----------------------------------------- */

/* Plan indices kept in the memo, from at on, move by delta. */
static void shift_memo_peers(struct topology_cache *c, size_t at, int delta)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->memo[i].peer != TOPO_NONE && c->memo[i].peer >= at)
			c->memo[i].peer += (size_t)delta;
}

static void shift_memo_segments(struct topology_cache *c, size_t at, int delta)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->memo[i].seg != TOPO_NONE && c->memo[i].seg >= at)
			c->memo[i].seg += (size_t)delta;
}

static void index_endpoint(struct topology_cache *c, const struct plan_peer *p, bool add)
{
	struct ip_addr ip;
	struct cidr host;
	struct net_key k;
	size_t i;

	if (c->endpoints_stale || ip_parse(p->endpoint.host, &ip) < 0)
		return;
	host = cidr_host(&ip);
	k = net_key(&host, 0);
	i = net_keys_lower_bound(c->endpoints, c->n_endpoints, &k);
	if (add) {
		memmove(&c->endpoints[i + 1], &c->endpoints[i], (c->n_endpoints++ - i) * sizeof(k));
		c->endpoints[i] = k;
	} else if (i < c->n_endpoints && net_keys_equal(&c->endpoints[i], &k)) {
		memmove(&c->endpoints[i], &c->endpoints[i + 1], (--c->n_endpoints - i) * sizeof(k));
	}
}

static void add_own_peer(struct topology_cache *c, struct member *m)
{
	struct plan *plan = &c->plan;

	memmove(&plan->peers[m->peer + 1], &plan->peers[m->peer],
		(plan->n_peers++ - m->peer) * sizeof(*plan->peers));
	plan->peers[m->peer] = m->new_peer;
	shift_memo_peers(c, m->peer, 1);
	c->memo[m->x].peer = m->peer;
	index_endpoint(c, &m->new_peer, true);
}

static void remove_own_peer(struct topology_cache *c, const struct member *m)
{
	struct plan *plan = &c->plan;

	index_endpoint(c, &plan->peers[m->peer], false);
	free(plan->peers[m->peer].allowed_ips);
	memmove(&plan->peers[m->peer], &plan->peers[m->peer + 1],
		(--plan->n_peers - m->peer) * sizeof(*plan->peers));
	c->memo[m->x].peer = TOPO_NONE;
	shift_memo_peers(c, m->peer, -1);
}

static void add_own_segment(struct topology_cache *c, const struct member *m)
{
	struct plan *plan = &c->plan;

	memmove(&plan->segments[m->seg + 1], &plan->segments[m->seg],
		(plan->n_segments++ - m->seg) * sizeof(*plan->segments));
	plan->segments[m->seg] = m->new_seg;
	shift_memo_segments(c, m->seg, 1);
	c->memo[m->x].seg = m->seg;
}

static void remove_own_segment(struct topology_cache *c, const struct member *m)
{
	struct plan *plan = &c->plan;

	memmove(&plan->segments[m->seg], &plan->segments[m->seg + 1],
		(--plan->n_segments - m->seg) * sizeof(*plan->segments));
	c->memo[m->x].seg = TOPO_NONE;
	shift_memo_segments(c, m->seg, -1);
}

static void add_routes(struct topology_cache *c, const struct member *m)
{
	struct route routes[MODEL_MAX_POD_CIDRS + 2];

	for (size_t i = 0; i < m->n_nets; i++)
		routes[i] = route_to(c, m, &m->nets[i]);
	insert_sorted(c->plan.routes, &c->plan.n_routes, sizeof(*routes), routes, m->n_nets);
}

static void enter(struct topology_cache *c, struct member *m)
{
	struct plan *plan = &c->plan;

	if (m->alone)
		add_own_segment(c, m);
	else
		plan->segments[m->seg].n_members++;
	if (tunneled(m)) {
		if (m->carries)
			add_own_peer(c, m);
		else
			insert_sorted(plan->peers[m->peer].allowed_ips,
				      &plan->peers[m->peer].n_allowed_ips, sizeof(struct cidr),
				      m->nets, m->n_nets);
	}
	if (routed(m))
		add_routes(c, m);
	set_rules(plan);
}

static void exit_member(struct topology_cache *c, const struct member *m)
{
	struct plan *plan = &c->plan;

	if (tunneled(m)) {
		if (m->carries)
			remove_own_peer(c, m);
		else
			remove_sorted(plan->peers[m->peer].allowed_ips,
				      &plan->peers[m->peer].n_allowed_ips, sizeof(struct cidr),
				      m->nets, m->n_nets);
	}
	if (routed(m))
		remove_sorted(plan->routes, &plan->n_routes, sizeof(*plan->routes), m->nets,
			      m->n_nets);
	if (m->alone)
		remove_own_segment(c, m);
	else
		plan->segments[m->seg].n_members--;
	set_rules(plan);
}

/* ---- The WireGuard IP of a node coming or going --------------------------- */

/* A location's request lists its members' published addresses after its
 * leader's: one more or one less changes nothing when the location kept
 * its leader's (taken first), or, for a node joining, when it is the
 * location's address (which it then is found first, or taken anyway), or
 * for a node leaving, when it is not (it was not the one chosen). */
static bool location_address_stays(const struct topology_cache *c, const struct node_memo *m,
				   bool join)
{
	const struct plan_segment *s;
	uint64_t off;

	if (!m->published)
		return true;
	if (m->seg == TOPO_NONE)
		return false;
	s = &c->plan.segments[m->seg];
	if (s->leader == PLAN_NO_LEADER || !wgip_offset(&c->book.subnet, &s->wireguard_ip.ip, &off))
		return false;
	return c->memo[s->leader].published == off || join == (m->published == off);
}

/* Whether a node has a request of its own (else it is one address among
 * its location's). */
static bool requests_alone(const struct topology_cache *c, const struct node_memo *m)
{
	return m->alone || c->opts.granularity == GRANULARITY_CROSS;
}

/* ---- A node joining ------------------------------------------------------- */

struct arrival {
	size_t x;
	struct node_memo memo;
	bool member;
	struct member m;
};

/* Its networks as the spine has them, and where it belongs. */
static void describe_new_node(struct node_memo *m, const struct topology_cache *c,
			      const struct node *node)
{
	char name[MODEL_NAME_MAX + 16];
	const struct plan_segment *seg;

	*m = (struct node_memo){ .peer = TOPO_NONE, .seg = TOPO_NONE,
				 .n_pods = (uint8_t)node->n_pod_cidrs };
	for (size_t i = 0; i < node->n_pod_cidrs; i++)
		m->nets[m->n_nets++] = cidr_network(&node->pod_cidrs[i]);
	if (node->has_internal_ip)
		m->nets[m->n_nets++] = cidr_host(&node->internal_ip.ip);
	m->alone = c->opts.granularity == GRANULARITY_FULL || !node->location[0] ||
		   !node->has_internal_ip;
	if (!node->has_wireguard_ip || !wgip_offset(&c->book.subnet, &node->wireguard_ip.ip, &m->published))
		m->published = 0;
	if (m->alone)
		return;
	snprintf(name, sizeof(name), "location/%s", node->location);
	seg = bsearch(name, c->plan.segments, c->plan.n_segments, sizeof(*seg), segment_name_cmp);
	m->seg = seg ? (size_t)(seg - c->plan.segments) : TOPO_NONE;
}

/* No pod CIDR too wide (see pod_min_prefix). */
static bool pods_narrow(const struct node *node)
{
	for (size_t i = 0; i < node->n_pod_cidrs; i++)
		if (node->pod_cidrs[i].prefix < (node->pod_cidrs[i].ip.family == AF_INET6 ? 48 : 16))
			return false;
	return true;
}

/* Whether its networks overlap nothing of the cluster's: cluster_cidrs
 * holds, or holds what holds, every node's networks, the subnet, the
 * service CIDRs and every accepted location and peer network, and its
 * entries are disjoint; so no claim, pod CIDR or private IP check can
 * reject anything, and no network is anybody else's. */
static bool networks_fresh(const struct topology_cache *c, const struct node_memo *m)
{
	const struct plan *plan = &c->plan;

	for (size_t i = 0; i < m->n_nets; i++) {
		const struct cidr *net = &m->nets[i];
		size_t at = cidr_lower_bound(plan->cluster_cidrs, plan->n_cluster_cidrs,
					     sizeof(*net), net);

		if ((at < plan->n_cluster_cidrs && cidr_overlaps(net, &plan->cluster_cidrs[at])) ||
		    (at > 0 && cidr_overlaps(net, &plan->cluster_cidrs[at - 1])) ||
		    overlap_any(net, m->nets, i))
			return false;
	}
	return true;
}

/* The gate of a node joining at x (the found index shifted already). */
static bool join_is_safe(struct arrival *a, struct topology_cache *c,
			 const struct cluster *cluster, size_t x)
{
	const struct node *node = &cluster->nodes[x];

	*a = (struct arrival){ .x = x };
	describe_new_node(&a->memo, c, node);
	if (node->n_discovered || node->n_allowed_location_ips || !pods_narrow(node) ||
	    !networks_fresh(c, &a->memo) || (!a->memo.alone && a->memo.seg == TOPO_NONE))
		return false;
	if (requests_alone(c, &a->memo) ? !book_new_address(&c->book, node, &a->memo.request) :
					   !location_address_stays(c, &a->memo, true))
		return false;
	a->member = node->ready && node->n_pod_cidrs;
	if (!a->member)
		return true;
	describe_member(&a->m, c, &a->memo, x, topo_node_usable(node));
	return member_is_safe(&a->m, c, cluster, node, x);
}

static bool room_to_arrive(struct arrival *a, struct topology_cache *c)
{
	struct plan *plan = &c->plan;

	return grow((void **)&c->memo, &c->room.memo, c->n_nodes + 1, sizeof(*c->memo)) &&
	       grow((void **)&plan->cluster_cidrs, &c->room.cluster_cidrs,
		    plan->n_cluster_cidrs + a->memo.n_nets, sizeof(*plan->cluster_cidrs)) &&
	       book_reserve(&c->book) == 0 && (!a->member || room_to_enter(&a->m, c));
}

/* Node indices from at on (in the plan's segments, the discovered
 * endpoints' index, the local node's) move by delta. */
static bool shift_segment_leaders(struct plan *plan, size_t at, int delta)
{
	bool moved = false;

	for (size_t i = 0; i < plan->n_segments; i++) {
		if (plan->segments[i].leader != PLAN_NO_LEADER && plan->segments[i].leader >= at) {
			plan->segments[i].leader += (size_t)delta;
			moved = true;
		}
	}
	return moved;
}

static void shift_found(struct topology_cache *c, size_t at, int delta)
{
	for (size_t i = 0; i < c->n_found; i++)
		if (c->found[i].node >= at)
			c->found[i].node = (uint32_t)((int64_t)c->found[i].node + delta);
}

static bool arrive(struct topology_cache *c, const struct arrival *a)
{
	struct plan *plan = &c->plan;
	struct cidr nets[MODEL_MAX_POD_CIDRS + 1];
	bool moved = shift_segment_leaders(plan, a->x, 1);

	memmove(&c->memo[a->x + 1], &c->memo[a->x], (c->n_nodes++ - a->x) * sizeof(*c->memo));
	c->memo[a->x] = a->memo;
	c->self_index += c->self_index >= a->x;
	memcpy(nets, a->memo.nets, a->memo.n_nets * sizeof(*nets));
	sort_cidrs(nets, a->memo.n_nets);
	insert_sorted(plan->cluster_cidrs, &plan->n_cluster_cidrs, sizeof(*nets), nets,
		      a->memo.n_nets);
	if (a->memo.request)
		book_take(&c->book, a->memo.request);
	book_publish(&c->book, a->memo.published);
	return moved || a->memo.n_nets;
}

/* The one node inserted into the model, all others as they were, or TOPO_NONE. */
static size_t inserted_at(const struct topology_cache *c, const struct node_digest *d)
{
	size_t x = 0;

	while (x < c->n_nodes && digests_equal(&d[x], &c->digests[x]))
		x++;
	for (size_t i = x; i < c->n_nodes; i++)
		if (!digests_equal(&d[i + 1], &c->digests[i]))
			return TOPO_NONE;
	return x;
}

static bool patch_join(struct topology_cache *c, const struct cluster *cluster,
		       const struct node_digest *d, bool *changed)
{
	size_t x = inserted_at(c, d);
	struct arrival a = { .x = x };

	if (x == TOPO_NONE)
		return false;
	shift_found(c, x, 1); /* the new node discovered nothing */
	if (!join_is_safe(&a, c, cluster, x) || !room_to_arrive(&a, c)) {
		shift_found(c, x + 1, -1);
		free(a.m.new_peer.allowed_ips);
		return false;
	}
	*changed = arrive(c, &a);
	if (a.member) {
		enter(c, &a.m);
		*changed = true;
	}
	c->stats.joined++;
	return true;
}

/* ---- A node leaving ------------------------------------------------------- */

/* Its networks are cluster_cidrs entries of its own, and nothing else
 * (a location network) lies in them: they go, uncovering nothing. */
static bool networks_removable(const struct topology_cache *c, size_t x)
{
	const struct node_memo *m = &c->memo[x];
	const struct plan *plan = &c->plan;

	if (shared(c, x, m->nets, m->n_nets))
		return false;
	for (size_t i = 0; i < m->n_nets; i++) {
		size_t at = cidr_lower_bound(plan->cluster_cidrs, plan->n_cluster_cidrs,
					     sizeof(m->nets[i]), &m->nets[i]);

		if (at == plan->n_cluster_cidrs || !cidr_equal(&plan->cluster_cidrs[at], &m->nets[i]) ||
		    overlap_any(&m->nets[i], c->location_ips, c->n_location_ips))
			return false;
	}
	return true;
}

/* The gate of node x leaving (x: its index before, was: its digest). */
static bool leave_is_safe(struct member *m, bool *member, struct topology_cache *c,
			  const struct cluster *cluster, size_t x, const struct node_digest *was)
{
	const struct node_memo *memo = &c->memo[x];

	if (x == c->self_index || was->discovered != no_discovered_digest() || memo->location_ips ||
	    !networks_removable(c, x))
		return false;
	if (requests_alone(c, memo) ? !memo->request ||
					       !book_may_free(&c->book, memo->request, memo->published) :
				       memo->seg == TOPO_NONE || !location_address_stays(c, memo, false))
		return false;
	*member = was->flags & FLAG_READY && memo->n_pods;
	if (!*member)
		return true;
	describe_member(m, c, memo, x, was->flags & FLAG_USABLE);
	return member_is_safe(m, c, cluster, NULL, SIZE_MAX);
}

static bool depart(struct topology_cache *c, size_t x)
{
	struct node_memo *m = &c->memo[x];
	struct plan *plan = &c->plan;
	struct cidr nets[MODEL_MAX_POD_CIDRS + 1];
	bool moved;

	if (m->request && requests_alone(c, m))
		book_release(&c->book, m->request);
	book_unpublish(&c->book, m->published);
	memcpy(nets, m->nets, m->n_nets * sizeof(*nets));
	sort_cidrs(nets, m->n_nets);
	remove_sorted(plan->cluster_cidrs, &plan->n_cluster_cidrs, sizeof(*nets), nets, m->n_nets);
	moved = shift_segment_leaders(plan, x + 1, -1) || m->n_nets;
	shift_found(c, x + 1, -1);
	c->self_index -= c->self_index > x;
	memmove(&c->memo[x], &c->memo[x + 1], (--c->n_nodes - x) * sizeof(*c->memo));
	return moved;
}

/* The one node removed from the model, all others as they were, or TOPO_NONE. */
static size_t removed_at(const struct topology_cache *c, const struct node_digest *d)
{
	size_t x = 0, n = c->n_nodes - 1;

	while (x < n && digests_equal(&d[x], &c->digests[x]))
		x++;
	for (size_t i = x; i < n; i++)
		if (!digests_equal(&d[i], &c->digests[i + 1]))
			return TOPO_NONE;
	return x;
}

static bool patch_leave(struct topology_cache *c, const struct cluster *cluster,
			const struct node_digest *d, bool *changed)
{
	size_t x = removed_at(c, d);
	struct member m;
	bool member;

	if (x == TOPO_NONE || !leave_is_safe(&m, &member, c, cluster, x, &c->digests[x]))
		return false;
	if (member)
		exit_member(c, &m);
	*changed = depart(c, x) || member;
	c->stats.left++;
	return true;
}

/* ---- A node turning Ready or NotReady ------------------------------------- */

/* The one node that changed, and only in the flags given (and its
 * published WireGuard IP, when published), or TOPO_NONE. */
static size_t changed_alone(const struct topology_cache *c, const struct node_digest *d,
			    unsigned flags, bool published)
{
	size_t changed = TOPO_NONE;

	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct node_digest *was = &c->digests[i], *is = &d[i];

		if (digests_equal(was, is))
			continue;
		if (changed != TOPO_NONE || was->shape != is->shape || was->wireguard != is->wireguard ||
		    was->discovered != is->discovered || (was->flags ^ is->flags) & ~flags ||
		    (!published && was->published != is->published))
			return TOPO_NONE;
		changed = i;
	}
	return changed;
}

/* The one node whose readiness (with its usability) or leader annotation
 * alone changed; its usability alone (a key lost) is not a flip. */
static size_t flipped_at(const struct topology_cache *c, const struct node_digest *d)
{
	size_t x = changed_alone(c, d, FLAG_READY | FLAG_USABLE | FLAG_LEADER, false);
	unsigned diff = x == TOPO_NONE ? 0 : c->digests[x].flags ^ d[x].flags;

	return diff & FLAG_USABLE && !(diff & FLAG_READY) ? TOPO_NONE : x;
}

/* Whether its networks are its own on the routes and peers: the same as a
 * location network would be one route, one allowed IP (in cross
 * granularity any overlap: a usable node's claims are nobody's to share,
 * so a location network over them would be struck). */
static bool networks_own(const struct topology_cache *c, size_t x)
{
	const struct node_memo *m = &c->memo[x];
	bool cross = c->opts.granularity == GRANULARITY_CROSS;

	if (shared(c, x, m->nets, m->n_nets))
		return false;
	for (size_t i = 0; i < m->n_nets; i++)
		if (cross ? overlap_any(&m->nets[i], c->location_ips, c->n_location_ips) :
			    cidr_in(&m->nets[i], c->location_ips, c->n_location_ips))
			return false;
	return true;
}

/* A lone segment's request lists its node's published address as its
 * leader's (taken first) when the node is usable, else after the others'
 * own: that changes nothing when the node has none, or got it and nobody
 * else published it (who would take it first when it comes after). */
static bool lone_address_stays(const struct topology_cache *c, const struct node_memo *m)
{
	return c->opts.granularity == GRANULARITY_CROSS || !m->published ||
	       (m->published == m->request && book_published_times(&c->book, m->published) == 1);
}

/* The gate of node x turning Ready or NotReady (was and is: its digests),
 * its location's next leader settled (succession_is_safe); *enter tells
 * which way its membership goes. */
static bool flip_is_safe(struct member *m, bool *enter, struct topology_cache *c,
			 const struct cluster *cluster, size_t x, const struct node_digest *was,
			 const struct node_digest *is)
{
	const struct node *node = &cluster->nodes[x];
	const struct node_memo *memo = &c->memo[x];
	bool usable = is->flags & FLAG_USABLE, used = was->flags & FLAG_USABLE;

	*enter = node->ready;
	if (!networks_own(c, x) ||
	    (memo->alone && (memo->location_ips || (usable != used && !lone_address_stays(c, memo)))))
		return false;
	describe_member(m, c, memo, x, *enter ? usable : used);
	m->leader_known = true;
	return member_is_safe(m, c, cluster, *enter ? node : NULL, SIZE_MAX);
}

/* ---- A remote location's new leader ----------------------------------------- */

/* A location's leader handing over to another node: in location
 * granularity the location's peer dials the new one, in cross the peers
 * stay (each usable node has its own); the segment names the new one
 * (and in cross its address). */
struct succession {
	size_t seg;              /* the location's plan segment; TOPO_NONE: the leader stays */
	size_t from, to;         /* its leader before and after */
	size_t peer;             /* the location's plan peer, re-keyed; TOPO_NONE: none */
	struct wg_key key;       /* the peer's key and endpoint after */
	struct endpoint endpoint;
	struct cidr address;     /* the segment's WireGuard IP after */
};

/* What the election reads of a location's nodes (with the flags after
 * the change; usable as computed: with no rejection every pod CIDR is
 * kept), and what the handover would have to move in cross granularity. */
struct location_survey {
	size_t leader;     /* TOPO_NONE: none */
	bool carried;      /* a member that is not usable: its leader's peer carries it */
	bool location_ips; /* a node with allowed-location-ips */
};

/* As elect_leader orders them: the annotation, then a public endpoint
 * (then the name: the earlier node is met first). */
static bool flags_lead_before(unsigned a, unsigned b)
{
	if ((a ^ b) & FLAG_LEADER)
		return a & FLAG_LEADER;
	return (a & FLAG_PUBLIC) && !(b & FLAG_PUBLIC);
}

static void survey_location(struct location_survey *v, const struct topology_cache *c,
			    const struct node_digest *d, size_t seg)
{
	*v = (struct location_survey){ .leader = TOPO_NONE };
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct node_memo *m = &c->memo[i];
		unsigned f = d[i].flags;

		if (m->seg != seg)
			continue;
		v->location_ips |= m->location_ips;
		v->carried |= (f & FLAG_READY) && m->n_pods && !(f & FLAG_USABLE);
		if (f & FLAG_USABLE && (v->leader == TOPO_NONE || flags_lead_before(f, d[v->leader].flags)))
			v->leader = i;
	}
}

/* A location's request lists its leader's published address first, then
 * its other nodes' in name order, and wgip_allocate keeps every request's
 * first address before anybody's others. A new leader leaves every
 * address where it is when it published the location's address (taken
 * first now: nobody else wanted it first, as it stayed free until the
 * location took it), or published none while the old one did not have
 * the address first (then the location took it off its list, which only
 * gains the old leader's, taken before the location's turn). When the new
 * one published none and the old one had the address first, it stays
 * only if nobody outside the location published it (nobody else may take
 * it when the location does later) and it is the first the location
 * lists now. */
static bool address_stays_with_location(const struct topology_cache *c,
					const struct succession *s)
{
	uint64_t was = c->memo[s->from].published, is = c->memo[s->to].published, first = 0;
	uint64_t off = cidr_offset(&c->book.subnet, &c->plan.segments[s->seg].wireguard_ip.ip);
	size_t here = 0;

	if (is == off || (!is && was != off))
		return true;
	if (is)
		return false;
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (c->memo[i].seg != s->seg)
			continue;
		here += c->memo[i].published == off;
		if (!first && i != s->to)
			first = c->memo[i].published;
	}
	return first == off && here == book_published_times(&c->book, off);
}

/* The location's peer dials the new leader: no route into the tunnels
 * may hold its endpoint, nor a network of the node entering (routes keep
 * endpoints out of the tunnel: that would be a route left out). */
static bool endpoint_stays_outside(const struct topology_cache *c, const struct succession *s,
				   const struct node_memo *entering)
{
	struct ip_addr ip;

	if (ip_parse(s->endpoint.host, &ip) < 0)
		return true;
	for (size_t i = 0; entering && i < entering->n_nets; i++)
		if (cidr_contains(&entering->nets[i], &ip))
			return false;
	return !in_tunnel_route(c, &ip);
}

static bool location_succession_is_safe(struct succession *s, const struct topology_cache *c,
					const struct cluster *cluster,
					const struct node_memo *entering)
{
	const struct topo t = { .c = cluster, .found = c->found, .n_found = c->n_found };
	const struct node *node = &cluster->nodes[s->to];

	if (!address_stays_with_location(c, s))
		return false;
	s->address = c->plan.segments[s->seg].wireguard_ip;
	if (!c->tunnels)
		return true;
	s->peer = c->memo[s->from].peer; /* a remote location with a leader has one */
	s->key = node->public_key;
	s->endpoint = topo_node_endpoint(&t, node);
	return endpoint_stays_outside(c, s, entering);
}

/* In cross granularity the leader's peer carries the location's networks
 * and its members that cannot hold tunnels: only without those does the
 * handover leave the peers as they are. The segment's address is the new
 * leader's own (every node has a request there, taken: a full subnet is a
 * rejection). */
static bool cross_succession_is_safe(struct succession *s, const struct topology_cache *c,
				     const struct location_survey *v)
{
	if (v->location_ips || v->carried)
		return false;
	s->address = (struct cidr){ book_address(&c->book, c->memo[s->to].request),
				    c->opts.subnet.prefix };
	return true;
}

/* The gate of the leader of node x's location, after x changed (d: the
 * digests after): it stays (s->seg TOPO_NONE), or hands over within a
 * remote location, from a leader to a leader. Lone nodes lead themselves
 * when usable, whatever their annotation: their flips are flip_is_safe's. */
static bool succession_is_safe(struct succession *s, const struct topology_cache *c,
			       const struct cluster *cluster, const struct node_digest *d, size_t x)
{
	const struct node_memo *memo = &c->memo[x];
	bool enters = d[x].flags & FLAG_READY && !(c->digests[x].flags & FLAG_READY);
	struct location_survey v;
	size_t from;

	*s = (struct succession){ .seg = TOPO_NONE, .peer = TOPO_NONE };
	if (memo->alone || memo->seg == TOPO_NONE)
		return true;
	survey_location(&v, c, d, memo->seg);
	from = c->plan.segments[memo->seg].leader;
	if (v.leader == from)
		return true;
	if (memo->seg == c->memo[c->self_index].seg || from == PLAN_NO_LEADER ||
	    v.leader == TOPO_NONE)
		return false;
	*s = (struct succession){ .seg = memo->seg, .from = from, .to = v.leader,
				  .peer = TOPO_NONE };
	if (c->opts.granularity == GRANULARITY_CROSS)
		return cross_succession_is_safe(s, c, &v);
	return location_succession_is_safe(s, c, cluster, enters ? memo : NULL);
}

static bool room_to_hand_over(struct topology_cache *c, const struct succession *s)
{
	return s->peer == TOPO_NONE || grow((void **)&c->endpoints, &c->room.endpoints,
					    c->n_endpoints + 1, sizeof(*c->endpoints));
}

static void hand_over(struct topology_cache *c, const struct succession *s)
{
	struct plan_segment *seg = &c->plan.segments[s->seg];
	struct plan_peer *p;

	seg->leader = s->to;
	seg->wireguard_ip = s->address;
	if (s->peer == TOPO_NONE)
		return;
	p = &c->plan.peers[s->peer];
	index_endpoint(c, p, false);
	p->public_key = s->key;
	p->endpoint = s->endpoint;
	index_endpoint(c, p, true);
	c->memo[s->from].peer = TOPO_NONE;
	c->memo[s->to].peer = s->peer;
}

/* A node without a pod CIDR is never a member nor usable: its readiness
 * changes nothing; nor does an annotation that leaves every leader. */
static bool patch_flip(struct topology_cache *c, const struct cluster *cluster,
		       const struct node_digest *d, bool *changed)
{
	size_t x = flipped_at(c, d);
	struct member m = { .x = x };
	struct succession s;
	bool ready_flip, flip, entering = false;

	if (x == TOPO_NONE || x == c->self_index || !succession_is_safe(&s, c, cluster, d, x))
		return false;
	ready_flip = (c->digests[x].flags ^ d[x].flags) & FLAG_READY;
	flip = ready_flip && c->memo[x].n_pods;
	if ((flip && (!flip_is_safe(&m, &entering, c, cluster, x, &c->digests[x], &d[x]) ||
		      (entering && !room_to_enter(&m, c)))) ||
	    !room_to_hand_over(c, &s)) {
		free(m.new_peer.allowed_ips);
		return false;
	}
	if (flip && entering)
		enter(c, &m);
	else if (flip)
		exit_member(c, &m);
	if (s.seg != TOPO_NONE)
		hand_over(c, &s);
	*changed = flip || s.seg != TOPO_NONE;
	c->stats.flipped += ready_flip;
	c->stats.new_leaders += s.seg != TOPO_NONE;
	return true;
}

/* ---- A node's published WireGuard IP ---------------------------------------- */

/* Agents publish their plan's address: a location's new leader publishes
 * the location's, the old one withdraws it. A published address is read
 * only by its node's own segment's request (a location's lists its
 * leader's first, then its other nodes'): when the location's leader
 * publishes the location's address, the location takes it first now
 * (nobody else wanted it first: it stayed free until the location took
 * it); when another node's changes, the location's leader had its
 * address first and the location never reads the others'. Either way
 * every address stays, and so does the plan. A node whose own request
 * reads its address (cross granularity, or a segment of its own) moves
 * none when it publishes the address it got: nobody else had it in a list
 * (it stayed free until its probe took it), and no probe before its own
 * passed it. The book follows (*now: the node's published offset, 0 for
 * none; *keeps: its request keeps that address now, probing no more).
 * The local node recomputes. */
static bool republish_is_safe(const struct topology_cache *c, const struct cluster *cluster,
			      size_t x, uint64_t *now, bool *keeps)
{
	const struct node *node = &cluster->nodes[x];
	const struct node_memo *m = &c->memo[x];
	const struct plan_segment *s;
	uint64_t off;

	if (x == c->self_index)
		return false;
	if (!node->has_wireguard_ip || !wgip_offset(&c->book.subnet, &node->wireguard_ip.ip, now))
		*now = 0;
	if (m->alone || c->opts.granularity == GRANULARITY_CROSS)
		return (*keeps = *now == m->request);
	if (m->seg == TOPO_NONE)
		return false;
	s = &c->plan.segments[m->seg];
	if (s->leader == PLAN_NO_LEADER)
		return false;
	off = cidr_offset(&c->book.subnet, &s->wireguard_ip.ip);
	*keeps = s->leader == x;
	return *keeps ? *now == off : c->memo[s->leader].published == off;
}

static bool patch_republish(struct topology_cache *c, const struct cluster *cluster,
			    const struct node_digest *d, bool *changed)
{
	size_t x = changed_alone(c, d, FLAG_PUBLISHED, true);
	uint64_t now;
	bool keeps;

	if (x == TOPO_NONE || !republish_is_safe(c, cluster, x, &now, &keeps) ||
	    book_reserve(&c->book) < 0)
		return false;
	book_unpublish(&c->book, c->memo[x].published);
	book_publish(&c->book, now);
	if (keeps)
		book_keep(&c->book, now);
	c->memo[x].published = now;
	*changed = false;
	c->stats.republished++;
	return true;
}

/* ---- Entry ------------------------------------------------------------------ */

bool patch_members(struct topology_cache *c, const struct cluster *cluster, const char *self,
		   const struct topology_options *opts, const struct node_digest *d,
		   uint64_t peers, bool *changed)
{
	if (!cache_frame_holds(c, self, opts, peers) || c->plan.n_rejections)
		return false;
	*changed = false;
	if (cluster->n_nodes == c->n_nodes + 1)
		return patch_join(c, cluster, d, changed);
	if (cluster->n_nodes + 1 == c->n_nodes)
		return patch_leave(c, cluster, d, changed);
	if (cluster->n_nodes == c->n_nodes)
		return patch_flip(c, cluster, d, changed) || patch_republish(c, cluster, d, changed);
	return false;
}
