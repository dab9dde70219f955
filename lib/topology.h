/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The topology: a pure function from the cluster model, the local node's
 * name and the options to the desired state of that node (a plan). Every
 * node computes the same topology from the same model, so no coordination
 * is needed. No I/O happens here; the agent applies the plan.
 *
 * Segments: in location granularity the Ready nodes of one location form a
 * segment; a node without location or without private IP is a segment of
 * its own (nothing says it shares a network with anybody). In full
 * granularity every node is a segment; in cross the segments are as in
 * location but every usable node holds tunnels to every usable node of the
 * other segments. docs/topology.md explains the rules and why.
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
	char encap_ifname[IF_NAMESIZE]; /* VXLAN device, default "skein-vx" */
	/* The device holding the node's private IP, for routes to other nodes
	 * of the segment; "" leaves the device to the kernel (resolved from the
	 * gateway), which a route dump then reports by name. */
	char underlay_ifname[IF_NAMESIZE];
};

/* One WireGuard peer of the local node. */
struct plan_peer {
	char name[MODEL_NAME_MAX + 16]; /* "location/aws", "node/a", "peer/laptop" */
	struct wg_key public_key;
	/* host "" when the peer dials in: the agent then leaves the endpoint
	 * the device learned from a handshake alone (it does not clear it). */
	struct endpoint endpoint;
	int persistent_keepalive;
	struct wg_key preshared_key;
	bool has_preshared_key;
	struct cidr *allowed_ips;       /* networks, sorted by cidr_cmp, unique */
	size_t n_allowed_ips;
};

#define PLAN_NO_LEADER ((size_t)-1)

/* A location (or a single node): for graphs and status output. */
struct plan_segment {
	char location[MODEL_NAME_MAX + 1]; /* the members' location, maybe "" */
	size_t leader;                  /* index into cluster->nodes, or PLAN_NO_LEADER */
	struct cidr wireguard_ip;       /* the leader's device address; family 0: none */
	char name[MODEL_NAME_MAX + 16]; /* "location/aws" or "node/a" */
	size_t n_members;               /* Ready nodes (and the local node) */
};

/* Something of the model left out, said once per change by the agent. */
struct plan_rejection {
	char msg[3 * MODEL_NAME_MAX];
};

struct plan {
	bool is_leader;                 /* the local node leads its segment */
	/* The device address, with the subnet's prefix; family 0 when the node
	 * holds no tunnels (a location's non-leader, or an unusable node). */
	struct cidr wireguard_ip;
	struct plan_peer *peers;        /* sorted by name */
	size_t n_peers;
	struct route *routes;           /* table SKEIN_ROUTE_TABLE, sorted by dst, unique */
	size_t n_routes;
	/* One rule per family that has routes: "lookup SKEIN_ROUTE_TABLE" at
	 * SKEIN_RULE_PRIORITY. The table holds only cluster destinations, so
	 * everything else falls through to the main table. */
	struct rule *rules;
	size_t n_rules;
	/* nftables: masquerade traffic from local_pod_cidrs unless it goes to
	 * one of cluster_cidrs (pod CIDRs, WireGuard subnet, node IPs, service
	 * CIDRs, external peers' allowed IPs, allowed-location-ips). Sorted,
	 * without entries contained in another. */
	struct cidr *local_pod_cidrs;
	size_t n_local_pod_cidrs;
	struct cidr *cluster_cidrs;
	size_t n_cluster_cidrs;
	struct plan_segment *segments;  /* sorted by name */
	size_t n_segments;
	/* Encapsulation (VXLAN on opts->encap_ifname): the private IPs of the
	 * nodes some route reaches through the device (its flood list), sorted.
	 * encap_ip6 is the link-local address the local node puts on the
	 * device so IPv6 routes of nodes with only an IPv4 private IP can use
	 * it as their gateway (topology_encap_ip6); family 0: none. The agent
	 * creates the device when either is set. */
	struct ip_addr *encap_remotes;
	size_t n_encap_remotes;
	struct ip_addr encap_ip6;
	/* Not part of the node's state (plan_equal ignores them). */
	struct plan_rejection *rejections;
	size_t n_rejections;
};

int topology_options_default(struct topology_options *opts);
/* Fills plan for the node named `self`. Nodes and peers that would conflict
 * (overlapping allowed IPs, ...) are left out and listed in
 * plan->rejections, first claimant by name wins. Fails only when self is
 * unusable (absent, no pod CIDR, or every one rejected) or the options are
 * invalid. */
int topology_compute(const struct cluster *cluster, const char *self,
		     const struct topology_options *opts, struct plan *plan,
		     struct error *err);
void plan_free(struct plan *plan);
/* True when applying b over a changes nothing on the node (rejections are
 * ignored). */
bool plan_equal(const struct plan *a, const struct plan *b);
/* Logs (warn) the rejections of next that prev did not have; prev may be
 * NULL. */
void plan_log_rejections(const struct plan *prev, const struct plan *next);
/* The IPv6 link-local gateway address standing for a node whose private IP
 * is IPv4: fe80::5e:a.b.c.d. */
struct ip_addr topology_encap_ip6(const struct ip_addr *private_v4);

/* The topology kept between computations, for the agent: each update
 * digests every node and patches the previous plan when only the WireGuard
 * attributes of nodes changed (key, endpoint, keepalive, discovered
 * endpoints: what roaming and key rotation change), or one remote node
 * joined, left, or turned Ready or NotReady (when it neither leads nor
 * could lead, and nothing else could move), or a remote location's leader
 * handed over to another node (a node's readiness or leader annotation
 * changed), or a remote node published a WireGuard IP (its own, or its
 * location's) that moves no address, and recomputes it with
 * topology_compute otherwise.
 * The plan is always equal (plan_equal, rejections too) to what
 * topology_compute gives for the same input. The cache keeps no pointer
 * into the cluster. docs/topology.md says what is patched and why. */
struct topology_cache;

struct topology_cache_stats {
	unsigned long computed;  /* updates that ran topology_compute */
	unsigned long patched;   /* updates that patched the plan */
	unsigned long unchanged; /* updates that found nothing changed */
	/* Of the patched and unchanged: a remote node joining, leaving,
	 * turning Ready or NotReady; of the patched: a remote location's
	 * leader handing over to another node; of the unchanged: a remote
	 * node publishing a WireGuard IP that moves no address. */
	unsigned long joined, left, flipped, new_leaders, republished;
};

/* NULL when out of memory. */
struct topology_cache *topology_cache_new(void);
void topology_cache_free(struct topology_cache *cache);
/* Brings the cached plan up to date; *changed tells whether it differs
 * from the previous successful update's (true after a failed or no
 * previous update). Fails as topology_compute does; the cache then holds
 * no plan. */
int topology_cache_update(struct topology_cache *cache, const struct cluster *cluster,
			  const char *self, const struct topology_options *opts, bool *changed,
			  struct error *err);
/* The plan of the last update (empty after a failed one); owned by the
 * cache, valid until its next update or free. */
const struct plan *topology_cache_plan(const struct topology_cache *cache);
/* The next update recomputes from scratch (for a periodic resync: a bound
 * on any wrong patch or digest collision). */
void topology_cache_invalidate(struct topology_cache *cache);
struct topology_cache_stats topology_cache_stats(const struct topology_cache *cache);

#endif
