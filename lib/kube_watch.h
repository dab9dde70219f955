/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An incremental parser for a Kubernetes watch stream: a sequence of JSON
 * objects {"type": ..., "object": {...}}, cut anywhere by the transport.
 * Bytes go in as they arrive; each complete event comes out once, through
 * a callback. Objects are framed by tracking brace depth outside strings,
 * so the scan is linear in the input whatever the read sizes.
 */
#ifndef SKEIN_KUBE_WATCH_H
#define SKEIN_KUBE_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK,
	KUBE_EVENT_ERROR, /* object is a Status; see kube_status_code() */
};

/* object is borrowed for the duration of the call. Returns non-zero to stop. */
typedef int (*kube_event_fn)(enum kube_event_type type, const json_t *object, void *ctx);

struct kube_watch_parser {
	char *buf;     /* the event being framed */
	size_t len, cap, max;
	int depth;
	bool in_string, escaped;
	kube_event_fn fn;
	void *ctx;
	struct error err; /* why feed failed */
};

/* max_event bounds one event's size (a huge Node is a few hundred KiB). */
void kube_watch_init(struct kube_watch_parser *p, size_t max_event, kube_event_fn fn, void *ctx);
/* 0 on success; 1 when the callback asked to stop; -1 on malformed input
 * (p->err says why); the parser must then be reset before reuse. */
int kube_watch_feed(struct kube_watch_parser *p, const char *data, size_t len);
/* Forgets a partial event (a new connection starts a new stream). */
void kube_watch_reset(struct kube_watch_parser *p);
void kube_watch_free(struct kube_watch_parser *p);

/* The HTTP code in a Status object ("code"), or 0. */
int kube_status_code(const json_t *status);

#endif
