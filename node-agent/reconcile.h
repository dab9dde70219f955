/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Programming the node: the agent's reconcile hook. Each call brings the
 * plan (lib/topology.h's cache) up to date with the model and, when the plan
 * changed or the resync period has passed (drift repair), makes
 * the node match it: the WireGuard device's address, MTU and peers, the
 * VXLAN device, skein's routes and rules, table inet skein and the CNI
 * config. Every step compares before it writes, so a reconcile with
 * nothing to change writes nothing (the counters in /metrics prove it).
 * The node's own annotations are published on the way. Peers an apply
 * added or moved are probed a moment later unless they had a handshake by
 * then (reconcile.c, "probes"); the hook asks the agent to wake it for that.
 *
 * node_clean_up() undoes all of it (SIGTERM with --clean-up). With the
 * userspace backend the wireguard-go process belongs to someone else: its
 * peers and addresses are removed, the device itself stays.
 */
#ifndef SKEIN_RECONCILE_H
#define SKEIN_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent.h"
#include "detect.h"
#include "metrics.h"
#include "nl.h"
#include "node_options.h"
#include "topology.h"
#include "wg.h"

#define NODE_DEVICE_WAIT_MS 10000

struct pending_probe;

struct node_state {
	const struct node_options *opts;
	struct wg_backend wg;
	struct wg_key private_key, public_key;
	struct nl rt;                   /* NETLINK_ROUTE */
	struct nl nf;                   /* NETLINK_NETFILTER */
	struct topology_cache *topo;    /* the plan, updated incrementally */
	struct plan_rejection *rejections; /* those logged already */
	size_t n_rejections;
	bool applied_once;
	bool dirty;                     /* the last apply failed somewhere */
	struct timespec last_apply;     /* CLOCK_MONOTONIC */
	struct underlay underlay;
	uint32_t mtu;
	unsigned long link_writes;      /* rtnetlink writes made outside rt */
	unsigned long cni_writes;
	struct pending_probe *probes;   /* to send soon (reconcile.c, "probes") */
	size_t n_probes;
	char last_error[sizeof(((struct error *)0)->msg)];
	struct metrics metrics;
	struct http_server *http;
};

/* Loads or creates the private key, picks the WireGuard backend, makes
 * sure the device exists (userspace: waits for its socket) and starts the
 * HTTP endpoint. */
int node_start(struct node_state *s, const struct node_options *o, struct error *err);
/* An agent_reconcile_fn; ctx is the struct node_state. */
int node_reconcile(struct agent *a, const struct cluster *model, void *ctx, struct error *err);
/* Removes what skein put on the node, and the node's annotations. */
int node_clean_up(struct node_state *s, struct agent *a, struct error *err);
void node_state_free(struct node_state *s);

/* Shared with cleanup.c: removes the device's addresses except keep (may be
 * NULL) and link-local ones; adds keep if missing. Writes only what differs. */
int node_sync_device_address(struct node_state *s, int index, const struct cidr *keep,
			     struct error *err);

#endif
