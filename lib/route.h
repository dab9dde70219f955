/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Routes and policy rules owned by skein, kept in sync through rtnetlink.
 * Everything skein installs carries RTPROT_SKEIN, so a sync (or clean-up)
 * finds exactly its own entries and never touches anybody else's. A sync
 * dumps the kernel's routes (every table) and rules (both families) of
 * that protocol, compares them with the desired list and writes only the
 * difference: a sync with nothing to change sends no write (nl->writes
 * stays put), and an entry someone deleted is put back by the next sync.
 *
 * Device names are resolved through nl's own namespace.
 *
 * The diff is a pure function (route_diff, rule_diff) so it is tested as
 * tables; route_sync/rule_sync are the thin netlink shell around it.
 */
#ifndef SKEIN_ROUTE_H
#define SKEIN_ROUTE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"
#include "setdiff.h"

#define RTPROT_SKEIN 107     /* routes and rules skein owns */
#define SKEIN_ROUTE_TABLE 1107
#define SKEIN_RULE_PRIORITY 1107

/* A route is identified by (table, dst); the rest are its attributes, and
 * a change of attributes replaces the route in place (one write). */
struct route {
	struct cidr dst;
	struct ip_addr gateway; /* family 0: a direct route on dev */
	struct ip_addr src;     /* preferred source; family 0: none */
	char dev[IF_NAMESIZE];
	uint32_t table;         /* 0 means RT_TABLE_MAIN */
	bool onlink;            /* gateway reachable on dev without a subnet route */
	uint32_t mtu;           /* 0: inherit */
};

/* "Look up `table` for packets from src to dst", identified by all fields. */
struct rule {
	int family;
	struct cidr src;        /* prefix 0 with family set: any */
	struct cidr dst;
	uint32_t table;         /* 0 means SKEIN_ROUTE_TABLE */
	uint32_t priority;      /* 0 means SKEIN_RULE_PRIORITY */
};

/* Makes skein's routes (those with RTPROT_SKEIN, in any table) match
 * `want`; routes of other protocols are left alone. Missing routes are
 * added, changed ones replaced, extra ones removed. A desired route whose
 * device is missing is skipped (the others are still synced) and the call
 * fails naming it. */
int route_sync(struct nl *nl, const struct route *want, size_t n_want, struct error *err);
/* The same for policy rules of both families. */
int rule_sync(struct nl *nl, const struct rule *want, size_t n_want, struct error *err);
/* Removes every route and rule carrying RTPROT_SKEIN. */
int route_remove_all(struct nl *nl, struct error *err);

/* Pure core: what turns `have` into `want` (see setdiff). Both lists must
 * be normalized (route_normalize, rule_normalize). */
int route_diff(const struct route *have, size_t n_have, const struct route *want,
	       size_t n_want, struct change **changes, size_t *n_changes, struct error *err);
int rule_diff(const struct rule *have, size_t n_have, const struct rule *want,
	      size_t n_want, struct change **changes, size_t *n_changes, struct error *err);
/* Clears host bits of prefixes and resolves the defaults (table 0, ...),
 * so equal routes compare equal whatever way they were written. */
struct route route_normalize(const struct route *r);
struct rule rule_normalize(const struct rule *r);
/* "10.0.0.0/24 via 10.1.0.1 dev eth0 table 1107" for messages. */
const char *route_format(const struct route *r, char *buf, size_t len);
const char *rule_format(const struct rule *r, char *buf, size_t len);

#endif
