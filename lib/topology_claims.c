// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Overlap checks for allowed IPs. Prefixes are either nested or disjoint,
 * so two overlap exactly when one is an ancestor of the other in a binary
 * trie of address bits. Each trie node lists the claims ending there, and
 * remembers up to two claims of distinct owners in its subtree: enough to
 * answer "is there a claim of an owner other than X below" for any X.
 */
#include "topology_impl.h"

#include <stdlib.h>
#include <string.h>

/* Item numbers are index + 1; 0 means none. */
struct claim_item {
	struct claim claim;
	uint32_t next_end; /* the next claim ending at the same trie node */
};

struct claim_trie_node {
	uint32_t child[2];
	uint32_t end;      /* the first claim ending here */
	uint32_t sub[2];   /* claims here or below, of two distinct owners */
};

enum { ROOT_V4, ROOT_V6 };

void claims_init(struct claims *c)
{
	memset(c, 0, sizeof(*c));
}

void claims_free(struct claims *c)
{
	free(c->items);
	free(c->nodes);
	claims_init(c);
}

static int grow(void **array, size_t *cap, size_t need, size_t size)
{
	size_t cap2;
	void *p;

	if (need <= *cap)
		return 0;
	cap2 = *cap ? *cap * 2 : 64;
	while (cap2 < need)
		cap2 *= 2;
	p = realloc(*array, cap2 * size);
	if (!p)
		return -1;
	*array = p;
	*cap = cap2;
	return 0;
}

static uint32_t new_node(struct claims *c)
{
	if (grow((void **)&c->nodes, &c->cap_nodes, c->n_nodes + 1, sizeof(*c->nodes)) < 0)
		return 0;
	memset(&c->nodes[c->n_nodes], 0, sizeof(*c->nodes));
	return (uint32_t)c->n_nodes++;
}

static size_t owner_of(const struct claims *c, uint32_t item)
{
	return c->items[item - 1].claim.owner;
}

static void slot_add(const struct claims *c, uint32_t slot[2], uint32_t item)
{
	if (!slot[0])
		slot[0] = item;
	else if (!slot[1] && owner_of(c, slot[0]) != owner_of(c, item))
		slot[1] = item;
}

static const struct claim *slot_other(const struct claims *c, const uint32_t slot[2], size_t owner)
{
	for (int i = 0; i < 2; i++)
		if (slot[i] && owner_of(c, slot[i]) != owner)
			return &c->items[slot[i] - 1].claim;
	return NULL;
}

static int bit_at(const struct ip_addr *ip, unsigned i)
{
	return (ip->bytes[i / 8] >> (7 - i % 8)) & 1;
}

static uint32_t root_of(const struct cidr *net)
{
	return net->ip.family == AF_INET6 ? ROOT_V6 : ROOT_V4;
}

int claims_add(struct claims *c, const struct claim *claim, struct error *err)
{
	uint32_t item, node;

	if (c->n_nodes == 0 && (new_node(c) != ROOT_V4 || new_node(c) != ROOT_V6))
		return error_set(err, "claims: out of memory");
	if (grow((void **)&c->items, &c->cap_items, c->n_items + 1, sizeof(*c->items)) < 0)
		return error_set(err, "claims: out of memory");
	c->items[c->n_items++] = (struct claim_item){ *claim, 0 };
	item = (uint32_t)c->n_items;
	node = root_of(&claim->net);
	for (unsigned depth = 0;; depth++) {
		int b;

		slot_add(c, c->nodes[node].sub, item);
		if (depth == claim->net.prefix)
			break;
		b = bit_at(&claim->net.ip, depth);
		if (!c->nodes[node].child[b]) {
			uint32_t child = new_node(c);

			if (!child)
				return error_set(err, "claims: out of memory");
			c->nodes[node].child[b] = child;
		}
		node = c->nodes[node].child[b];
	}
	c->items[item - 1].next_end = c->nodes[node].end;
	c->nodes[node].end = item;
	return 0;
}

const struct claim *claims_get(const struct claims *c, size_t claim)
{
	return &c->items[claim].claim;
}

static const struct claim *end_other(const struct claims *c, uint32_t node, size_t owner)
{
	for (uint32_t i = c->nodes[node].end; i; i = c->items[i - 1].next_end)
		if (owner_of(c, i) != owner)
			return &c->items[i - 1].claim;
	return NULL;
}

const struct claim *claims_conflict(const struct claims *c, const struct cidr *net, size_t owner)
{
	const struct claim *hit;
	uint32_t node;

	if (c->n_nodes == 0)
		return NULL;
	node = root_of(net);
	for (unsigned depth = 0; depth < net->prefix; depth++) {
		hit = end_other(c, node, owner);
		if (hit)
			return hit; /* a claim containing net */
		node = c->nodes[node].child[bit_at(&net->ip, depth)];
		if (!node)
			return NULL;
	}
	return slot_other(c, c->nodes[node].sub, owner); /* net itself or inside it */
}

static void each_end(const struct claims *c, uint32_t node, void (*fn)(void *, size_t), void *ctx)
{
	for (uint32_t i = c->nodes[node].end; i; i = c->items[i - 1].next_end)
		fn(ctx, i - 1);
}

static void each_below(const struct claims *c, uint32_t node, void (*fn)(void *, size_t), void *ctx)
{
	each_end(c, node, fn, ctx);
	for (int b = 0; b < 2; b++)
		if (c->nodes[node].child[b])
			each_below(c, c->nodes[node].child[b], fn, ctx);
}

void claims_each_overlap(const struct claims *c, const struct cidr *net,
			 void (*fn)(void *ctx, size_t claim), void *ctx)
{
	uint32_t node;

	if (c->n_nodes == 0)
		return;
	node = root_of(net);
	for (unsigned depth = 0; depth < net->prefix; depth++) {
		each_end(c, node, fn, ctx);
		node = c->nodes[node].child[bit_at(&net->ip, depth)];
		if (!node)
			return;
	}
	each_below(c, node, fn, ctx);
}
