/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of the topology cache, shared by topology_cache*.c only: its
 * state, what it remembers of each node between updates (indexed like
 * cluster->nodes, so a node joining or leaving shifts it), the WireGuard
 * IP book (which addresses are handed out, and which a change could move),
 * the index of the plan peers' endpoints, and the patches for nodes
 * joining, leaving and turning Ready or NotReady, for a remote location's
 * leader handing over to another node, and for a node publishing another
 * WireGuard IP (topology_cache_members.c). docs/topology.md says what each
 * patches.
 */
#ifndef SKEIN_TOPOLOGY_CACHE_IMPL_H
#define SKEIN_TOPOLOGY_CACHE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topology.h"
#include "topology_impl.h"

struct node_digest {
	uint64_t shape;      /* without the flags and the published WireGuard IP */
	uint64_t published;  /* the published WireGuard IP */
	uint64_t wireguard;
	uint64_t discovered;
	unsigned flags;      /* FLAG_* */
};

enum {
	FLAG_READY = 1 << 1,
	FLAG_LEADER = 1 << 2,
	FLAG_PUBLIC = 1 << 3,
	FLAG_PUBLISHED = 1 << 4,
	FLAG_USABLE = 1 << 5,
};

/* What the plan made of a node, for the patches. */
struct node_memo {
	size_t peer;     /* the plan peer it carries, or TOPO_NONE */
	size_t seg;      /* its plan segment, or TOPO_NONE (a segment without members) */
	/* Its kept pod CIDRs (networks), then its private IP (a host network). */
	struct cidr nets[MODEL_MAX_POD_CIDRS + 1];
	uint8_t n_pods, n_nets;
	bool alone;        /* a segment of its own */
	bool location_ips; /* has allowed-location-ips */
	uint64_t request;   /* the address of the WireGuard IP request it makes alone: its
			     * own (cross) or its lone segment's, as an offset; 0: none */
	uint64_t published; /* its published WireGuard IP, when the allocator may keep it; 0: none */
};

/* Offsets into the WireGuard subnet, each with a count (open addressing). */
struct offset_set {
	struct offset_slot *slots;
	size_t mask, n;
};

/* A request that hashed to offset from and got to, probing past the taken
 * offsets between. */
struct probe {
	uint64_t from, to;
};

/* What wgip_allocate did, as far as a node coming or going could change
 * it: a new request may only take an address nobody has (its published
 * one, or the one its name hashes to), and a request may only go when
 * nobody else published its address or probed past it. */
struct wgip_book {
	struct cidr subnet;          /* a network */
	uint64_t usable;             /* offsets 1..usable */
	struct offset_set taken;     /* every request's address */
	struct offset_set published; /* every node's published address (memo.published) */
	struct probe *probes;
	size_t n_probes;
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
	struct node_memo *memo;       /* per node */
	bool tunnels;                 /* the local node holds tunnels */
	bool nets_unique;             /* no two nodes' networks are the same */
	struct cidr *location_ips;    /* every node's accepted allowed-location-ips */
	size_t n_location_ips;
	size_t n_hidden_routes;       /* as topo.n_hidden_routes */
	struct found_endpoint *found; /* the discovered endpoints, as topo.found */
	size_t n_found;
	/* The plan peers' endpoint addresses (IP literals), sorted, as
	 * topo.endpoints; rebuilt from the plan when stale. */
	struct net_key *endpoints;
	size_t n_endpoints;
	bool endpoints_stale;
	struct wgip_book book;
	/* Room in the plan's arrays (and the cache's), in items: a patch grows
	 * an array by half again, not by the item it adds, so alternating
	 * changes do not copy megabytes each. */
	struct {
		size_t peers, routes, segments, cluster_cidrs, endpoints, memo;
	} room;
	struct topology_cache_stats stats;
};

/* ---- The book (topology_cache_book.c) ---- */

/* From a computation's allocation (t->wgips); fills memo[].request and
 * memo[].published. Fails only out of memory. */
int book_build(struct wgip_book *b, const struct topo *t, struct node_memo *memo);
void book_free(struct wgip_book *b);
/* The address a new request of node n would get without moving anybody
 * else's: its published one if free, else its name's hash if free. */
bool book_new_address(const struct wgip_book *b, const struct node *n, uint64_t *off);
/* Whether taking the request that got off away (its holder published
 * published, or 0) leaves every other address where it is. */
bool book_may_free(const struct wgip_book *b, uint64_t off, uint64_t published);
/* How many nodes published off. */
size_t book_published_times(const struct wgip_book *b, uint64_t off);
/* Room for one more request and one more published address. */
int book_reserve(struct wgip_book *b);
/* The request that got off now keeps it as a published address: it probed
 * no more. */
void book_keep(struct wgip_book *b, uint64_t off);
void book_take(struct wgip_book *b, uint64_t off);
void book_release(struct wgip_book *b, uint64_t off);
void book_publish(struct wgip_book *b, uint64_t off);
void book_unpublish(struct wgip_book *b, uint64_t off);
/* The address at offset off (family 0 for 0: none). */
struct ip_addr book_address(const struct wgip_book *b, uint64_t off);

/* ---- Shared by the patches (topology_cache.c) ---- */

/* Whether the last plan stands for the same options, external peers and
 * local node (the node count aside), and may be patched. */
bool cache_frame_holds(const struct topology_cache *c, const char *self,
		       const struct topology_options *opts, uint64_t peers);
bool digests_equal(const struct node_digest *a, const struct node_digest *b);
/* The digest of a node without discovered endpoints. */
uint64_t no_discovered_digest(void);
/* The endpoint index up to date; false out of memory. */
bool endpoints_indexed(struct topology_cache *c);
/* Whether some plan peer's endpoint address lies in dst (index up to date). */
bool endpoint_inside(const struct topology_cache *c, const struct cidr *dst);
/* Whether a route into the tunnels holds ip. */
bool in_tunnel_route(const struct topology_cache *c, const struct ip_addr *ip);
/* The first of n sorted items (each of size bytes, starting with a cidr)
 * not below net. */
size_t cidr_lower_bound(const void *items, size_t n, size_t size, const struct cidr *net);

/* ---- Nodes joining, leaving, turning Ready or NotReady, new leaders
 * (topology_cache_members.c) ---- */

/* Patches the plan for one remote node joining, leaving, or turning Ready
 * or NotReady, or its leader annotation changing (and with either, the
 * leader of its location, when that is remote), or its published
 * WireGuard IP changing, when that is provably what topology_compute
 * would give; false (the plan untouched) to recompute. */
bool patch_members(struct topology_cache *c, const struct cluster *cluster, const char *self,
		   const struct topology_options *opts, const struct node_digest *d,
		   uint64_t peers, bool *changed);

#endif
