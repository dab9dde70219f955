// SPDX-License-Identifier: GPL-2.0-or-later
#include "plan_device.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

static int set_peer(struct wg_peer *p, const struct plan_peer *pp, const struct ip_addr *endpoint)
{
	p->public_key = pp->public_key;
	if (pp->has_preshared_key) {
		p->flags |= WG_PEER_HAS_PRESHARED_KEY;
		p->preshared_key = pp->preshared_key;
	}
	if (endpoint->family && pp->endpoint.port) {
		p->flags |= WG_PEER_HAS_ENDPOINT;
		p->endpoint_ip = *endpoint;
		p->endpoint_port = pp->endpoint.port;
	}
	if (pp->persistent_keepalive > 0) {
		p->flags |= WG_PEER_HAS_KEEPALIVE;
		p->persistent_keepalive = (uint16_t)pp->persistent_keepalive;
	}
	p->allowed_ips = malloc((pp->n_allowed_ips ? pp->n_allowed_ips : 1) * sizeof(*p->allowed_ips));
	if (!p->allowed_ips)
		return -1;
	memcpy(p->allowed_ips, pp->allowed_ips, pp->n_allowed_ips * sizeof(*p->allowed_ips));
	p->n_allowed_ips = pp->n_allowed_ips;
	return 0;
}

int plan_device(const struct plan *plan, const char *ifname, const struct wg_key *private_key,
		uint16_t listen_port, const struct ip_addr *endpoint_ips, struct wg_device *out,
		struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (strlen(ifname) >= sizeof(out->name))
		return error_set(err, "interface name %s: too long", ifname);
	strcpy(out->name, ifname);
	out->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
	out->private_key = *private_key;
	out->listen_port = listen_port;
	out->peers = calloc(plan->n_peers ? plan->n_peers : 1, sizeof(*out->peers));
	if (!out->peers)
		return error_set(err, "WireGuard peers: out of memory");
	for (size_t i = 0; i < plan->n_peers; i++, out->n_peers++) {
		if (set_peer(&out->peers[i], &plan->peers[i], &endpoint_ips[i]) < 0) {
			wg_device_free(out);
			return error_set(err, "%s: out of memory", plan->peers[i].name);
		}
	}
	return 0;
}

/* IPv4 first: the underlay of most clusters, and what Kilo does. */
static void resolve_name(const char *host, struct ip_addr *out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res, *best = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0) {
		log_warn("endpoint %s: %s; keeping the peer's learned endpoint", host, gai_strerror(rc));
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (!best || (ai->ai_family == AF_INET && best->ai_family != AF_INET))
			best = ai;
	if (best && best->ai_family == AF_INET) {
		out->family = AF_INET;
		out->v4 = ((const struct sockaddr_in *)(const void *)best->ai_addr)->sin_addr;
	} else if (best && best->ai_family == AF_INET6) {
		out->family = AF_INET6;
		out->v6 = ((const struct sockaddr_in6 *)(const void *)best->ai_addr)->sin6_addr;
	}
	freeaddrinfo(res);
}

int plan_resolve_endpoints(const struct plan *plan, struct ip_addr **out, struct error *err)
{
	struct ip_addr *ips = calloc(plan->n_peers ? plan->n_peers : 1, sizeof(*ips));

	if (!ips)
		return error_set(err, "resolving endpoints: out of memory");
	for (size_t i = 0; i < plan->n_peers; i++) {
		const char *host = plan->peers[i].endpoint.host;

		if (*host && ip_parse(host, &ips[i]) < 0)
			resolve_name(host, &ips[i]);
	}
	*out = ips;
	return 0;
}
