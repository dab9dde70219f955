// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cache's WireGuard IP book. wgip_allocate keeps published addresses
 * first, then hashes names and probes upwards past taken addresses, in
 * list order; so a request coming or going may move others' addresses.
 * It cannot when a new request takes an address nobody has (any request
 * that could have wanted it would have got it: offsets are only ever
 * taken, so one still free was passed by no probe and chosen by no list),
 * and when a request going leaves an address nobody else published nor
 * probed past. The book holds what tells: the addresses handed out, the
 * published ones, and the probes.
 */
#include "topology_cache_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- Offsets with a count: linear probing, deletion by backward shift -- */

struct offset_slot {
	uint64_t off; /* 0: free (offset 0, the network address, is never used) */
	size_t count;
};

static size_t home(const struct offset_set *s, uint64_t off)
{
	return (size_t)((off * 0x9e3779b97f4a7c15ull) >> 32) & s->mask;
}

static size_t slot_of(const struct offset_set *s, uint64_t off)
{
	size_t i = home(s, off);

	while (s->slots[i].off && s->slots[i].off != off)
		i = (i + 1) & s->mask;
	return i;
}

static int offsets_init(struct offset_set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 2)
		cap *= 2;
	s->slots = calloc(cap, sizeof(*s->slots));
	s->mask = cap - 1;
	s->n = 0;
	return s->slots ? 0 : -1;
}

static size_t offsets_count(const struct offset_set *s, uint64_t off)
{
	const struct offset_slot *slot = &s->slots[slot_of(s, off)];

	return slot->off == off ? slot->count : 0;
}

/* Needs room (offsets_reserve). */
static void offsets_add(struct offset_set *s, uint64_t off)
{
	struct offset_slot *slot = &s->slots[slot_of(s, off)];

	if (!slot->off) {
		slot->off = off;
		s->n++;
	}
	slot->count++;
}

/* Whether the entry at from may move back to the free slot at to: its home
 * is not cyclically within (to, from]. */
static bool may_fill(const struct offset_set *s, size_t to, size_t from)
{
	size_t h = home(s, s->slots[from].off);

	return ((from - h) & s->mask) >= ((from - to) & s->mask);
}

static void offsets_remove(struct offset_set *s, uint64_t off)
{
	size_t hole = slot_of(s, off);

	if (s->slots[hole].off != off || --s->slots[hole].count)
		return;
	s->n--;
	for (size_t i = (hole + 1) & s->mask; s->slots[i].off; i = (i + 1) & s->mask) {
		if (may_fill(s, hole, i)) {
			s->slots[hole] = s->slots[i];
			hole = i;
		}
	}
	s->slots[hole] = (struct offset_slot){ 0, 0 };
}

/* Room for one more entry, at most half full. */
static int offsets_reserve(struct offset_set *s)
{
	struct offset_set bigger;

	if (2 * (s->n + 1) <= s->mask + 1)
		return 0;
	if (offsets_init(&bigger, 2 * (s->n + 1)) < 0)
		return -1;
	for (size_t i = 0; i <= s->mask; i++)
		if (s->slots[i].off)
			bigger.slots[slot_of(&bigger, s->slots[i].off)] = s->slots[i];
	bigger.n = s->n;
	free(s->slots);
	*s = bigger;
	return 0;
}

/* ---- Building the book from a computation -------------------------------- */

static void publish_nodes(struct wgip_book *b, const struct topo *t, struct node_memo *memo)
{
	for (size_t i = 0; i < t->c->n_nodes; i++) {
		const struct hot *h = &t->hot[i];
		uint64_t off;

		memo[i].published = 0;
		if (h->published && wgip_offset(&b->subnet, &h->wireguard_ip, &off)) {
			memo[i].published = off;
			offsets_add(&b->published, off);
		}
	}
}

/* Request i of the computation: a node's in cross granularity, else a
 * segment's (as allocate_addresses lists them). */
struct request {
	const char *kind, *name;
	size_t first, count; /* its nodes, in t->order (cross: the node alone) */
	size_t lone;         /* the node it is alone, or TOPO_NONE */
};

static struct request request_of(const struct topo *t, size_t i)
{
	const struct seg *s = &t->segs[i];

	if (t->o->granularity == GRANULARITY_CROSS)
		return (struct request){ "node", t->c->nodes[i].name, 0, 0, i };
	return (struct request){ s->by_node ? "node" : "location", s->name, s->first, s->count,
				 s->by_node ? t->order[s->first] : TOPO_NONE };
}

/* Whether the request kept one of its nodes' published addresses (a
 * hashed one is never one of them: they were all taken by then). */
static bool kept_published(const struct topo *t, const struct node_memo *memo,
			   const struct request *r, uint64_t off)
{
	if (r->lone != TOPO_NONE && memo[r->lone].published == off)
		return true;
	for (size_t j = r->first; j < r->first + r->count; j++)
		if (memo[t->order[j]].published == off)
			return true;
	return false;
}

static int note_request(struct wgip_book *b, const struct topo *t, struct node_memo *memo,
			size_t i, size_t *cap)
{
	struct request r = request_of(t, i);
	uint64_t off = cidr_offset(&b->subnet, &t->wgips[i]), from;

	offsets_add(&b->taken, off);
	if (r.lone != TOPO_NONE)
		memo[r.lone].request = off;
	if (kept_published(t, memo, &r, off))
		return 0;
	from = wgip_hash_offset(&b->subnet, r.kind, r.name);
	if (from == off)
		return 0;
	if (b->n_probes == *cap) {
		size_t cap2 = *cap ? 2 * *cap : 16;
		struct probe *p = realloc(b->probes, cap2 * sizeof(*p));

		if (!p)
			return -1;
		b->probes = p;
		*cap = cap2;
	}
	b->probes[b->n_probes++] = (struct probe){ from, off };
	return 0;
}

int book_build(struct wgip_book *b, const struct topo *t, struct node_memo *memo)
{
	size_t n = t->o->granularity == GRANULARITY_CROSS ? t->c->n_nodes : t->n_segs, cap = 0;

	*b = (struct wgip_book){ .subnet = cidr_network(&t->o->subnet),
				 .usable = wgip_usable(&t->o->subnet) };
	if (offsets_init(&b->taken, n) < 0 || offsets_init(&b->published, t->c->n_nodes) < 0)
		return -1;
	publish_nodes(b, t, memo);
	for (size_t i = 0; i < t->c->n_nodes; i++)
		memo[i].request = 0;
	for (size_t i = 0; i < n; i++)
		if (t->wgips[i].family && note_request(b, t, memo, i, &cap) < 0)
			return -1;
	return 0;
}

void book_free(struct wgip_book *b)
{
	free(b->taken.slots);
	free(b->published.slots);
	free(b->probes);
	memset(b, 0, sizeof(*b));
}

/* ---- Questions and changes ----------------------------------------------- */

bool book_new_address(const struct wgip_book *b, const struct node *n, uint64_t *off)
{
	/* Never the last free address: a full subnet is a rejection. */
	if (b->taken.n + 2 > b->usable)
		return false;
	if (!n->has_wireguard_ip || !wgip_offset(&b->subnet, &n->wireguard_ip.ip, off))
		*off = wgip_hash_offset(&b->subnet, "node", n->name);
	return !offsets_count(&b->taken, *off);
}

/* Whether probe p passed offset off (from, up to to, wrapping). */
static bool probe_passed(const struct probe *p, uint64_t off)
{
	if (p->from <= p->to)
		return off >= p->from && off < p->to;
	return off >= p->from || off < p->to;
}

bool book_may_free(const struct wgip_book *b, uint64_t off, uint64_t published)
{
	if (offsets_count(&b->published, off) > (size_t)(published == off))
		return false;
	for (size_t i = 0; i < b->n_probes; i++)
		if (b->probes[i].to != off && probe_passed(&b->probes[i], off))
			return false;
	return true;
}

size_t book_published_times(const struct wgip_book *b, uint64_t off)
{
	return offsets_count(&b->published, off);
}

int book_reserve(struct wgip_book *b)
{
	return offsets_reserve(&b->taken) < 0 || offsets_reserve(&b->published) < 0 ? -1 : 0;
}

void book_keep(struct wgip_book *b, uint64_t off)
{
	for (size_t i = 0; i < b->n_probes; i++) {
		if (b->probes[i].to == off) {
			b->probes[i] = b->probes[--b->n_probes];
			return;
		}
	}
}

void book_take(struct wgip_book *b, uint64_t off)
{
	offsets_add(&b->taken, off);
}

/* The request's own probe (it is the one that got off) goes with it. */
void book_release(struct wgip_book *b, uint64_t off)
{
	offsets_remove(&b->taken, off);
	book_keep(b, off);
}

void book_publish(struct wgip_book *b, uint64_t off)
{
	if (off)
		offsets_add(&b->published, off);
}

void book_unpublish(struct wgip_book *b, uint64_t off)
{
	if (off)
		offsets_remove(&b->published, off);
}

struct ip_addr book_address(const struct wgip_book *b, uint64_t off)
{
	struct ip_addr ip = { .family = 0 };

	if (!off || cidr_nth(&b->subnet, off, &ip) < 0)
		ip.family = 0;
	return ip;
}
