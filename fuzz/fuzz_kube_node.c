// SPDX-License-Identifier: GPL-2.0-or-later
/* A Node object as the API server (or anyone who may patch Nodes) sends
 * it: translated from the object and from its digest alike, and within the
 * model's bounds. */
#include "kube_object.h"

/* A node with its discovered endpoints beside it, as the model keeps them. */
struct node_with_endpoints {
	struct node n;
	struct discovered_endpoint discovered[MODEL_MAX_DISCOVERED];
};

static int from_json(const json_t *obj, void *out, struct error *err)
{
	struct node_with_endpoints *ne = out;

	return kube_node_from_json(obj, &ne->n, ne->discovered, err);
}

static json_t *to_json(const void *item)
{
	const struct node_with_endpoints *ne = item;

	return kube_node_to_json(&ne->n, ne->discovered);
}

static void check(const void *item)
{
	const struct node *n = &((const struct node_with_endpoints *)item)->n;

	FUZZ_CHECK(n->name[0]);
	FUZZ_CHECK(n->n_pod_cidrs <= MODEL_MAX_POD_CIDRS);
	FUZZ_CHECK(n->n_allowed_location_ips <= MODEL_MAX_LOCATION_IPS);
	FUZZ_CHECK(n->first_discovered == 0 && n->n_discovered <= MODEL_MAX_DISCOVERED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kube_kind node = { sizeof(struct node_with_endpoints), from_json,
					       kube_node_digest, to_json, check };

	return fuzz_kube_object(data, size, &node);
}
