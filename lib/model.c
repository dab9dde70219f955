// SPDX-License-Identifier: GPL-2.0-or-later
#include "model.h"

#include <stdlib.h>

void cluster_free(struct cluster *c)
{
	free(c->nodes);
	free(c->peers);
	free(c->discovered);
	c->nodes = NULL;
	c->peers = NULL;
	c->discovered = NULL;
	c->n_nodes = c->n_peers = c->n_discovered = 0;
}

const struct discovered_endpoint *node_discovered(const struct cluster *c, const struct node *n)
{
	return n->n_discovered ? c->discovered + n->first_discovered : NULL;
}
