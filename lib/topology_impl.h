/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of the topology, shared by topology*.c only: the state of one
 * computation, the WireGuard IP allocator, the set of claimed address
 * ranges that rejects overlaps, and the network sort.
 */
#ifndef SKEIN_TOPOLOGY_IMPL_H
#define SKEIN_TOPOLOGY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "model.h"
#include "topology.h"

/* FNV-1a of "kind:name": byte-wise, so every node computes the same on any
 * architecture. */
uint64_t name_hash(const char *kind, const char *name);

/* One holder of a WireGuard IP: a segment ("location", "aws") or a node
 * ("node", "a"), with the addresses it already published, best first; the
 * first n_strong are its own (a leader's), the rest hearsay (members' that
 * may be stale, e.g. from a location they left). */
struct wgip_request {
	const char *kind;
	const char *name;
	const struct ip_addr *published;
	size_t n_published;
	size_t n_strong;
};

/* Gives every request an address of subnet, the same whatever else is in
 * the list: first the strong published addresses are kept (inside the
 * subnet and not taken by an earlier request), then the weak ones, then
 * the others get the address their name hashes to, probing upwards past
 * taken ones, in list order. out[i] has family 0 when the subnet is full.
 * Fails on a subnet with fewer than four addresses, or out of memory. */
int wgip_allocate(const struct cidr *subnet, const struct wgip_request *req, size_t n,
		  struct ip_addr *out, struct error *err);
/* Addresses as offsets from the subnet's network address: the usable ones
 * are 1..wgip_usable(subnet). wgip_offset tells whether ip is one (a
 * published address the allocator may keep); wgip_hash_offset is where a
 * holder without one starts probing (the cache's use). */
uint64_t wgip_usable(const struct cidr *subnet);
bool wgip_offset(const struct cidr *subnet, const struct ip_addr *ip, uint64_t *off);
uint64_t wgip_hash_offset(const struct cidr *subnet, const char *kind, const char *name);

/* Address ranges with an owner; a range conflicts with the ranges of other
 * owners that overlap it. CLAIM_OWNER_ALL conflicts with every owner. A
 * binary trie over the address bits: an insertion or a query costs one walk
 * of the prefix length (and a query stops where the trie does), so n
 * claims cost O(n * bits), never O(n^2). */
#define CLAIM_OWNER_ALL ((size_t)-1)

struct claim {
	struct cidr net;  /* a network (no host bits) */
	size_t owner;
	const char *what; /* "pod CIDR", "private IP", ... */
	const char *kind; /* whose: "node", "peer", "" for the cluster's own */
	const char *name;
};

struct claims {
	struct claim_item *items;
	size_t n_items, cap_items;
	struct claim_trie_node *nodes;
	size_t n_nodes, cap_nodes;
};

void claims_init(struct claims *c);
/* Claims are numbered from 0 in the order they are added. */
int claims_add(struct claims *c, const struct claim *claim, struct error *err);
const struct claim *claims_get(const struct claims *c, size_t claim);
/* A claim of another owner overlapping net, or NULL. */
const struct claim *claims_conflict(const struct claims *c, const struct cidr *net, size_t owner);
/* Calls fn with the number of every claim overlapping net. */
void claims_each_overlap(const struct claims *c, const struct cidr *net,
			 void (*fn)(void *ctx, size_t claim), void *ctx);
void claims_free(struct claims *c);

/* Sorting many networks fast: a key per network, ordered as cidr_cmp
 * orders networks, by an LSD radix sort over the bytes that differ
 * (stable, O(n) per byte). 24 bytes, so the passes move little. */
struct net_key {
	uint64_t hi, lo; /* the address; IPv4 in the top 32 bits of hi */
	uint32_t meta;   /* family (0: IPv4, 1: IPv6) << 8 | prefix */
	uint32_t item;   /* the caller's */
};

struct net_key net_key(const struct cidr *net, uint32_t item);
/* The network (IPv4 or IPv6) key k was made of: reading it off the key
 * spares a loop over sorted keys a visit to wherever the network lives.
 * Into out: a network built in a local and copied at once stalls the copy
 * on the bytes still being written. */
void net_key_cidr(const struct net_key *k, struct cidr *out);
/* Sorts keys (tmp: room for n more); returns keys or tmp, whichever holds
 * the result. */
struct net_key *net_keys_sort(struct net_key *keys, struct net_key *tmp, size_t n);
bool net_keys_equal(const struct net_key *a, const struct net_key *b);
/* Merges two sorted runs into out (ties: the lower item first, so two
 * runs sorted stably from lists in item order make one). */
void net_keys_merge(const struct net_key *a, size_t na, const struct net_key *b, size_t nb,
		    struct net_key *out);
/* Whether the network key net holds the address (or network) key k. */
bool net_key_contains(const struct net_key *net, const struct net_key *k);
/* Whether networks a and b overlap (one holds the other). */
bool net_keys_overlap(const struct net_key *a, const struct net_key *b);
/* The first of n sorted keys not below k (prefixes ignored). */
size_t net_keys_lower_bound(const struct net_key *keys, size_t n, const struct net_key *k);

/* ---- The state of one computation (topology.c, topology_build.c) ---- */

/* A loop over the model that reads a few fields of each struct node
 * (~1.3 KB apart, a stride the hardware prefetcher loses once the loop
 * does other work) would wait for memory at each; such a loop asks for
 * what it will read of the node TOPO_AHEAD places on. */
enum { TOPO_AHEAD = 6 };

#define TOPO_NONE ((size_t)-1)

struct seg {
	size_t first, count;  /* into topo.order: every node of the segment */
	size_t n_members;
	size_t n_location_ips; /* its nodes' allowed-location-ips */
	size_t leader;        /* node index or TOPO_NONE */
	bool by_node;         /* a single node's segment, named after the node */
	const char *name;     /* location or node name */
};

struct vec {
	void *items;
	size_t n, cap;
};

/* An endpoint some node discovered: the key copied (the index is searched
 * by it), the endpoint by position, so the index outlives the model's
 * memory as long as no node's discovered endpoints change (the cache's
 * use). Ties go to the first node by name. */
struct found_endpoint {
	struct wg_key key;
	uint32_t node, slot; /* node_discovered(cluster, &cluster->nodes[node])[slot] */
};

/* What the hot loops read of each node, gathered once: a struct node is
 * more than a kilobyte (names, endpoint host), so loops over the model
 * itself would miss the cache on every node. */
struct hot {
	struct cidr pods[MODEL_MAX_POD_CIDRS]; /* networks */
	struct cidr private_host;              /* family 0: none */
	struct ip_addr addr;   /* the WireGuard device address; family 0: none */
	struct cidr addr_host; /* the same as a host network */
	size_t seg;
	uint8_t n_pods;
	uint8_t kept_pods;     /* bit j: the model's pod CIDR j was accepted */
	bool ready;
	bool can_tunnel;       /* topo_node_usable, before pod CIDRs are settled */
	bool member;           /* Ready with a pod CIDR, or the local node */
	bool usable;           /* may hold tunnels: Ready, key, endpoint, pod CIDR */
	bool encap;            /* the local node reaches it encapsulated */
	bool encap_used;       /* some route goes through the encapsulation to it */
	bool alone;            /* a segment of its own */
	bool leader, public;   /* the leader annotation; a public endpoint */
	bool published;        /* has a published WireGuard IP (wireguard_ip) */
	uint8_t n_location_ips;
	struct ip_addr wireguard_ip;
};

/* How the local node reaches a node's networks: not at all (itself, not
 * a member, or nobody carries it), directly (a node of its own segment),
 * or away, through the node's carrier; peer: that carrier's plan peer
 * when the local node holds tunnels, else TOPO_NONE. An array of its
 * own: the loops over the spine visit nodes in address order, and a
 * struct hot is too large to stay in cache between visits. */
enum reach_how { REACH_NONE, REACH_LOCAL, REACH_AWAY };

struct reach {
	size_t peer;
	enum reach_how how;
};

/* Per plan peer while its allowed IPs are filled in: the spine visits
 * peers in address order too, so counts and write positions sit apart
 * from the large peers. */
struct allowed_fill {
	size_t n;           /* counted, then written */
	struct cidr *ips;   /* the peer's list */
	bool has_extras;    /* networks besides the spine's, to sort in */
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
	struct loc_slot *loc_slots; /* location name -> segment (topology.c) */
	size_t loc_mask;
	bool *loc_ok;         /* accepted allowed-location-ips, per node */
	bool *peer_ok;        /* accepted allowed IPs, per external peer */
	struct found_endpoint *found;
	size_t n_found;
	/* What wgip_allocate gave, per request: segments, or nodes in cross
	 * granularity (the cache's use) */
	struct ip_addr *wgips;
	bool tunnels;         /* the local node holds WireGuard tunnels */
	/* node index -> its peer: in t->peers while building, in plan->peers
	 * once assembled */
	size_t *peer_of;
	struct net_key *endpoints; /* the plan peers' endpoint addresses, sorted */
	size_t n_endpoints;
	size_t n_hidden_routes; /* left out as they hold one of those */
	/* Every node's pod CIDRs, sorted while they are checked, for the
	 * spine: item node << 2 | index in the model's list. */
	struct net_key *pod_keys, *pod_key_storage;
	size_t n_pod_keys;
	bool pods_rejected;   /* some are not kept (hot.kept_pods) */
	struct net_key *spine;
	size_t n_spine;
	struct cidr *spine_nets; /* the spine's networks, in its order */
	size_t first_external; /* plan peer index of the first external peer */
	bool peers_unsorted;   /* made out of name order (new_peer) */
	struct vec *route_out;
	struct reach *reach;  /* per node */
	struct allowed_fill *fill; /* per plan peer */
	struct vec peers, routes, extra_routes, cluster, encap, rejections;
};

/* A vector push; on failure t->failed is set (checked once per step). */
void topo_push(struct topo *t, struct vec *v, const void *item, size_t size);
/* Room for n items up front, so pushes never move large items. */
void topo_reserve(struct topo *t, struct vec *v, size_t n, size_t size);
/* qsort, skipped when already in order (or empty). */
void topo_sort(void *items, size_t n, size_t size, int (*cmp)(const void *, const void *));
/* Notes something left out of the plan (plan->rejections). */
void topo_reject(struct topo *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Indexes every node's discovered endpoints (t->found); only t->c is read. */
int topo_index_discovered(struct topo *t);
/* Where the tunnel to node n dials: a NATed node's published endpoint is
 * behind its NAT, so only a discovered one is worth dialing, else empty
 * (it dials in). */
struct endpoint topo_node_endpoint(const struct topo *t, const struct node *n);
/* An external peer's: its own, else the one discovered for its key. */
struct endpoint topo_peer_endpoint(const struct topo *t, const struct peer *p);
/* The same, pointing into the model (or at a static empty endpoint). */
const struct endpoint *topo_node_endpoint_ref(const struct topo *t, const struct node *n);
const struct endpoint *topo_peer_endpoint_ref(const struct topo *t, const struct peer *p);
/* Ready with a key, an endpoint and a pod CIDR: may hold tunnels. */
bool topo_node_usable(const struct node *n);
/* From the settled segments, leaders, addresses and claims to the plan. */
int topo_build_plan(struct topo *t, struct plan *plan);
/* topology_compute, keeping the state of the computation in t (the
 * cache's use); t is to be freed with topo_free whatever the result. */
int topo_run(struct topo *t, const struct cluster *cluster, const char *self,
	     const struct topology_options *opts, struct plan *plan, struct error *err);
void topo_free(struct topo *t);

/* The ranges of no node, which nothing may claim: the WireGuard subnet,
 * then the service CIDRs; keys alongside, as they compare cheaply. */
struct reserved_ranges {
	struct claim ranges[1 + TOPOLOGY_MAX_SERVICE_CIDRS];
	struct net_key keys[1 + TOPOLOGY_MAX_SERVICE_CIDRS];
	size_t n;
};

void topo_reserved_ranges(const struct topo *t, struct reserved_ranges *r);
/* The first reserved range overlapping network key k, or NULL. */
const struct claim *reserved_overlapping(const struct reserved_ranges *r, const struct net_key *k);

#endif
