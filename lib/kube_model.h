/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kubernetes objects to the cluster model (model.h): Node -> struct node,
 * skein.dev/v1alpha1 Peer -> struct peer. Every value is validated; a bad
 * one fails the whole object with an error naming the object, the field
 * (annotation key or JSON path) and the value.
 *
 * Node annotations read (skein.dev/NAME, else Kilo's kilo.squat.ai/NAME):
 *   location (else label topology.kubernetes.io/region), force-endpoint,
 *   force-internal-ip, leader, persistent-keepalive, allowed-location-ips,
 *   and the agent-published public-key (Kilo: key), endpoint, internal-ip,
 *   wireguard-ip, discovered-endpoints.
 *
 * A digest is the part of an object these functions read, so two objects
 * with equal digests translate to equal structs: caches keep digests
 * instead of whole objects, and an update that leaves the digest unchanged
 * (status heartbeats, images, other annotations) needs no reconcile.
 */
#ifndef SKEIN_KUBE_MODEL_H
#define SKEIN_KUBE_MODEL_H

#include <jansson.h>

#include "error.h"
#include "model.h"

#define KUBE_PEER_GROUP "skein.dev"
#define KUBE_PEER_VERSION "v1alpha1"
#define KUBE_PEERS_PATH "/apis/" KUBE_PEER_GROUP "/" KUBE_PEER_VERSION "/peers"
#define KUBE_NODES_PATH "/api/v1/nodes"

/* Annotations the agent publishes on its own Node. */
#define ANNOT_PUBLIC_KEY "skein.dev/public-key"
#define ANNOT_ENDPOINT "skein.dev/endpoint"
#define ANNOT_INTERNAL_IP "skein.dev/internal-ip"
#define ANNOT_WIREGUARD_IP "skein.dev/wireguard-ip"
#define ANNOT_DISCOVERED "skein.dev/discovered-endpoints"

/* New references; NULL only when out of memory or obj has no name. */
json_t *kube_node_digest(const json_t *node);
json_t *kube_peer_digest(const json_t *peer);

/* Accept a whole object or its digest. A node's discovered endpoints go
 * to discovered (room for MODEL_MAX_DISCOVERED), as if it were a cluster's
 * only node: out->first_discovered is 0. */
int kube_node_from_json(const json_t *node, struct node *out, struct discovered_endpoint *discovered,
			struct error *err);
int kube_peer_from_json(const json_t *peer, struct peer *out, struct error *err);

/*
 * The model from informer caches (name -> digest text): nodes and peers
 * sorted by name. Objects failing validation are left out and listed in
 * rejected ("node/NAME" or "peer/NAME" -> message), which is cleared first.
 */
int kube_cluster_build(const json_t *node_digests, const json_t *peer_digests, struct cluster *out,
		       json_t *rejected, struct error *err);

/*
 * Brings a model built from node digests `before` up to `after` in place,
 * when that is cheap: the same node names, and every changed node valid
 * before and after. Returns 0 when done, 1 when the caller must rebuild
 * with kube_cluster_build() (the model may then be partly updated), -1
 * when out of memory.
 */
int kube_cluster_update_nodes(struct cluster *c, const json_t *before, const json_t *after);

/* "host:port" or "[v6]:port"; host is an IP literal or a DNS name. */
int endpoint_parse(const char *s, struct endpoint *out);
/* The model as JSON (for --model-dump and skeinctl): new references. */
json_t *kube_cluster_to_json(const struct cluster *c);
/* discovered: n's own discovered endpoints (node_discovered()). */
json_t *kube_node_to_json(const struct node *n, const struct discovered_endpoint *discovered);
json_t *kube_peer_to_json(const struct peer *p);

#endif
