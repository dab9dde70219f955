// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * WireGuard IP allocation. Handing addresses out in list order (as Kilo
 * does) renumbers every segment after one that comes or goes. Here an
 * address is a hash of the holder's name, so it does not depend on who else
 * exists; collisions probe upwards in list order, and an address a holder
 * already published is kept, so a later collision cannot move it either.
 */
#include "topology_impl.h"

#include <stdlib.h>
#include <string.h>

/* Offsets taken in the subnet: open addressing, 0 marks a free slot (the
 * network address itself is never handed out). */
struct taken {
	uint64_t *slots;
	size_t mask;
};

static int taken_init(struct taken *t, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->mask = cap - 1;
	return t->slots ? 0 : -1;
}

static size_t taken_slot(const struct taken *t, uint64_t off)
{
	size_t i = (size_t)(off * 0x9e3779b97f4a7c15ull) & t->mask;

	while (t->slots[i] && t->slots[i] != off)
		i = (i + 1) & t->mask;
	return i;
}

static bool taken_has(const struct taken *t, uint64_t off)
{
	return t->slots[taken_slot(t, off)] == off;
}

static void taken_add(struct taken *t, uint64_t off)
{
	t->slots[taken_slot(t, off)] = off;
}

uint64_t name_hash(const char *kind, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = kind; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ ':') * 0x100000001b3ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h;
}

/* Usable offsets are 1..usable: not the network address, and for IPv4 not
 * the broadcast address either. */
static uint64_t usable_offsets(const struct cidr *subnet)
{
	uint64_t size = cidr_size(subnet);

	if (subnet->ip.family == AF_INET)
		return size - 2;
	return size == UINT64_MAX ? UINT64_MAX - 1 : size - 1;
}

static bool published_offset(const struct cidr *subnet, uint64_t usable,
			     const struct ip_addr *ip, uint64_t *off)
{
	if (!cidr_contains(subnet, ip))
		return false;
	*off = cidr_offset(subnet, ip);
	return *off >= 1 && *off <= usable;
}

/* Keeps the first free one of req's published addresses [from, to). */
static void keep_published(const struct cidr *subnet, uint64_t usable, struct taken *t,
			   const struct wgip_request *req, size_t from, size_t to,
			   struct ip_addr *out)
{
	uint64_t off;

	for (size_t i = from; i < to && !out->family; i++) {
		if (!published_offset(subnet, usable, &req->published[i], &off) || taken_has(t, off))
			continue;
		taken_add(t, off);
		cidr_nth(subnet, off, out);
		return;
	}
}

static uint64_t hash_offset(uint64_t usable, const char *kind, const char *name)
{
	return 1 + name_hash(kind, name) % usable;
}

static void hash_and_probe(const struct cidr *subnet, uint64_t usable, struct taken *t,
			   size_t *n_taken, const struct wgip_request *req, struct ip_addr *out)
{
	uint64_t off;

	if (*n_taken >= usable)
		return;
	off = hash_offset(usable, req->kind, req->name);
	while (taken_has(t, off))
		off = off == usable ? 1 : off + 1;
	taken_add(t, off);
	(*n_taken)++;
	cidr_nth(subnet, off, out);
}

int wgip_allocate(const struct cidr *subnet, const struct wgip_request *req, size_t n,
		  struct ip_addr *out, struct error *err)
{
	struct cidr net = cidr_network(subnet);
	struct taken t;
	size_t n_taken = 0;
	uint64_t usable;

	if (!net.ip.family || cidr_size(&net) < 4)
		return error_set(err, "WireGuard subnet: needs at least 4 addresses");
	usable = usable_offsets(&net);
	if (taken_init(&t, n) < 0)
		return error_set(err, "WireGuard subnet: out of memory");
	memset(out, 0, n * sizeof(*out));
	for (size_t i = 0; i < n; i++)
		keep_published(&net, usable, &t, &req[i], 0, req[i].n_strong, &out[i]);
	for (size_t i = 0; i < n; i++)
		keep_published(&net, usable, &t, &req[i], req[i].n_strong, req[i].n_published, &out[i]);
	for (size_t i = 0; i < n; i++)
		n_taken += out[i].family != 0;
	for (size_t i = 0; i < n; i++)
		if (!out[i].family)
			hash_and_probe(&net, usable, &t, &n_taken, &req[i], &out[i]);
	free(t.slots);
	return 0;
}

uint64_t wgip_usable(const struct cidr *subnet)
{
	struct cidr net = cidr_network(subnet);

	return usable_offsets(&net);
}

bool wgip_offset(const struct cidr *subnet, const struct ip_addr *ip, uint64_t *off)
{
	struct cidr net = cidr_network(subnet);

	return published_offset(&net, usable_offsets(&net), ip, off);
}

uint64_t wgip_hash_offset(const struct cidr *subnet, const char *kind, const char *name)
{
	return hash_offset(wgip_usable(subnet), kind, name);
}
