// SPDX-License-Identifier: GPL-2.0-or-later
#include "model.h"

#include <stdlib.h>

void cluster_free(struct cluster *c)
{
	free(c->nodes);
	free(c->peers);
	c->nodes = NULL;
	c->peers = NULL;
	c->n_nodes = c->n_peers = 0;
}
