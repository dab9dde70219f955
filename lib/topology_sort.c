// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Radix sort of network keys. A plan of 5,000 nodes sorts tens of
 * thousands of networks; comparison sorts through qsort's callback cost
 * more than the rest of the topology together.
 */
#include "topology_impl.h"

#include <arpa/inet.h>
#include <endian.h>
#include <string.h>

/* Byte swaps, not loops over bytes: keys are made and read tens of
 * thousands of times per computation. */
static uint64_t load_be64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return be64toh(v);
}

static void store_be64(uint8_t *b, uint64_t v)
{
	v = htobe64(v);
	memcpy(b, &v, sizeof(v));
}

struct net_key net_key(const struct cidr *net, uint32_t item)
{
	struct net_key k = { .meta = (uint32_t)(net->ip.family == AF_INET6) << 8 | net->prefix,
			     .item = item };

	if (net->ip.family == AF_INET6) {
		k.hi = load_be64(net->ip.bytes);
		k.lo = load_be64(net->ip.bytes + 8);
	} else {
		k.hi = (uint64_t)ntohl(net->ip.v4.s_addr) << 32;
	}
	return k;
}

void net_key_cidr(const struct net_key *k, struct cidr *out)
{
	memset(out, 0, sizeof(*out));
	out->prefix = (uint8_t)(k->meta & 0xff);
	if (k->meta >> 8) {
		out->ip.family = AF_INET6;
		store_be64(out->ip.bytes, k->hi);
		store_be64(out->ip.bytes + 8, k->lo);
	} else {
		out->ip.family = AF_INET;
		out->ip.v4.s_addr = htonl((uint32_t)(k->hi >> 32));
	}
}

/* Digit pos of the sort order, 0 the most significant: the family, the 16
 * address bytes, the prefix. */
enum { DIGITS = 18 };

/* inline: a pass reads it twice per key. */
static inline unsigned digit(const struct net_key *k, unsigned pos)
{
	if (pos == 0)
		return (k->meta >> 8) & 0xff;
	if (pos <= 8)
		return (unsigned)(k->hi >> (8 * (8 - pos))) & 0xff;
	if (pos <= 16)
		return (unsigned)(k->lo >> (8 * (16 - pos))) & 0xff;
	return k->meta & 0xff;
}

/* One stable counting pass on digit pos. */
static void pass(const struct net_key *from, struct net_key *to, size_t n, unsigned pos)
{
	size_t count[257] = { 0 };

	for (size_t i = 0; i < n; i++)
		count[digit(&from[i], pos) + 1]++;
	for (int d = 0; d < 256; d++)
		count[d + 1] += count[d];
	for (size_t i = 0; i < n; i++)
		to[count[digit(&from[i], pos)]++] = from[i];
}

struct net_key *net_keys_sort(struct net_key *keys, struct net_key *tmp, size_t n)
{
	struct net_key any = { 0, 0, 0, 0 }, all = { ~0ull, ~0ull, ~0u, 0 }, varies;

	for (size_t i = 0; i < n; i++) {
		any.hi |= keys[i].hi, all.hi &= keys[i].hi;
		any.lo |= keys[i].lo, all.lo &= keys[i].lo;
		any.meta |= keys[i].meta, all.meta &= keys[i].meta;
	}
	varies = (struct net_key){ any.hi ^ all.hi, any.lo ^ all.lo, any.meta ^ all.meta, 0 };
	for (unsigned pos = DIGITS; pos-- > 0;) {
		struct net_key *swap;

		if (!digit(&varies, pos))
			continue;
		pass(keys, tmp, n, pos);
		swap = keys;
		keys = tmp;
		tmp = swap;
	}
	return keys;
}

bool net_keys_equal(const struct net_key *a, const struct net_key *b)
{
	return a->hi == b->hi && a->lo == b->lo && a->meta == b->meta;
}

/* (family, address) order, then the prefix unless only_address. */
static int key_cmp(const struct net_key *a, const struct net_key *b, bool only_address)
{
	if ((a->meta >> 8) != (b->meta >> 8))
		return (a->meta >> 8) < (b->meta >> 8) ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (only_address || (a->meta & 0xff) == (b->meta & 0xff))
		return 0;
	return (a->meta & 0xff) < (b->meta & 0xff) ? -1 : 1;
}

/* Key order, then item order: what a stable sort of keys listed in item
 * order gives. */
static bool keys_before(const struct net_key *a, const struct net_key *b)
{
	int r = key_cmp(a, b, false);

	return r < 0 || (r == 0 && a->item < b->item);
}

void net_keys_merge(const struct net_key *a, size_t na, const struct net_key *b, size_t nb,
		    struct net_key *out)
{
	size_t i = 0, j = 0;

	while (i < na || j < nb)
		*out++ = j == nb || (i < na && !keys_before(&b[j], &a[i])) ? a[i++] : b[j++];
}

static uint64_t high_bits(unsigned bits)
{
	return bits == 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

bool net_key_contains(const struct net_key *net, const struct net_key *k)
{
	unsigned p = net->meta & 0xff;

	if ((net->meta >> 8) != (k->meta >> 8) || (k->meta & 0xff) < p)
		return false;
	return (k->hi & high_bits(p)) == net->hi &&
	       (k->lo & high_bits(p > 64 ? p - 64 : 0)) == net->lo;
}

bool net_keys_overlap(const struct net_key *a, const struct net_key *b)
{
	return net_key_contains(a, b) || net_key_contains(b, a);
}

size_t net_keys_lower_bound(const struct net_key *keys, size_t n, const struct net_key *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(&keys[mid], k, true) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
