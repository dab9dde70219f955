/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of the topology, shared by topology*.c only: the WireGuard IP
 * allocator and the set of claimed address ranges that rejects overlaps.
 */
#ifndef SKEIN_TOPOLOGY_IMPL_H
#define SKEIN_TOPOLOGY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"

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
/* Sorts keys (tmp: room for n more); returns keys or tmp, whichever holds
 * the result. */
struct net_key *net_keys_sort(struct net_key *keys, struct net_key *tmp, size_t n);
bool net_keys_equal(const struct net_key *a, const struct net_key *b);
/* Merges two sorted runs into out (ties: a first). */
void net_keys_merge(const struct net_key *a, size_t na, const struct net_key *b, size_t nb,
		    struct net_key *out);
/* Whether the network key net holds the address (or network) key k. */
bool net_key_contains(const struct net_key *net, const struct net_key *k);
/* The first of n sorted keys not below k (prefixes ignored). */
size_t net_keys_lower_bound(const struct net_key *keys, size_t n, const struct net_key *k);

#endif
