// SPDX-License-Identifier: GPL-2.0-or-later
/* A skein.dev Peer object (anyone allowed to create Peers writes it):
 * translated from the object and from its digest alike, and within the
 * model's bounds. */
#include "kube_object.h"

static int from_json(const json_t *obj, void *out, struct error *err)
{
	return kube_peer_from_json(obj, out, err);
}

static json_t *to_json(const void *p)
{
	return kube_peer_to_json(p);
}

static void check(const void *item)
{
	const struct peer *p = item;

	FUZZ_CHECK(p->name[0]);
	FUZZ_CHECK(p->n_allowed_ips > 0 && p->n_allowed_ips <= MODEL_MAX_PEER_IPS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kube_kind peer = { sizeof(struct peer), from_json, kube_peer_digest,
					       to_json, check };

	return fuzz_kube_object(data, size, &peer);
}
