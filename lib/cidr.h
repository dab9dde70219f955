/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IPv4/IPv6 addresses and prefixes as plain values. Parsing is strict: no
 * leading zeros tricks, no missing prefix, prefix within the family's range.
 * A struct cidr keeps its host bits (an interface address "10.0.0.5/24" is a
 * valid cidr); cidr_network() clears them.
 */
#ifndef SKEIN_CIDR_H
#define SKEIN_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

struct ip_addr {
	int family; /* AF_INET or AF_INET6; 0 means unset */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	};
};

struct cidr {
	struct ip_addr ip;
	uint8_t prefix;
};

/* Longest text form of a cidr, with the terminating NUL. */
#define CIDR_STRLEN (INET6_ADDRSTRLEN + 4)

int ip_parse(const char *s, struct ip_addr *out);
/* "a.b.c.d/n" or "x::y/n"; the prefix is required. */
int cidr_parse(const char *s, struct cidr *out);
/* An address alone becomes a host prefix (/32 or /128). */
int cidr_parse_host(const char *s, struct cidr *out);

const char *ip_format(const struct ip_addr *ip, char buf[INET6_ADDRSTRLEN]);
const char *cidr_format(const struct cidr *c, char buf[CIDR_STRLEN]);

static inline int ip_family_bits(int family) { return family == AF_INET6 ? 128 : 32; }
static inline size_t ip_len(const struct ip_addr *ip) { return ip->family == AF_INET6 ? 16 : 4; }

/* Inline, with the lengths spelled out so the compiler compares words:
 * comparing two plans makes tens of thousands of these. */
static inline bool ip_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET6 ? !memcmp(a->bytes, b->bytes, 16) : !memcmp(a->bytes, b->bytes, 4);
}

int ip_cmp(const struct ip_addr *a, const struct ip_addr *b);
struct cidr cidr_host(const struct ip_addr *ip);
struct cidr cidr_network(const struct cidr *c);

static inline bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->prefix == b->prefix && ip_equal(&a->ip, &b->ip);
}
/* Orders by family, then network address, then prefix length. */
int cidr_cmp(const struct cidr *a, const struct cidr *b);
bool cidr_contains(const struct cidr *net, const struct ip_addr *ip);
bool cidr_overlaps(const struct cidr *a, const struct cidr *b);
/* The address at offset n from the network address; -1 if outside the prefix. */
int cidr_nth(const struct cidr *c, uint64_t n, struct ip_addr *out);
/* Offset of ip from the network address (ip must be inside c). */
uint64_t cidr_offset(const struct cidr *c, const struct ip_addr *ip);
/* Number of addresses, saturated at UINT64_MAX for huge IPv6 prefixes. */
uint64_t cidr_size(const struct cidr *c);

#endif
