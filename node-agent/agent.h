/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * skein-agent's core: informers for Nodes and Peers feed a cluster model
 * (struct cluster) that one thread rebuilds whenever a relevant field
 * changes, then hands to the reconcile hook; the hook also runs every
 * resync period so drift on the node gets repaired. The agent writes to the
 * API only through agent_publish_annotations(), and only what differs.
 */
#ifndef SKEIN_AGENT_H
#define SKEIN_AGENT_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "informer.h"
#include "kube.h"
#include "log.h"
#include "model.h"
#include "node_options.h"

struct agent_options {
	const char *kubeconfig;         /* NULL: $KUBECONFIG, else in-cluster */
	char hostname[MODEL_NAME_MAX + 1];
	const char *model_dump;         /* write the model as JSON here on change */
	enum log_level log_level;
	long resync_ms;
	const char *install_cni;        /* --install-cni: install the plugin here, exit */
	const char *install_cni_from;   /* the tree it is copied from */
	struct node_options node;       /* how the node is programmed (reconcile.h) */
};

struct agent;
/* Makes the node match model. Returns -1 (err set) to be retried at the
 * next change or resync. It may set a->wake_ms to be called again within
 * that many milliseconds even if nothing changes (once; sooner than the
 * resync period only). */
typedef int (*agent_reconcile_fn)(struct agent *a, const struct cluster *model, void *ctx,
				  struct error *err);

struct agent {
	struct agent_options opts;
	struct kube_client *client;
	struct informer_hub hub;
	struct informer nodes, peers;
	struct cluster model;
	json_t *rejected;               /* "node/NAME" -> why it is left out */
	unsigned long rejected_total;   /* validation failures logged */
	unsigned long patches;          /* PATCH requests sent */
	json_t *published;              /* annotation -> [value we patched, expiry] */
	json_t *built_nodes, *built_peers; /* the caches the model was built from */
	agent_reconcile_fn reconcile;
	void *reconcile_ctx;
	long wake_ms;                   /* set by reconcile, see agent_reconcile_fn */
};

/* Returns 0, or 1 when --help or --version was printed, or -1. */
int agent_options_parse(int argc, char **argv, struct agent_options *o, struct error *err);
/* Connects the client and starts the informers. */
int agent_init(struct agent *a, const struct agent_options *o, struct error *err);
/* Runs until agent_stop(); returns 0 then. */
int agent_run(struct agent *a);
void agent_stop(struct agent *a);
void agent_free(struct agent *a);

/* Sets annotations on the agent's own Node (values[i] NULL removes keys[i]),
 * sending one merge patch with only the values that differ from what the
 * agent last saw or last wrote. Returns 1 if it patched, 0 if not, -1. */
int agent_publish_annotations(struct agent *a, const char *const keys[], const char *const values[],
			      size_t n, struct error *err);

#endif
