// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "skeinctl.h"

enum { OPT_KUBECONFIG = 0x100, OPT_HELP };

static const struct option common_options[] = {
	{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
	{ "help", no_argument, NULL, OPT_HELP },
};
#define N_COMMON (sizeof(common_options) / sizeof(common_options[0]))

static const char common_usage[] =
	"  --kubeconfig FILE      kubeconfig to use (default: $KUBECONFIG, else in-cluster)\n"
	"  --help                 print this help and exit\n"
	"\n"
	"The topology flags must match skein-agent's (--mesh-granularity, --subnet,\n"
	"--service-cidr, --port, ...); all of the agent's node flags are accepted, so\n"
	"its DaemonSet arguments can be pasted as they are:\n";

static void print_usage(const char *usage)
{
	fputs(usage, stdout);
	fputs(common_usage, stdout);
	fputs(node_options_usage, stdout);
}

int ctl_parse(struct ctl *ctl, int argc, char **argv, const struct option *extra, size_t n_extra,
	      ctl_flag_fn fn, void *ctx, const char *usage, int *first, struct error *err)
{
	struct option all[NODE_N_OPTIONS + N_COMMON + CTL_MAX_EXTRA_OPTIONS + 1];
	int c;

	memset(ctl, 0, sizeof(*ctl));
	ctl->command = argv[0];
	if (n_extra > CTL_MAX_EXTRA_OPTIONS)
		return error_set(err, "%s: too many flags", argv[0]);
	if (node_options_default(&ctl->node) < 0)
		return error_set(err, "node options: bad defaults");
	memcpy(all, node_long_options, sizeof(node_long_options));
	memcpy(all + NODE_N_OPTIONS, common_options, sizeof(common_options));
	memcpy(all + NODE_N_OPTIONS + N_COMMON, extra, n_extra * sizeof(*extra));
	memset(&all[NODE_N_OPTIONS + N_COMMON + n_extra], 0, sizeof(all[0]));
	opterr = 0;
	optind = 1;
	/* "+": stop at the first positional argument is not wanted; flags may
	 * follow names ("showconf node a -o json"), which GNU getopt permutes. */
	while ((c = getopt_long(argc, argv, "o:", all, NULL)) != -1) {
		if (c >= NODE_OPT_BASE) {
			if (node_option_set(&ctl->node, c, optarg, err) < 0)
				return -1;
		} else if (c == OPT_KUBECONFIG) {
			ctl->kubeconfig = optarg;
		} else if (c == OPT_HELP) {
			print_usage(usage);
			return 1;
		} else if (c != '?' && c != ':' && fn) {
			if (fn(ctx, c, optarg, err) < 0)
				return -1;
		} else {
			return error_set(err, "unknown or incomplete flag \"%s\" (see skeinctl %s --help)",
					 argv[optind - 1], argv[0]);
		}
	}
	*first = optind;
	return 0;
}
