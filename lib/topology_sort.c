// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Radix sort of network keys. A plan of 5,000 nodes sorts tens of
 * thousands of networks; comparison sorts through qsort's callback cost
 * more than the rest of the topology together.
 */
#include "topology_impl.h"

#include <arpa/inet.h>

static uint64_t load_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

struct net_key net_key(uint64_t group, const struct cidr *net, size_t item)
{
	struct net_key k = { .item = item };

	k.w[0] = group << 8 | (net->ip.family == AF_INET6);
	if (net->ip.family == AF_INET6) {
		k.w[1] = load_be64(net->ip.bytes);
		k.w[2] = load_be64(net->ip.bytes + 8);
	} else {
		k.w[1] = (uint64_t)ntohl(net->ip.v4.s_addr) << 32;
	}
	k.w[3] = net->prefix;
	return k;
}

static unsigned digit(const struct net_key *k, unsigned pos)
{
	return (unsigned)(k->w[pos / 8] >> (8 * (7 - pos % 8))) & 0xff;
}

/* One stable counting pass on byte pos (0 is the most significant). */
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
	uint64_t any[4] = { 0 }, all[4] = { ~0ull, ~0ull, ~0ull, ~0ull };

	for (size_t i = 0; i < n; i++)
		for (int w = 0; w < 4; w++) {
			any[w] |= keys[i].w[w];
			all[w] &= keys[i].w[w];
		}
	for (unsigned pos = 32; pos-- > 0;) {
		uint64_t varies = (any[pos / 8] ^ all[pos / 8]) >> (8 * (7 - pos % 8));
		struct net_key *swap;

		if (!(varies & 0xff))
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
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] && a->w[3] == b->w[3];
}

static bool key_less(const struct net_key *a, const struct net_key *b)
{
	for (int w = 0; w < 4; w++)
		if (a->w[w] != b->w[w])
			return a->w[w] < b->w[w];
	return false;
}

void net_keys_merge(const struct net_key *a, size_t na, const struct net_key *b, size_t nb,
		    struct net_key *out)
{
	size_t i = 0, j = 0;

	while (i < na || j < nb)
		*out++ = j == nb || (i < na && !key_less(&b[j], &a[i])) ? a[i++] : b[j++];
}

static uint64_t high_bits(unsigned bits)
{
	return bits == 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

bool net_key_contains(const struct net_key *net, const struct net_key *k)
{
	unsigned p = (unsigned)net->w[3];

	if ((net->w[0] & 0xff) != (k->w[0] & 0xff) || k->w[3] < p)
		return false;
	return (k->w[1] & high_bits(p)) == net->w[1] &&
	       (k->w[2] & high_bits(p > 64 ? p - 64 : 0)) == net->w[2];
}

static int addr_cmp(const struct net_key *a, const struct net_key *b)
{
	for (int w = 0; w < 3; w++) {
		uint64_t x = w ? a->w[w] : a->w[0] & 0xff, y = w ? b->w[w] : b->w[0] & 0xff;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

size_t net_keys_lower_bound(const struct net_key *keys, size_t n, const struct net_key *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&keys[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
