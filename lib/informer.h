/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * List-then-watch caches of one Kubernetes resource each, like client-go's
 * informers. Each informer runs a thread that lists (paginated), then
 * watches from the list's resourceVersion with bookmarks; a 410 Gone (ERROR
 * event or plain HTTP 410) makes it list again and replace its cache, so a
 * deletion missed while disconnected still disappears. Failures retry with
 * jittered exponential backoff (at most about a second, so the agent is
 * back within two seconds of the API), longer if Retry-After says so.
 *
 * A cache maps object name -> digest (compact JSON text of the object's
 * digest function). All informers of a hub share one mutex; a change of any
 * digest bumps hub.generation and signals hub.changed, so a single-threaded
 * loop waits for "something relevant changed, or the resync period passed".
 */
#ifndef SKEIN_INFORMER_H
#define SKEIN_INFORMER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "kube.h"

struct informer_hub {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* CLOCK_MONOTONIC */
	uint64_t generation;    /* under lock */
	atomic_bool stopping;
};

/* Reduces an object to what its consumers read (new reference). */
typedef json_t *(*informer_digest_fn)(const json_t *object);

struct informer_stats {
	unsigned long lists, relists_gone, watches, events, failures;
};

struct informer {
	struct informer_hub *hub;
	struct kube_client *client;
	const char *path;         /* collection, e.g. "/api/v1/nodes" */
	informer_digest_fn digest;
	unsigned page_size;       /* list limit */
	/* Under hub->lock: */
	json_t *cache;            /* name -> JSON string (the digest text) */
	bool synced;              /* the first list completed */
	struct informer_stats stats;
	/* Owned by the thread: */
	char *resource_version;
	pthread_t thread;
	bool started;
};

int informer_hub_init(struct informer_hub *hub, struct error *err);
void informer_hub_destroy(struct informer_hub *hub);
/* Asks every informer thread to finish and wakes waiters. Async-signal-unsafe. */
void informer_hub_stop(struct informer_hub *hub);
/* Waits (hub->lock not held) until generation differs from *seen, timeout_ms
 * passes or the hub stops; updates *seen. Returns true if it changed. */
bool informer_hub_wait(struct informer_hub *hub, uint64_t *seen, long timeout_ms);

int informer_start(struct informer *inf, struct informer_hub *hub, struct kube_client *client,
		   const char *path, informer_digest_fn digest, struct error *err);
/* After informer_hub_stop: joins the thread and frees the cache. */
void informer_finish(struct informer *inf);

/* Under hub->lock: the digest of object name, parsed (new reference), or NULL. */
json_t *informer_get(const struct informer *inf, const char *name);

#endif
