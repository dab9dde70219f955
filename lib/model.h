/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cluster model: what skein needs to know of each Node and Peer, already
 * validated. kube_model.c builds it from API objects; topology.c reads it.
 * Plain values with fixed bounds, so a model is copied and compared cheaply
 * and a node never owns heap memory. A node's discovered endpoints (up to 64,
 * mostly none) live in one array of the cluster that the node indexes, so
 * a node stays small: thousands of nodes are most of the agent's memory.
 */
#ifndef SKEIN_MODEL_H
#define SKEIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

#define MODEL_NAME_MAX 253        /* a DNS subdomain, as Kubernetes names */
#define MODEL_HOST_MAX 253        /* endpoint host: IP literal or DNS name */
#define MODEL_MAX_POD_CIDRS 2     /* one per family, as Kubernetes allows */
#define MODEL_MAX_LOCATION_IPS 16
#define MODEL_MAX_DISCOVERED 64
#define MODEL_MAX_PEER_IPS 64
#define WG_KEY_LEN 32

struct wg_key {
	uint8_t bytes[WG_KEY_LEN];
};

struct endpoint {
	char host[MODEL_HOST_MAX + 1]; /* "" when unset */
	uint16_t port;
};

/* An endpoint another node learned from a handshake with a NATed peer. */
struct discovered_endpoint {
	struct wg_key key;
	struct endpoint endpoint;
};

struct node {
	char name[MODEL_NAME_MAX + 1];
	/* skein.dev/location, else topology.kubernetes.io/region, else "". */
	char location[MODEL_NAME_MAX + 1];
	struct cidr pod_cidrs[MODEL_MAX_POD_CIDRS];
	size_t n_pod_cidrs;
	/* The private address with its subnet's prefix length (force-internal-ip
	 * annotation, else the InternalIP address with a host prefix). */
	struct cidr internal_ip;
	bool has_internal_ip;
	/* Where other nodes send WireGuard packets: force-endpoint, else the
	 * endpoint the node's agent published. */
	struct endpoint endpoint;
	bool has_public_endpoint; /* endpoint host is not a private address */
	struct wg_key public_key;
	bool has_key;
	struct cidr wireguard_ip; /* the node's own published WireGuard IP */
	bool has_wireguard_ip;
	bool ready;
	bool leader;              /* skein.dev/leader annotation set to true */
	int persistent_keepalive; /* seconds; > 0 marks the node as NATed */
	struct cidr allowed_location_ips[MODEL_MAX_LOCATION_IPS];
	size_t n_allowed_location_ips;
	/* Its discovered endpoints (at most MODEL_MAX_DISCOVERED):
	 * cluster->discovered[first_discovered ...], node_discovered(). */
	size_t first_discovered;
	size_t n_discovered;
	/* The node's ExternalIP address from its status, if any. */
	struct ip_addr external_ip;
	bool has_external_ip;
};

/* An external WireGuard peer, from a cluster-scoped skein.dev Peer object. */
struct peer {
	char name[MODEL_NAME_MAX + 1];
	struct wg_key public_key;
	struct cidr allowed_ips[MODEL_MAX_PEER_IPS];
	size_t n_allowed_ips;
	struct endpoint endpoint; /* host "" when the peer dials in */
	int persistent_keepalive;
	struct wg_key preshared_key;
	bool has_preshared_key;
};

struct cluster {
	struct node *nodes; /* sorted by name */
	size_t n_nodes;
	struct peer *peers; /* sorted by name */
	size_t n_peers;
	/* The nodes' discovered endpoints, each node's in one run. */
	struct discovered_endpoint *discovered;
	size_t n_discovered;
};

void cluster_free(struct cluster *c);
/* Node n's n->n_discovered discovered endpoints (NULL when none). */
const struct discovered_endpoint *node_discovered(const struct cluster *c, const struct node *n);

#endif
