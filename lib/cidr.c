// SPDX-License-Identifier: GPL-2.0-or-later
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ip_parse(const char *s, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

static int parse_prefix(const char *s, int max)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	return (int)v;
}

int cidr_parse(const char *s, struct cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t len;
	int prefix;

	if (!slash)
		return -1;
	len = (size_t)(slash - s);
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (ip_parse(addr, &out->ip) < 0)
		return -1;
	prefix = parse_prefix(slash + 1, ip_family_bits(out->ip.family));
	if (prefix < 0)
		return -1;
	out->prefix = (uint8_t)prefix;
	return 0;
}

int cidr_parse_host(const char *s, struct cidr *out)
{
	struct ip_addr ip;

	if (strchr(s, '/'))
		return cidr_parse(s, out);
	if (ip_parse(s, &ip) < 0)
		return -1;
	*out = cidr_host(&ip);
	return 0;
}

const char *ip_format(const struct ip_addr *ip, char buf[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(ip->family, ip->bytes, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "<invalid>");
	return buf;
}

const char *cidr_format(const struct cidr *c, char buf[CIDR_STRLEN])
{
	char ip[INET6_ADDRSTRLEN];

	snprintf(buf, CIDR_STRLEN, "%s/%u", ip_format(&c->ip, ip), c->prefix);
	return buf;
}

int ip_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, ip_len(a));
}

struct cidr cidr_host(const struct ip_addr *ip)
{
	struct cidr c = { .ip = *ip, .prefix = (uint8_t)ip_family_bits(ip->family) };

	return c;
}

/* Clears the bits past prefix: the byte the prefix ends in keeps its top
 * prefix % 8 bits, the bytes after it none. */
static void mask_bytes(uint8_t *bytes, size_t len, unsigned prefix)
{
	size_t i = prefix / 8;

	if (i >= len)
		return;
	bytes[i] &= (uint8_t)(0xff00u >> (prefix % 8));
	memset(bytes + i + 1, 0, len - i - 1);
}

struct cidr cidr_network(const struct cidr *c)
{
	struct cidr n = *c;

	mask_bytes(n.ip.bytes, ip_len(&n.ip), n.prefix);
	return n;
}

int cidr_cmp(const struct cidr *a, const struct cidr *b)
{
	struct cidr na = cidr_network(a), nb = cidr_network(b);
	int r = ip_cmp(&na.ip, &nb.ip);

	if (r)
		return r;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return ip_cmp(&a->ip, &b->ip);
}

bool cidr_contains(const struct cidr *net, const struct ip_addr *ip)
{
	struct cidr a = cidr_network(net), b = { .ip = *ip, .prefix = net->prefix };

	if (net->ip.family != ip->family)
		return false;
	b = cidr_network(&b);
	return ip_equal(&a.ip, &b.ip);
}

bool cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	if (a->ip.family != b->ip.family)
		return false;
	return a->prefix <= b->prefix ? cidr_contains(a, &b->ip) : cidr_contains(b, &a->ip);
}

int cidr_nth(const struct cidr *c, uint64_t n, struct ip_addr *out)
{
	struct cidr net = cidr_network(c);
	unsigned host_bits = (unsigned)ip_family_bits(c->ip.family) - c->prefix;
	size_t len = ip_len(&c->ip);
	unsigned carry = 0;

	if (host_bits < 64 && n >> host_bits)
		return -1;
	*out = net.ip;
	for (size_t i = 0; i < len; i++) {
		size_t pos = len - 1 - i;
		unsigned sum = out->bytes[pos] + (unsigned)(i < 8 ? (n >> (8 * i)) & 0xff : 0) + carry;

		out->bytes[pos] = (uint8_t)sum;
		carry = sum >> 8;
	}
	return 0;
}

uint64_t cidr_offset(const struct cidr *c, const struct ip_addr *ip)
{
	struct cidr net = cidr_network(c);
	size_t len = ip_len(ip);
	uint64_t off = 0;
	unsigned borrow = 0;

	for (size_t i = 0; i < len && i < 8; i++) {
		size_t pos = len - 1 - i;
		int d = (int)ip->bytes[pos] - (int)net.ip.bytes[pos] - (int)borrow;

		borrow = d < 0;
		off |= (uint64_t)(uint8_t)(d + (borrow ? 256 : 0)) << (8 * i);
	}
	return off;
}

uint64_t cidr_size(const struct cidr *c)
{
	unsigned host_bits = (unsigned)ip_family_bits(c->ip.family) - c->prefix;

	return host_bits >= 64 ? UINT64_MAX : (uint64_t)1 << host_bits;
}
