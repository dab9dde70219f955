// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include "key.h"
#include "keyfile.h"
#include "skeinctl.h"

struct showconf_args {
	enum output_format format;
	bool as_peer;
};

enum { OPT_AS_PEER = 1 };

static int showconf_flag(void *ctx, int id, const char *arg, struct error *err)
{
	struct showconf_args *a = ctx;

	if (id == 'o') {
		if (output_format_parse(arg, &a->format) < 0)
			return error_set(err, "-o: \"%s\" is not wireguard, json or yaml", arg);
		return 0;
	}
	if (id == OPT_AS_PEER) {
		a->as_peer = true;
		return 0;
	}
	return error_set(err, "unknown flag (see skeinctl showconf --help)");
}

static int print_json(const struct showconf_args *a, json_t *v, struct error *err)
{
	int rc = v ? output_write(stdout, v, a->format, err) : error_set(err, "out of memory");

	json_decref(v);
	return rc;
}

static int print_conf(const struct showconf_args *a, const struct conf *conf, struct error *err)
{
	if (a->format == OUTPUT_WIREGUARD) {
		conf_write_wireguard(stdout, conf);
		return 0;
	}
	return print_json(a, conf_to_json(conf), err);
}

/* A cluster's node or peer as one [Peer] section or Peer object. */
static int print_as_peer(const struct showconf_args *a, const char *name, const struct plan_peer *p,
			 struct error *err)
{
	if (a->format == OUTPUT_WIREGUARD) {
		conf_write_peer(stdout, p);
		return 0;
	}
	return print_json(a, peer_object(name, p), err);
}

static int node_conf(const struct ctl *ctl, const struct showconf_args *a, const struct cluster *c,
		     const char *name, struct error *err)
{
	struct plan plan = { 0 };
	struct conf conf = { .listen_port = ctl->node.topo.listen_port };
	char hint[300];
	const struct plan_peer *p;
	int rc;

	if (ctl_find_node(c, name) < 0)
		return error_set(err, "node %s: not found", name);
	if (a->as_peer) {
		if (topology_outside(c, NULL, &ctl->node.topo, &plan, err) < 0)
			return -1;
		p = outside_peer_of_node(c, &plan, name, err);
		rc = p ? print_as_peer(a, name, p, err) : -1;
		plan_free(&plan);
		return rc;
	}
	if (topology_compute(c, name, &ctl->node.topo, &plan, err) < 0)
		return error_prefix(err, "node %s", name);
	snprintf(hint, sizeof(hint), "(node %s's key, in %s/private.key)", name, ctl->node.key_dir);
	conf.private_key_hint = hint;
	if (plan.wireguard_ip.ip.family)
		conf.addresses[conf.n_addresses++] = plan.wireguard_ip;
	conf.peers = plan.peers;
	conf.n_peers = plan.n_peers;
	if (!plan.n_peers)
		fprintf(stderr, "skeinctl: node %s holds no tunnels (its location's leader does)\n", name);
	rc = print_conf(a, &conf, err);
	plan_free(&plan);
	return rc;
}

/* What the external peer puts on its own device: its host addresses. */
static void peer_addresses(const struct peer *p, struct conf *conf)
{
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (p->allowed_ips[i].prefix == ip_family_bits(p->allowed_ips[i].ip.family))
			conf->addresses[conf->n_addresses++] = p->allowed_ips[i];
}

int showconf_peer_conf(const struct cluster *c, const struct peer *p, const struct topology_options *opts,
		       struct plan *plan, struct conf *conf, struct error *err)
{
	memset(conf, 0, sizeof(*conf));
	if (topology_outside(c, p, opts, plan, err) < 0)
		return -1;
	peer_addresses(p, conf);
	conf->listen_port = p->endpoint.host[0] ? p->endpoint.port : 0;
	conf->peers = plan->peers;
	conf->n_peers = plan->n_peers;
	return 0;
}

static int peer_conf(const struct ctl *ctl, const struct showconf_args *a, const struct cluster *c,
		     const char *name, struct error *err)
{
	long i = ctl_find_peer(c, name);
	struct plan plan = { 0 };
	struct plan_peer self;
	struct conf conf;
	int rc;

	if (i < 0)
		return error_set(err, "peer %s: not found (kubectl get peers.skein.dev lists them)", name);
	if (a->as_peer) {
		self = plan_peer_of(&c->peers[i]);
		return print_as_peer(a, name, &self, err);
	}
	if (showconf_peer_conf(c, &c->peers[i], &ctl->node.topo, &plan, &conf, err) < 0)
		return -1;
	conf.private_key_hint = "(the peer's private key)";
	rc = print_conf(a, &conf, err);
	plan_free(&plan);
	return rc;
}

static const char showconf_usage[] =
	"Usage: skeinctl showconf node|peer NAME [options]\n"
	"Prints a WireGuard configuration in wg-quick format:\n"
	"  node NAME   the device node NAME has (its private key stays on the node)\n"
	"  peer NAME   what external peer NAME (a Peer object) applies to reach the cluster:\n"
	"              save it as /etc/wireguard/skein.conf, add PrivateKey, `wg-quick up skein`\n"
	"\n"
	"  --as-peer              print the node (or peer) as a Peer instead: a [Peer]\n"
	"                         section, or with -o json|yaml a skein.dev/v1alpha1 Peer\n"
	"                         object for another cluster (kubectl apply -f -)\n"
	"  -o wireguard|json|yaml output format (default wireguard)\n";

int cmd_showconf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "as-peer", no_argument, NULL, OPT_AS_PEER },
		{ "output", required_argument, NULL, 'o' },
	};
	struct showconf_args a = { .format = OUTPUT_WIREGUARD };
	struct cluster cluster = { 0 };
	struct ctl ctl;
	struct error err;
	int first, rc;

	rc = ctl_parse(&ctl, argc, argv, opts, 2, showconf_flag, &a, showconf_usage, &first, &err);
	if (rc > 0)
		return 0;
	if (rc == 0 && (argc - first != 2 || (strcmp(argv[first], "node") && strcmp(argv[first], "peer"))))
		rc = error_set(&err, "expected \"node NAME\" or \"peer NAME\" (see skeinctl showconf --help)");
	if (rc == 0)
		rc = ctl_load_cluster(&ctl, &cluster, &err);
	if (rc == 0)
		rc = !strcmp(argv[first], "node") ? node_conf(&ctl, &a, &cluster, argv[first + 1], &err)
						  : peer_conf(&ctl, &a, &cluster, argv[first + 1], &err);
	cluster_free(&cluster);
	if (rc < 0) {
		fprintf(stderr, "skeinctl showconf: %s\n", err.msg);
		return 1;
	}
	return 0;
}
