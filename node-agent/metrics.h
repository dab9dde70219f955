/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The agent's counters and its HTTP endpoint (libmicrohttpd, own thread):
 * GET /healthz answers "ok", GET /metrics the counters in the Prometheus
 * text format. The reconcile thread updates the values under the lock;
 * rendering them is pure.
 */
#ifndef SKEIN_METRICS_H
#define SKEIN_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "node_options.h"

enum error_kind {
	ERR_TOPOLOGY, ERR_DETECT, ERR_PUBLISH, ERR_LINK, ERR_WIREGUARD, ERR_ENCAP,
	ERR_ROUTE, ERR_RULE, ERR_NFT, ERR_SYSCTL, ERR_CNI, ERR_KINDS
};

extern const char *const error_kind_names[ERR_KINDS];

struct metric_values {
	size_t nodes, peers;
	bool is_leader;
	unsigned long reconciles;          /* hook calls */
	unsigned long applies;             /* of those, the ones that compared with the node */
	unsigned long errors[ERR_KINDS];
	double duration_sum;               /* seconds, over all reconciles */
	/* Writes to the node: rtnetlink (links, addresses, routes, rules,
	 * VXLAN), WireGuard sets, nftables batches, CNI config files. */
	unsigned long netlink_writes, wg_writes, nft_writes, cni_writes;
};

struct metrics {
	pthread_mutex_t lock;
	struct metric_values v;
};

/* Pure: the Prometheus text for v; free() it. NULL when out of memory. */
char *metrics_render(const struct metric_values *v);

struct http_server;
/* NULL with err set when the address cannot be bound. */
struct http_server *http_start(const struct listen_addr *l, struct metrics *m, struct error *err);
void http_stop(struct http_server *s);

#endif
