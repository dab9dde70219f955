// SPDX-License-Identifier: GPL-2.0-or-later
/* A Node object as the API server (or anyone who may patch Nodes) sends
 * it. Caches keep digests instead of objects, so an object and its digest
 * must translate alike: both fail, or both give the same node. */
#include "kube_model.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = json_loadb((const char *)data, size, 0, NULL), *digest;
	struct node from_obj, from_digest;
	struct error err;
	int rc;

	if (!obj)
		return 0;
	rc = kube_node_from_json(obj, &from_obj, &err);
	digest = kube_node_digest(obj);
	if (digest) {
		int rc_digest = kube_node_from_json(digest, &from_digest, &err);

		FUZZ_CHECK(rc == rc_digest);
		if (rc == 0) {
			json_t *a = kube_node_to_json(&from_obj), *b = kube_node_to_json(&from_digest);

			FUZZ_CHECK(a && b && json_equal(a, b));
			json_decref(a);
			json_decref(b);
		}
		json_decref(digest);
	}
	if (rc == 0) {
		FUZZ_CHECK(from_obj.name[0]);
		FUZZ_CHECK(from_obj.n_pod_cidrs <= MODEL_MAX_POD_CIDRS);
		FUZZ_CHECK(from_obj.n_allowed_location_ips <= MODEL_MAX_LOCATION_IPS);
		FUZZ_CHECK(from_obj.n_discovered <= MODEL_MAX_DISCOVERED);
	}
	json_decref(obj);
	return 0;
}
