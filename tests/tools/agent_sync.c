// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * skein-agent's API side alone: the same agent_init()/agent_run() with its
 * informers, model and --model-dump, but instead of programming the node
 * (which would touch the host's network) its reconcile hook only publishes
 * the given annotations on its own Node, through agent_publish_annotations().
 * Tests count the PATCH requests that sends.
 * Usage: agent_sync [KEY=VALUE...] -- AGENT-OPTIONS...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../node-agent/agent.h"

#define MAX_PAIRS 16

struct pairs {
	const char *keys[MAX_PAIRS], *values[MAX_PAIRS];
	size_t n;
};

static int publish(struct agent *a, const struct cluster *model, void *ctx, struct error *err)
{
	struct pairs *p = ctx;
	int rc;

	(void)model;
	rc = agent_publish_annotations(a, p->keys, p->values, p->n, err);
	if (rc > 0)
		log_info("published %zu annotations", p->n);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct agent_options opts;
	struct pairs pairs = { 0 };
	struct agent agent;
	struct error err;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || pairs.n == MAX_PAIRS) {
			fprintf(stderr, "usage: agent_sync [KEY=VALUE...] -- AGENT-OPTIONS...\n");
			return 2;
		}
		*eq = '\0';
		pairs.keys[pairs.n] = argv[i];
		pairs.values[pairs.n++] = eq + 1;
	}
	if (i == argc) {
		fprintf(stderr, "agent_sync: missing --\n");
		return 2;
	}
	argv[i] = argv[0];
	if (agent_options_parse(argc - i, argv + i, &opts, &err) != 0) {
		fprintf(stderr, "agent_sync: %s\n", err.msg);
		return 2;
	}
	log_init("agent_sync", opts.log_level);
	if (agent_init(&agent, &opts, &err) < 0) {
		log_error("%s", err.msg);
		agent_free(&agent);
		return 1;
	}
	if (pairs.n > 0) {
		agent.reconcile = publish;
		agent.reconcile_ctx = &pairs;
	}
	agent_run(&agent); /* until SIGTERM ends the process */
	agent_free(&agent);
	return 0;
}
