/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Links, addresses and routes over rtnetlink (lib/nl.h, NETLINK_ROUTE).
 * Every call works in the network namespace the struct nl socket was opened
 * in (a socket stays bound to the namespace it was created in, so open one
 * per namespace, see lib/netns.h, and never switch namespaces per call).
 * Return values: 0 on success, a negative errno on failure with err set to
 * a message naming the link/address/route. Callers that tolerate "already
 * gone" or "already there" test for -ENODEV / -EADDRNOTAVAIL / -ESRCH /
 * -EEXIST themselves.
 */
#ifndef SKEIN_LINK_H
#define SKEIN_LINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"

#define LINK_MAC_LEN 6

struct link_info {
	int index;
	char name[IF_NAMESIZE];
	char kind[16];              /* IFLA_INFO_KIND: "veth", "wireguard", ... or "" */
	uint32_t mtu;
	bool up;                    /* IFF_UP is set */
	uint8_t mac[LINK_MAC_LEN];  /* all zero for links without one (tun) */
	char alias[64];             /* IFLA_IFALIAS, "" when unset (or longer) */
};

/* -ENODEV (err set) when there is no link of that name. */
int link_get(struct nl *nl, const char *name, struct link_info *out, struct error *err);
/* Every link of the namespace; *out is malloc'ed, free() it. */
int link_list(struct nl *nl, struct link_info **out, size_t *n, struct error *err);

/* Creates a veth pair in one request: `name` in nl's namespace and `peer`
 * directly inside the namespace behind peer_netns_fd (-1: nl's namespace),
 * both with the MTU (0: kernel default). `name` is up already; the kernel
 * cannot bring the peer up in the same request: use link_set_up(). */
int link_veth_create(struct nl *nl, const char *name, const char *peer,
		     int peer_netns_fd, uint32_t mtu, struct error *err);
/* The same, tagging `name` with an interface alias (IFLA_IFALIAS) so its
 * owner recognises it later without keeping state. */
int link_veth_create_alias(struct nl *nl, const char *name, const char *peer,
			   int peer_netns_fd, uint32_t mtu, const char *alias,
			   struct error *err);
int link_set_up(struct nl *nl, int index, struct error *err);
int link_set_mtu(struct nl *nl, int index, uint32_t mtu, struct error *err);
/* Deleting one end of a veth deletes both. -ENODEV when absent. */
int link_delete(struct nl *nl, const char *name, struct error *err);

/* addr carries the prefix length of the address ("10.4.0.1/16"). flags are
 * IFA_F_* (e.g. IFA_F_NODAD so an IPv6 address is usable at once). */
int link_addr_add(struct nl *nl, int index, const struct cidr *addr,
		  uint32_t flags, struct error *err);
int link_addr_del(struct nl *nl, int index, const struct cidr *addr, struct error *err);
/* Addresses of link `index` (0: every link) of `family` (0: both), global
 * and link-local alike; *out is malloc'ed, free() it. */
int link_addr_list(struct nl *nl, int index, int family, struct cidr **out,
		   size_t *n, struct error *err);

struct link_route {
	struct cidr dst;            /* prefix 0: a default route */
	struct ip_addr gateway;     /* family 0: directly on the link */
	int oif;                    /* output link index; 0: none */
	bool onlink;                /* gateway reachable on oif without a subnet route */
	uint8_t scope;              /* RT_SCOPE_*; 0 (universe) unless set */
	uint8_t protocol;           /* RTPROT_*; 0 means RTPROT_BOOT */
	uint32_t table;             /* 0 means RT_TABLE_MAIN */
	uint32_t mtu;               /* 0: inherit */
	struct ip_addr src;         /* preferred source; family 0: none */
};

/* Adds (-EEXIST if present) or, with replace, adds or replaces. */
int link_route_add(struct nl *nl, const struct link_route *r, bool replace, struct error *err);
/* -ESRCH when no such route. Matches on dst, table, oif and gateway if set. */
int link_route_del(struct nl *nl, const struct link_route *r, struct error *err);
/* Unicast routes of `family` (0: both) in `table` (0: main) whose output
 * link is oif (0: any); *out is malloc'ed, free() it. */
int link_route_list(struct nl *nl, int family, uint32_t table, int oif,
		    struct link_route **out, size_t *n, struct error *err);

#endif
