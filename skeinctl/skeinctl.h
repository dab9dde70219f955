/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * skeinctl's modules. main.c dispatches to one file per command; each
 * command parses its own flags with ctl_parse() (the common ones: the
 * kubeconfig, and skein-agent's node flags so the DaemonSet's arguments can
 * be pasted as they are), loads the model once (cluster.c) and computes
 * topologies with lib/topology.h. The formatters are pure (they write to a
 * FILE) and tested in tests/unit/test_skeinctl*.c; only cluster.c talks to
 * the API, status.c and connect.c to the WireGuard device.
 */
#ifndef SKEIN_SKEINCTL_H
#define SKEIN_SKEINCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "node_options.h"
#include "error.h"
#include "model.h"
#include "topology.h"
#include "wg.h"

#define CTL_MAX_EXTRA_OPTIONS 8

/* Flags every command takes. */
struct ctl {
	const char *kubeconfig;
	struct node_options node;  /* the agent's flags; topology ones matter */
	const char *command;       /* "graph", ... for messages */
};

/* One command's own flag: getopt entry and what to do with it. */
typedef int (*ctl_flag_fn)(void *ctx, int id, const char *arg, struct error *err);

/* Parses argv (argv[0] is the command name) into ctl and, for ids below
 * NODE_OPT_BASE that are not common, calls fn. Positional arguments are
 * left in argv[*first..argc). Returns 1 after printing --help (usage then
 * the node flags), 0, or -1 with err naming the bad flag. */
int ctl_parse(struct ctl *ctl, int argc, char **argv, const struct option *extra, size_t n_extra,
	      ctl_flag_fn fn, void *ctx, const char *usage, int *first, struct error *err);

/* cluster.c: the model from one paginated list of Nodes and Peers (no
 * watch). A cluster without the Peer CRD has no peers. Objects that fail
 * validation are left out with a warning on stderr. */
int ctl_load_cluster(const struct ctl *ctl, struct cluster *out, struct error *err);
/* The index of node or peer `name` in the model, or -1. */
long ctl_find_node(const struct cluster *c, const char *name);
long ctl_find_peer(const struct cluster *c, const char *name);

/*
 * outside.c: the topology as seen from outside the cluster, by external
 * peer `peer` (a Peer of the model, or a stand-in when NULL): the model
 * with that peer replaced by a stand-in node of its own segment, computed
 * as that node. plan->peers are then exactly what the peer must configure:
 * one per segment leader (one per node in cross granularity) with the
 * AllowedIPs every leader gives that segment, and one per other Peer. The
 * stand-in sorts after every real node, so it never takes a leadership or a
 * WireGuard IP a real node would have had. The peer's preshared key is put
 * on every cluster peer. plan->segments lists the stand-in's own segment
 * too, named OUTSIDE_SEGMENT.
 */
#define OUTSIDE_NODE "~outside"
#define OUTSIDE_SEGMENT "node/" OUTSIDE_NODE
int topology_outside(const struct cluster *c, const struct peer *peer,
		     const struct topology_options *opts, struct plan *plan, struct error *err);
/* The outside view's peer that carries node `name`'s traffic when it holds
 * tunnels itself (it leads its segment, or the granularity is cross), else
 * NULL with err naming the node that carries it. */
const struct plan_peer *outside_peer_of_node(const struct cluster *c, const struct plan *outside,
					     const char *name, struct error *err);

/* graph.c: the topology as Graphviz DOT: locations as clusters, leaders
 * bold with "leader" in the label, one edge per tunnel, external peers as
 * ellipses. Computes every node's plan. */
int graph_write(FILE *f, const struct cluster *c, const struct topology_options *opts,
		struct error *err);

/* conf.c: WireGuard configurations. */
struct conf {
	const struct wg_key *private_key; /* NULL: a comment says where it is */
	const char *private_key_hint;     /* e.g. "/var/lib/skein/private.key" */
	struct cidr addresses[MODEL_MAX_PEER_IPS];
	size_t n_addresses;
	uint16_t listen_port;             /* 0: none */
	const struct plan_peer *peers;
	size_t n_peers;
};
/* wg-quick format: [Interface] then one [Peer] per peer, named in a comment. */
void conf_write_wireguard(FILE *f, const struct conf *conf);
/* One [Peer] section, as wg-quick's. */
void conf_write_peer(FILE *f, const struct plan_peer *p);
/* {"interface": {...}, "peers": [...]}; new reference, NULL when out of memory. */
json_t *conf_to_json(const struct conf *conf);
/* The skein.dev/v1alpha1 Peer object that makes a cluster connect to p. */
json_t *peer_object(const char *name, const struct plan_peer *p);
/* A model peer as a plan peer (allowed IPs borrowed from p). */
struct plan_peer plan_peer_of(const struct peer *p);

/* showconf.c: the configuration of external peer p and the outside view
 * it comes from (conf points into plan and p). */
int showconf_peer_conf(const struct cluster *c, const struct peer *p, const struct topology_options *opts,
		       struct plan *plan, struct conf *conf, struct error *err);

/* output.c: JSON (2-space indent) or YAML (block style) of a JSON value. */
enum output_format { OUTPUT_WIREGUARD, OUTPUT_JSON, OUTPUT_YAML };
int output_format_parse(const char *s, enum output_format *out);
int output_write(FILE *f, const json_t *v, enum output_format format, struct error *err);

/* status.c's pure part: `wg show`-like text for dev, each peer named from
 * plan. Returns how many peers the plan expects that have no handshake in
 * the last max_age seconds (or are missing from the device). With
 * hint_probe, a last line suggests --probe when some of those may just be
 * idle: they have an endpoint to dial, and were never sent anything or had
 * a handshake before. */
size_t status_write(FILE *f, const struct wg_device *dev, const struct plan *plan, time_t now,
		    long max_age, bool hint_probe);
/* wg's wording: "1 minute, 2 seconds" (no " ago"); "Now" for 0. */
const char *format_duration(unsigned long long secs, char *buf, size_t len);
/* wg's wording: "512 B", "1.20 KiB", "3.00 MiB". */
const char *format_bytes(uint64_t bytes, char *buf, size_t len);

/* status.c: the WireGuard backend as the agent picks it (--wireguard, --uapi-dir). */
int ctl_backend(const struct ctl *ctl, struct wg_backend *b, struct error *err);

/* The commands: argv[0] is the command's name. Exit statuses. */
int cmd_graph(int argc, char **argv);
int cmd_showconf(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_connect(int argc, char **argv);

#endif
