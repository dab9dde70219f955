// SPDX-License-Identifier: GPL-2.0-or-later
#include "probe.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Names the probe in packet captures; its content does not matter. */
static const char probe_payload[] = "skein probe";

static bool is_host(const struct cidr *c)
{
	return c->prefix == ip_family_bits(c->ip.family);
}

int probe_address(const struct plan_peer *p, const struct cidr *wg_subnet, struct ip_addr *out)
{
	const struct cidr *first = NULL;

	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		const struct cidr *c = &p->allowed_ips[i];

		if (!is_host(c))
			continue;
		if (cidr_contains(wg_subnet, &c->ip)) {
			*out = c->ip;
			return 0;
		}
		if (!first)
			first = c;
	}
	if (!first)
		return -1;
	*out = first->ip;
	return 0;
}

static socklen_t sockaddr_of(const struct ip_addr *ip, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = ip->v6;
		return sizeof(*s6);
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr = ip->v4;
	return sizeof(*s4);
}

int probe_send(const char *ifname, const struct ip_addr *dst, struct error *err)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(dst, PROBE_PORT, &ss);
	char buf[INET6_ADDRSTRLEN];
	int fd, rc = 0;

	fd = socket(dst->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, "probe to %s: socket: %s", ip_format(dst, buf), strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
		rc = error_set(err, "probe to %s: binding to %s: %s", ip_format(dst, buf), ifname,
			       strerror(errno));
	else if (sendto(fd, probe_payload, sizeof(probe_payload) - 1, 0, (struct sockaddr *)&ss, len) < 0)
		rc = error_set(err, "probe to %s through %s: %s", ip_format(dst, buf), ifname,
			       strerror(errno));
	close(fd);
	return rc;
}
