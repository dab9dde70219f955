/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * skein's nftables table, `inet skein`, through libnftnl. skein never
 * touches another table. The whole table is replaced in one atomic batch
 * (NFNL_MSG_BATCH_BEGIN ... END: add table, delete it, add it again with
 * its sets, chains and rules), so there is never a moment with half a
 * ruleset. It holds:
 *
 *   set cluster4/cluster6   ipv4_addr/ipv6_addr, flags interval: the
 *                           cluster's CIDRs (overlaps merged)
 *   chain postrouting       nat, srcnat: traffic from a local pod CIDR to
 *                           anything not in the cluster sets is MASQUERADEd
 *   chain forward           filter (only with forward_accept): accept
 *                           forwarded traffic from or to the local pod CIDRs
 *   chain preraw            filter, raw priority (wg-quick's rule): drop
 *                           packets to the WireGuard IP that did not come in
 *                           on the WireGuard device, unless from a local
 *                           address (fib saddr type local)
 *
 * Idempotence: the table's comment (NFTNL_TABLE_USERDATA) carries a hash of
 * the desired configuration. nft_sync reads the table back (dumps only) and
 * sends nothing when the hash matches and every chain, rule count and set
 * element count is what that configuration builds; anything else (table
 * missing, chain flushed, element deleted, other config) reloads the whole
 * table. A rule edited in place with the same counts is not detected.
 */
#ifndef SKEIN_NFT_H
#define SKEIN_NFT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"

#define NFT_TABLE_NAME "skein"

struct nft_config {
	const struct cidr *local_pod_cidrs;
	size_t n_local_pod_cidrs;
	const struct cidr *cluster_cidrs; /* not masqueraded as destinations */
	size_t n_cluster_cidrs;
	struct ip_addr wireguard_ip;      /* family 0: no anti-spoofing rule */
	char wg_ifname[IF_NAMESIZE];
	bool forward_accept;
};

/* An nfnetlink batch in one growing buffer, ready for one sendmsg. */
struct nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq;
	/* What reading the table back must find (see nft_sync). */
	size_t n_chains;
	size_t n_rules[3];                /* postrouting, forward, preraw */
	size_t n_elems[2];                /* cluster4, cluster6, with interval ends */
	uint64_t hash;
};

/* Pure: the batch that replaces table inet skein with cfg. seq numbers the
 * messages from `seq`. nft_batch_free releases it. */
int nft_batch_build(const struct nft_config *cfg, uint32_t seq, struct nft_batch *out,
		    struct error *err);
void nft_batch_free(struct nft_batch *b);
/* Pure: the hash stored in the table's comment. */
uint64_t nft_config_hash(const struct nft_config *cfg);

/* A closed range of addresses, network byte order; the set element pair
 * [first, last + 1 as interval end]. */
struct nft_interval {
	int family;
	uint8_t first[16], last[16];
};
/* Pure: the CIDRs of `family` as sorted, disjoint ranges (overlapping and
 * adjacent ones merged). *out is malloc'ed. */
int nft_intervals(const struct cidr *cidrs, size_t n, int family, struct nft_interval **out,
		  size_t *n_out);

/* nl must be a NETLINK_NETFILTER socket. Each counts one write in
 * nl->writes per batch it sends, and sends nothing when there is nothing
 * to do. */
int nft_sync(struct nl *nl, const struct nft_config *cfg, struct error *err);
/* Deletes table inet skein if it exists. */
int nft_remove(struct nl *nl, struct error *err);

#endif
