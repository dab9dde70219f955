// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skeinctl.h"

/* A peer that dials in has no endpoint, but only a node with one may hold
 * tunnels; the stand-in never receives packets, so any host will do. */
#define STAND_IN_HOST "outside.invalid"

static void stand_in(const struct peer *peer, uint16_t port, struct node *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", OUTSIDE_NODE);
	n->ready = true;
	n->has_key = true;
	n->endpoint.port = port;
	snprintf(n->endpoint.host, sizeof(n->endpoint.host), "%s", STAND_IN_HOST);
	/* Any pod CIDR: it only makes the stand-in usable. Not the peer's
	 * allowed IPs: those need not pass the pod CIDR claim check (an office
	 * LAN may well be wider than a pod CIDR may be), and the stand-in's own
	 * plan never lists its own ranges. */
	cidr_parse("fdff:ffff:ffff:ffff::/128", &n->pod_cidrs[0]);
	n->n_pod_cidrs = 1;
	if (!peer)
		return;
	n->public_key = peer->public_key;
	n->persistent_keepalive = peer->persistent_keepalive;
	if (peer->endpoint.host[0])
		n->endpoint = peer->endpoint;
}

/* The model without `peer`, plus the stand-in as the last node. */
static int outside_model(const struct cluster *c, const struct peer *peer, uint16_t port,
			 struct cluster *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	out->nodes = malloc((c->n_nodes + 1) * sizeof(*out->nodes));
	out->peers = malloc((c->n_peers ? c->n_peers : 1) * sizeof(*out->peers));
	/* The copied nodes index their discovered endpoints in this array. */
	out->discovered = malloc((c->n_discovered ? c->n_discovered : 1) * sizeof(*out->discovered));
	if (!out->nodes || !out->peers || !out->discovered) {
		cluster_free(out);
		return error_set(err, "out of memory");
	}
	memcpy(out->nodes, c->nodes, c->n_nodes * sizeof(*out->nodes));
	if (c->n_discovered)
		memcpy(out->discovered, c->discovered, c->n_discovered * sizeof(*out->discovered));
	out->n_discovered = c->n_discovered;
	stand_in(peer, port, &out->nodes[c->n_nodes]);
	out->n_nodes = c->n_nodes + 1;
	for (size_t i = 0; i < c->n_peers; i++)
		if (&c->peers[i] != peer)
			out->peers[out->n_peers++] = c->peers[i];
	return 0;
}

static bool is_external(const struct plan_peer *p)
{
	return !strncmp(p->name, "peer/", 5);
}

int topology_outside(const struct cluster *c, const struct peer *peer,
		     const struct topology_options *opts, struct plan *plan, struct error *err)
{
	struct cluster model;
	int rc;

	if (outside_model(c, peer, opts->listen_port, &model, err) < 0)
		return -1;
	rc = topology_compute(&model, OUTSIDE_NODE, opts, plan, err);
	cluster_free(&model);
	if (rc < 0)
		return error_prefix(err, "%s%s", peer ? "peer " : "the view from outside",
				    peer ? peer->name : "");
	for (size_t i = 0; peer && peer->has_preshared_key && i < plan->n_peers; i++) {
		if (is_external(&plan->peers[i]))
			continue;
		plan->peers[i].preshared_key = peer->preshared_key;
		plan->peers[i].has_preshared_key = true;
	}
	return 0;
}

static const struct plan_peer *peer_named(const struct plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_peers; i++)
		if (!strcmp(plan->peers[i].name, name))
			return &plan->peers[i];
	return NULL;
}

const struct plan_peer *outside_peer_of_node(const struct cluster *c, const struct plan *outside,
					     const char *name, struct error *err)
{
	long n = ctl_find_node(c, name);
	char want[MODEL_NAME_MAX + 16];
	const struct plan_peer *p;

	if (n < 0) {
		error_set(err, "node %s: not found", name);
		return NULL;
	}
	snprintf(want, sizeof(want), "node/%s", name);
	if ((p = peer_named(outside, want)))
		return p;
	for (size_t i = 0; i < outside->n_segments; i++) {
		const struct plan_segment *s = &outside->segments[i];

		if (s->leader == (size_t)n && (p = peer_named(outside, s->name)))
			return p;
	}
	for (size_t i = 0; i < outside->n_segments; i++) {
		const struct plan_segment *s = &outside->segments[i];

		if (s->leader != PLAN_NO_LEADER && s->leader < c->n_nodes && s->location[0] &&
		    !strcmp(s->location, c->nodes[n].location)) {
			error_set(err, "node %s holds no tunnels: %s leads %s and carries its traffic", name,
				  c->nodes[s->leader].name, s->name);
			return NULL;
		}
	}
	error_set(err, "node %s holds no tunnels (not Ready, or no key, endpoint or pod CIDR yet)", name);
	return NULL;
}
