// SPDX-License-Identifier: GPL-2.0-or-later
/* A watch stream cut at arbitrary points: the first byte picks the chunk
 * size, the rest is the stream. Every event it frames is decoded as the
 * agent would (a Node, a Peer, or a Status for ERROR events). The same
 * stream fed in one piece must frame the same events. */
#include "kube_model.h"
#include "kube_watch.h"
#include "fuzz.h"

#define MAX_EVENT (64 * 1024)

struct seen {
	size_t events;
	unsigned long hash;
};

static int on_event(enum kube_event_type type, const json_t *object, void *ctx)
{
	struct seen *s = ctx;
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n;
	struct peer p;
	struct error err;

	s->events++;
	s->hash = s->hash * 31 + (unsigned long)type;
	if (type == KUBE_EVENT_ERROR) {
		(void)kube_status_code(object);
		return 0;
	}
	(void)kube_node_from_json(object, &n, found, &err);
	(void)kube_peer_from_json(object, &p, &err);
	return 0;
}

static int feed(const char *data, size_t size, size_t chunk, struct seen *s)
{
	struct kube_watch_parser p;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	kube_watch_init(&p, MAX_EVENT, on_event, s);
	for (size_t off = 0; off < size && rc == 0; off += chunk)
		rc = kube_watch_feed(&p, data + off, size - off < chunk ? size - off : chunk);
	if (rc < 0)
		FUZZ_CHECK(p.err.msg[0]);
	kube_watch_free(&p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen chunked, whole;
	size_t chunk;
	int rc;

	if (size < 1)
		return 0;
	chunk = data[0] % 17 + 1;
	rc = feed((const char *)data + 1, size - 1, chunk, &chunked);
	FUZZ_CHECK(feed((const char *)data + 1, size - 1, size, &whole) == rc);
	if (rc == 0)
		FUZZ_CHECK(chunked.events == whole.events && chunked.hash == whole.hash);
	return 0;
}
