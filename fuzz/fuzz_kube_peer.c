// SPDX-License-Identifier: GPL-2.0-or-later
/* A skein.dev Peer object (anyone allowed to create Peers writes it). An
 * object and its digest translate alike, and an accepted peer stays within
 * the model's bounds. */
#include "kube_model.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = json_loadb((const char *)data, size, 0, NULL), *digest;
	struct peer from_obj, from_digest;
	struct error err;
	int rc;

	if (!obj)
		return 0;
	rc = kube_peer_from_json(obj, &from_obj, &err);
	digest = kube_peer_digest(obj);
	if (digest) {
		int rc_digest = kube_peer_from_json(digest, &from_digest, &err);

		FUZZ_CHECK(rc == rc_digest);
		if (rc == 0) {
			json_t *a = kube_peer_to_json(&from_obj), *b = kube_peer_to_json(&from_digest);

			FUZZ_CHECK(a && b && json_equal(a, b));
			json_decref(a);
			json_decref(b);
		}
		json_decref(digest);
	}
	if (rc == 0) {
		FUZZ_CHECK(from_obj.name[0]);
		FUZZ_CHECK(from_obj.n_allowed_ips > 0 && from_obj.n_allowed_ips <= MODEL_MAX_PEER_IPS);
	}
	json_decref(obj);
	return 0;
}
