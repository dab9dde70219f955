/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The flags that say how a node is programmed (topology, WireGuard,
 * MTU, files, clean-up, HTTP). options.c merges node_long_options into its
 * getopt table and hands every option whose id is >= NODE_OPT_BASE to
 * node_option_set(). Parsing is strict: a bad value is an error naming the
 * flag and the value. docs/agent.md lists every flag with its default.
 */
#ifndef SKEIN_NODE_OPTIONS_H
#define SKEIN_NODE_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "topology.h"

#define NODE_OPT_BASE 0x1000
#define NODE_N_OPTIONS 16
#define NODE_DEFAULT_LISTEN ":1107"
#define NODE_DEFAULT_KEY_DIR "/var/lib/skein"
#define NODE_DEFAULT_UAPI_DIR "/var/run/wireguard"

enum wg_mode { WG_MODE_AUTO, WG_MODE_KERNEL, WG_MODE_USERSPACE };

/* Where /healthz and /metrics listen: any address when !has_ip. */
struct listen_addr {
	bool enabled;
	bool has_ip;
	struct ip_addr ip;
	uint16_t port;
};

struct node_options {
	struct topology_options topo;   /* granularity, subnet, services, port, ifname */
	uint32_t mtu;                   /* 0: auto (underlay MTU minus 80) */
	enum wg_mode wireguard;
	const char *uapi_dir;
	const char *key_dir;
	const char *cni_conf;
	const char *cni_version;        /* the config list's cniVersion */
	bool clean_up;
	struct listen_addr listen;
	struct cidr internal_ip;        /* family 0: detect */
	long resync_ms;                 /* 0: not given (the agent's default) */
};

/* getopt_long entries, NODE_N_OPTIONS of them, with ids NODE_OPT_BASE + i. */
extern const struct option node_long_options[NODE_N_OPTIONS];
extern const char node_options_usage[];

int node_options_default(struct node_options *o);
int node_option_set(struct node_options *o, int id, const char *arg, struct error *err);

/* Pure parsers, exposed for the tests. */
int listen_addr_parse(const char *s, struct listen_addr *out);
/* "30s", "500ms", "2m", "1h"; between 100 ms and 24 h. */
int duration_parse_ms(const char *s, long *ms);

#endif
