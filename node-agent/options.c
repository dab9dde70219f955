// SPDX-License-Identifier: GPL-2.0-or-later
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "install_cni.h"
#include "version.h"

#define DEFAULT_RESYNC_MS 30000

static const char usage[] =
	"Usage: skein-agent [options]\n"
	"Keeps this node's WireGuard mesh, routes and firewall in line with the cluster.\n"
	"\n"
	"  --kubeconfig FILE     kubeconfig to use (default: $KUBECONFIG, else in-cluster)\n"
	"  --hostname NAME       this node's Node name (default: $NODE_NAME, else the host name)\n"
	"  --model-dump FILE     write the cluster model as JSON to FILE after each change\n"
	"  --resync SECONDS      reconcile at least this often (default 30)\n"
	"  --log-level LEVEL     debug, info, warn or error (default info)\n"
	"  --install-cni DIR     install the CNI plugin into the CNI bin dir DIR and exit\n"
	"  --install-cni-from DIR  the plugin's tree to install (default " CNI_INSTALL_FROM_DEFAULT ")\n"
	"  --version             print the version and exit\n"
	"  --help                print this help and exit\n";

static int set_hostname(struct agent_options *o, const char *name, struct error *err)
{
	if (!name || !*name || strlen(name) > MODEL_NAME_MAX)
		return error_set(err, "--hostname: \"%s\" is not a Node name", name ? name : "");
	snprintf(o->hostname, sizeof(o->hostname), "%s", name);
	return 0;
}

static int default_hostname(struct agent_options *o, struct error *err)
{
	const char *env = getenv("NODE_NAME");
	char host[256];

	if (env && *env)
		return set_hostname(o, env, err);
	if (gethostname(host, sizeof(host)) < 0)
		return error_set(err, "cannot read the host name; pass --hostname");
	host[sizeof(host) - 1] = '\0';
	return set_hostname(o, host, err);
}

static int parse_resync(const char *s, long *ms, struct error *err)
{
	char *end;
	long secs = strtol(s, &end, 10);

	if (!*s || *end || secs < 1 || secs > 86400)
		return error_set(err, "--resync: \"%s\" is not a number of seconds in 1-86400", s);
	*ms = secs * 1000;
	return 0;
}

int agent_options_parse(int argc, char **argv, struct agent_options *o, struct error *err)
{
	enum { OPT_KUBECONFIG = 256, OPT_HOSTNAME, OPT_DUMP, OPT_RESYNC, OPT_LOG, OPT_INSTALL_CNI,
	       OPT_INSTALL_CNI_FROM, OPT_VERSION, OPT_HELP };
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "model-dump", required_argument, NULL, OPT_DUMP },
		{ "resync", required_argument, NULL, OPT_RESYNC },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "install-cni", required_argument, NULL, OPT_INSTALL_CNI },
		{ "install-cni-from", required_argument, NULL, OPT_INSTALL_CNI_FROM },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct option all[sizeof(opts) / sizeof(opts[0]) + NODE_N_OPTIONS];
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = LOG_LVL_INFO;
	o->resync_ms = DEFAULT_RESYNC_MS;
	o->install_cni_from = CNI_INSTALL_FROM_DEFAULT;
	if (node_options_default(&o->node) < 0)
		return error_set(err, "node options: bad defaults");
	/* The node's flags (node_options.h), then ours with the terminator. */
	memcpy(all, node_long_options, sizeof(node_long_options));
	memcpy(all + NODE_N_OPTIONS, opts, sizeof(opts));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", all, NULL)) != -1) {
		if (c >= NODE_OPT_BASE) {
			if (node_option_set(&o->node, c, optarg, err) < 0)
				return -1;
			continue;
		}
		switch (c) {
		case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
		case OPT_HOSTNAME:
			if (set_hostname(o, optarg, err) < 0)
				return -1;
			break;
		case OPT_DUMP: o->model_dump = optarg; break;
		case OPT_INSTALL_CNI: o->install_cni = optarg; break;
		case OPT_INSTALL_CNI_FROM: o->install_cni_from = optarg; break;
		case OPT_RESYNC:
			if (parse_resync(optarg, &o->resync_ms, err) < 0)
				return -1;
			break;
		case OPT_LOG:
			if (log_level_parse(optarg, &o->log_level) < 0)
				return error_set(err, "--log-level: \"%s\" is not debug, info, warn or error", optarg);
			break;
		case OPT_VERSION: printf("skein-agent %s\n", SKEIN_VERSION); return 1;
		case OPT_HELP: fputs(usage, stdout); fputs(node_options_usage, stdout); return 1;
		default:
			return error_set(err, "unknown or incomplete option \"%s\" (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error_set(err, "unexpected argument \"%s\" (see --help)", argv[optind]);
	if (o->node.resync_ms)
		o->resync_ms = o->node.resync_ms;
	return o->hostname[0] ? 0 : default_hostname(o, err);
}
