// SPDX-License-Identifier: GPL-2.0-or-later
/* Plans as values: freeing, comparing, reporting what was left out. */
#include "topology.h"

#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "log.h"

void plan_free(struct plan *plan)
{
	for (size_t i = 0; i < plan->n_peers; i++)
		free(plan->peers[i].allowed_ips);
	free(plan->peers);
	free(plan->routes);
	free(plan->rules);
	free(plan->local_pod_cidrs);
	free(plan->cluster_cidrs);
	free(plan->segments);
	free(plan->encap_remotes);
	free(plan->rejections);
	memset(plan, 0, sizeof(*plan));
}

static bool cidrs_equal(const struct cidr *a, size_t na, const struct cidr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!cidr_equal(&a[i], &b[i]))
			return false;
	return true;
}

static bool endpoints_equal(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && !strcmp(a->host, b->host);
}

/* The comparators take void pointers to serve arrays_equal. */
static bool peers_equal(const void *pa, const void *pb)
{
	const struct plan_peer *a = pa, *b = pb;

	return !strcmp(a->name, b->name) && key_equal(&a->public_key, &b->public_key) &&
	       endpoints_equal(&a->endpoint, &b->endpoint) &&
	       a->persistent_keepalive == b->persistent_keepalive &&
	       a->has_preshared_key == b->has_preshared_key &&
	       (!a->has_preshared_key || key_equal(&a->preshared_key, &b->preshared_key)) &&
	       cidrs_equal(a->allowed_ips, a->n_allowed_ips, b->allowed_ips, b->n_allowed_ips);
}

static bool routes_equal(const void *pa, const void *pb)
{
	const struct route *a = pa, *b = pb;

	return cidr_equal(&a->dst, &b->dst) && ip_equal(&a->gateway, &b->gateway) &&
	       ip_equal(&a->src, &b->src) && !strcmp(a->dev, b->dev) && a->table == b->table &&
	       a->onlink == b->onlink && a->mtu == b->mtu;
}

static bool rules_equal(const void *pa, const void *pb)
{
	const struct rule *a = pa, *b = pb;

	return a->family == b->family && cidr_equal(&a->src, &b->src) &&
	       cidr_equal(&a->dst, &b->dst) && a->table == b->table && a->priority == b->priority;
}

static bool segments_equal(const void *pa, const void *pb)
{
	const struct plan_segment *a = pa, *b = pb;

	return !strcmp(a->name, b->name) && !strcmp(a->location, b->location) &&
	       a->leader == b->leader && a->n_members == b->n_members &&
	       cidr_equal(&a->wireguard_ip, &b->wireguard_ip);
}

static bool ips_equal(const void *a, const void *b)
{
	return ip_equal(a, b);
}

static bool arrays_equal(const void *a, size_t na, const void *b, size_t nb, size_t size,
			 bool (*eq)(const void *, const void *))
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!eq((const char *)a + i * size, (const char *)b + i * size))
			return false;
	return true;
}

bool plan_equal(const struct plan *a, const struct plan *b)
{
	return a->is_leader == b->is_leader && cidr_equal(&a->wireguard_ip, &b->wireguard_ip) &&
	       ip_equal(&a->encap_ip6, &b->encap_ip6) &&
	       arrays_equal(a->peers, a->n_peers, b->peers, b->n_peers, sizeof(*a->peers),
			    peers_equal) &&
	       arrays_equal(a->routes, a->n_routes, b->routes, b->n_routes, sizeof(*a->routes),
			    routes_equal) &&
	       arrays_equal(a->rules, a->n_rules, b->rules, b->n_rules, sizeof(*a->rules),
			    rules_equal) &&
	       arrays_equal(a->segments, a->n_segments, b->segments, b->n_segments,
			    sizeof(*a->segments), segments_equal) &&
	       arrays_equal(a->encap_remotes, a->n_encap_remotes, b->encap_remotes,
			    b->n_encap_remotes, sizeof(*a->encap_remotes), ips_equal) &&
	       cidrs_equal(a->local_pod_cidrs, a->n_local_pod_cidrs, b->local_pod_cidrs,
			   b->n_local_pod_cidrs) &&
	       cidrs_equal(a->cluster_cidrs, a->n_cluster_cidrs, b->cluster_cidrs,
			   b->n_cluster_cidrs);
}

static bool has_rejection(const struct plan *p, const char *msg)
{
	for (size_t i = 0; p && i < p->n_rejections; i++)
		if (!strcmp(p->rejections[i].msg, msg))
			return true;
	return false;
}

void plan_log_rejections(const struct plan *prev, const struct plan *next)
{
	for (size_t i = 0; i < next->n_rejections; i++)
		if (!has_rejection(prev, next->rejections[i].msg))
			log_warn("%s", next->rejections[i].msg);
}

struct ip_addr topology_encap_ip6(const struct ip_addr *private_v4)
{
	struct ip_addr ip = { .family = AF_INET6 };

	ip.bytes[0] = 0xfe;
	ip.bytes[1] = 0x80;
	ip.bytes[11] = 0x5e;
	memcpy(&ip.bytes[12], private_v4->bytes, 4);
	return ip;
}
