/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The property fuzz_kube_node and fuzz_kube_peer share: caches keep digests
 * instead of objects, so an object and its digest must translate alike
 * (both fail, or both give the same struct); an accepted struct passes the
 * kind's bounds check.
 */
#ifndef SKEIN_FUZZ_KUBE_OBJECT_H
#define SKEIN_FUZZ_KUBE_OBJECT_H

#include "kube_model.h"
#include "fuzz.h"

struct kube_kind {
	size_t size; /* of the model struct */
	int (*from_json)(const json_t *obj, void *out, struct error *err);
	json_t *(*digest)(const json_t *obj);
	json_t *(*to_json)(const void *item);
	void (*check)(const void *item);
};

static inline void fuzz_same_json(const struct kube_kind *k, const void *a, const void *b)
{
	json_t *ja = k->to_json(a), *jb = k->to_json(b);

	FUZZ_CHECK(ja && jb && json_equal(ja, jb));
	json_decref(ja);
	json_decref(jb);
}

static inline int fuzz_kube_object(const uint8_t *data, size_t size, const struct kube_kind *k)
{
	json_t *obj = json_loadb((const char *)data, size, 0, NULL), *digest;
	void *from_obj = malloc(k->size), *from_digest = malloc(k->size);
	struct error err;
	int rc;

	if (!from_obj || !from_digest)
		abort();
	if (obj) {
		rc = k->from_json(obj, from_obj, &err);
		digest = k->digest(obj);
		if (digest) {
			FUZZ_CHECK(k->from_json(digest, from_digest, &err) == rc);
			if (rc == 0)
				fuzz_same_json(k, from_obj, from_digest);
			json_decref(digest);
		}
		if (rc == 0)
			k->check(from_obj);
		json_decref(obj);
	}
	free(from_obj);
	free(from_digest);
	return 0;
}

#endif
