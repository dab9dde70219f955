/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The topology: a pure function from the cluster model, the local node's
 * name and the options to the desired state of that node (a plan). Every
 * node computes the same topology from the same model, so no coordination
 * is needed. No I/O happens here; the agent applies the plan.
 */
#ifndef SKEIN_TOPOLOGY_H
#define SKEIN_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"
#include "error.h"
#include "model.h"
#include "route.h"

enum granularity { GRANULARITY_LOCATION, GRANULARITY_FULL, GRANULARITY_CROSS };
enum encapsulation { ENCAP_NEVER, ENCAP_CROSSSUBNET, ENCAP_ALWAYS };

#define TOPOLOGY_MAX_SERVICE_CIDRS 4

struct topology_options {
	enum granularity granularity;
	enum encapsulation encapsulation;
	struct cidr subnet;          /* WireGuard IPs, default 10.4.0.0/16 */
	struct cidr service_cidrs[TOPOLOGY_MAX_SERVICE_CIDRS];
	size_t n_service_cidrs;
	uint16_t listen_port;        /* default 51820 */
	char wg_ifname[IF_NAMESIZE]; /* default "skein0" */
	char encap_ifname[IF_NAMESIZE];
};

/* One WireGuard peer of the local node. */
struct plan_peer {
	char name[MODEL_NAME_MAX + 16]; /* "location/aws", "node/a", "peer/laptop" */
	struct wg_key public_key;
	struct endpoint endpoint;       /* host "" when the peer dials in */
	int persistent_keepalive;
	struct wg_key preshared_key;
	bool has_preshared_key;
	struct cidr *allowed_ips;
	size_t n_allowed_ips;
};

/* A location (or a single node in full/cross granularity): for graphs and
 * status output. */
struct plan_segment {
	char location[MODEL_NAME_MAX + 1];
	size_t leader;                  /* index into cluster->nodes */
	struct cidr wireguard_ip;
};

struct plan {
	bool is_leader;
	struct cidr wireguard_ip;       /* the device address, with the subnet's prefix */
	struct plan_peer *peers;
	size_t n_peers;
	struct route *routes;
	size_t n_routes;
	struct rule *rules;
	size_t n_rules;
	/* nftables: masquerade traffic from local_pod_cidrs unless it goes to
	 * one of cluster_cidrs (pod CIDRs, WireGuard subnet, node IPs, service
	 * CIDRs, external peers' allowed IPs). */
	struct cidr *local_pod_cidrs;
	size_t n_local_pod_cidrs;
	struct cidr *cluster_cidrs;
	size_t n_cluster_cidrs;
	struct plan_segment *segments;
	size_t n_segments;
};

int topology_options_default(struct topology_options *opts);
/* Fills plan for the node named `self`. Nodes and peers that would conflict
 * (overlapping allowed IPs, ...) are left out with a warning, first claimant
 * by name wins. Fails only when self is unusable (absent, no pod CIDR). */
int topology_compute(const struct cluster *cluster, const char *self,
		     const struct topology_options *opts, struct plan *plan,
		     struct error *err);
void plan_free(struct plan *plan);

#endif
