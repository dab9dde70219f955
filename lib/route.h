/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Routes and policy rules owned by skein, kept in sync through rtnetlink.
 * Everything skein installs carries RTPROT_SKEIN, so a sync (or clean-up)
 * finds exactly its own entries and never touches anybody else's. A sync
 * compares the kernel's state with the desired list and writes only the
 * difference: a sync with nothing to change sends no write.
 */
#ifndef SKEIN_ROUTE_H
#define SKEIN_ROUTE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"

#define RTPROT_SKEIN 107     /* routes and rules skein owns */
#define SKEIN_ROUTE_TABLE 1107
#define SKEIN_RULE_PRIORITY 1107

struct route {
	struct cidr dst;
	struct ip_addr gateway; /* family 0: a direct route on dev */
	struct ip_addr src;     /* preferred source; family 0: none */
	char dev[IF_NAMESIZE];
	uint32_t table;         /* 0 means RT_TABLE_MAIN */
	bool onlink;            /* gateway reachable on dev without a subnet route */
	uint32_t mtu;           /* 0: inherit */
};

struct rule {
	int family;
	struct cidr src;        /* prefix 0 with family set: any */
	struct cidr dst;
	uint32_t table;
	uint32_t priority;
};

/* Makes skein's routes in `tables` match `want` (routes of other protocols
 * are left alone). Missing routes are added, changed ones replaced, extra
 * ones removed. */
int route_sync(struct nl *nl, const struct route *want, size_t n_want, struct error *err);
int rule_sync(struct nl *nl, const struct rule *want, size_t n_want, struct error *err);
/* Removes every route and rule carrying RTPROT_SKEIN. */
int route_remove_all(struct nl *nl, struct error *err);

#endif
