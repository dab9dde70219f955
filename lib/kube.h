/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A Kubernetes API client over libcurl: GET, streaming GET (watches) and
 * merge-PATCH, with the bearer token, TLS settings, connect and request
 * timeouts, and a low-speed limit so a dead connection ends the request.
 * One client is shared by every thread; connections are reused.
 * A non-2xx status is not an error of these functions: callers look at
 * resp->status (and resp->retry_after for 429/5xx).
 */
#ifndef SKEIN_KUBE_H
#define SKEIN_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "kubeconfig.h"

struct kube_client;

struct kube_response {
	long status;
	unsigned retry_after; /* seconds from Retry-After; 0 when absent */
	char *body;           /* NUL-terminated; for streams only when not 200 */
	size_t len;
};

/* Called with each piece of a streamed body; returns non-zero to stop. */
typedef int (*kube_stream_fn)(const char *data, size_t len, void *ctx);
/* Polled about once a second during a request; returns true to abort it. */
typedef bool (*kube_abort_fn)(void *ctx);

/* Takes ownership of cfg's strings (cfg is emptied). */
struct kube_client *kube_client_new(struct kube_config *cfg, struct error *err);
void kube_client_free(struct kube_client *c);
const struct kube_config *kube_client_config(const struct kube_client *c);

/* path is absolute ("/api/v1/nodes?limit=500"). */
int kube_get(struct kube_client *c, const char *path, struct kube_response *resp, struct error *err);
/* A streamed GET that may last up to max_seconds; stops early when fn
 * returns non-zero or should_abort returns true. */
int kube_stream(struct kube_client *c, const char *path, long max_seconds, kube_stream_fn fn,
		kube_abort_fn should_abort, void *ctx, struct kube_response *resp, struct error *err);
int kube_patch_merge(struct kube_client *c, const char *path, const json_t *patch,
		     struct kube_response *resp, struct error *err);
void kube_response_free(struct kube_response *resp);

/*
 * Sets the annotations keys[i] = values[i] (NULL removes one) on Node node
 * with one merge patch, leaving out those whose value in current (the
 * node's metadata.annotations as last seen; may be NULL) is already right.
 * Sends nothing when none differs. Returns 1 if it patched, 0 if nothing
 * needed to change, -1 on error (including a non-2xx answer).
 */
int kube_patch_node_annotations(struct kube_client *c, const char *node, const json_t *current,
				const char *const keys[], const char *const values[], size_t n,
				struct error *err);

/* "?a=b&c=..." with each value percent-encoded. */
char *kube_escape(const char *s);

#endif
