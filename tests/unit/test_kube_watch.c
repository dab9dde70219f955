// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_watch.h"

#define FIXTURE "tests/fixtures/kind-node.json"
#define MAX_EVENTS 16
#define TRICKY "}{\"\\\\\"[]{"


struct seen {
	int n;
	struct {
		enum kube_event_type type;
		char name[64], rv[32];
		int code;
		size_t images; /* the Node's status.images, to see the object whole */
		size_t big, tricky; /* length of those annotations' values */
	} ev[MAX_EVENTS];
	int stop_after; /* 0: never */
};

static int record(enum kube_event_type type, const json_t *obj, void *ctx)
{
	struct seen *s = ctx;
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *annotations = json_object_get(meta, "annotations");

	assert_true(s->n < MAX_EVENTS);
	s->ev[s->n].type = type;
	snprintf(s->ev[s->n].name, sizeof(s->ev[0].name), "%s",
		 json_string_value(json_object_get(meta, "name")) ?: "");
	snprintf(s->ev[s->n].rv, sizeof(s->ev[0].rv), "%s",
		 json_string_value(json_object_get(meta, "resourceVersion")) ?: "");
	s->ev[s->n].code = kube_status_code(obj);
	s->ev[s->n].images = json_array_size(json_object_get(json_object_get(obj, "status"), "images"));
	s->ev[s->n].big = json_string_length(json_object_get(annotations, "big"));
	s->ev[s->n].tricky = json_string_length(json_object_get(annotations, "skein.dev/tricky"));
	s->n++;
	return s->stop_after && s->n == s->stop_after;
}

static json_t *load_fixture(void)
{
	json_error_t jerr;
	json_t *node = json_load_file(FIXTURE, 0, &jerr);

	if (!node)
		fail_msg("%s: %s", FIXTURE, jerr.text);
	return node;
}

static char *event_text(const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s,s:O}", "type", type, "object", obj);
	char *text = json_dumps(ev, JSON_COMPACT);

	json_decref(ev);
	return text;
}

/* A stream as the API server sends it: one event per line, the real kind
 * Node added, modified (with braces and quotes inside a string), then a
 * bookmark, the deletion and a 410 ERROR. */
static char *build_stream(void)
{
	json_t *node = load_fixture();
	json_t *meta = json_object_get(node, "metadata");
	json_t *bookmark = json_pack("{s:s,s:s,s:{s:s}}", "kind", "Node", "apiVersion", "v1",
				     "metadata", "resourceVersion", "4200");
	json_t *gone = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
				 "metadata", "status", "Failure", "message",
				 "too old resource version: 4127 (4300)", "reason", "Expired", "code", 410);
	char *parts[5], *stream;
	size_t len = 0;

	parts[0] = event_text("ADDED", node);
	json_object_set_new(json_object_get(meta, "annotations"), "skein.dev/tricky",
			    json_string(TRICKY));
	json_object_set_new(meta, "resourceVersion", json_string("4128"));
	parts[1] = event_text("MODIFIED", node);
	parts[2] = event_text("BOOKMARK", bookmark);
	json_object_set_new(meta, "resourceVersion", json_string("4201"));
	parts[3] = event_text("DELETED", node);
	parts[4] = event_text("ERROR", gone);
	for (int i = 0; i < 5; i++)
		len += strlen(parts[i]) + 2;
	stream = calloc(1, len + 1);
	for (int i = 0; i < 5; i++) {
		strcat(stream, parts[i]);
		strcat(stream, i == 2 ? "\r\n" : "\n");
		free(parts[i]);
	}
	json_decref(node);
	json_decref(bookmark);
	json_decref(gone);
	return stream;
}

static void check_events(const struct seen *s)
{
	static const struct { enum kube_event_type type; const char *name, *rv; int code; } want[] = {
		{ KUBE_EVENT_ADDED, "kind-control-plane", "4127", 0 },
		{ KUBE_EVENT_MODIFIED, "kind-control-plane", "4128", 0 },
		{ KUBE_EVENT_BOOKMARK, "", "4200", 0 },
		{ KUBE_EVENT_DELETED, "kind-control-plane", "4201", 0 },
		{ KUBE_EVENT_ERROR, "", "", 410 },
	};

	assert_int_equal(s->n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s->ev[i].type, want[i].type);
		assert_string_equal(s->ev[i].name, want[i].name);
		assert_string_equal(s->ev[i].rv, want[i].rv);
		assert_int_equal(s->ev[i].code, want[i].code);
	}
	/* The whole object came through, strings with braces intact. */
	assert_int_equal(s->ev[0].images, 10);
	assert_int_equal(s->ev[1].images, 10);
	assert_int_equal(s->ev[1].tricky, strlen(TRICKY));
}

static void test_whole_stream(void **state)
{
	struct kube_watch_parser p;
	struct seen s = { 0 };
	char *stream = build_stream();

	(void)state;
	kube_watch_init(&p, 1 << 20, record, &s);
	assert_int_equal(kube_watch_feed(&p, stream, strlen(stream)), 0);
	check_events(&s);
	kube_watch_free(&p);
	free(stream);
}

/* The transport may cut anywhere: every split point gives the same events. */
static void test_split_at_every_byte(void **state)
{
	char *stream = build_stream();
	size_t len = strlen(stream);
	struct kube_watch_parser p;

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct seen s = { 0 };

		kube_watch_init(&p, 1 << 20, record, &s);
		assert_int_equal(kube_watch_feed(&p, stream, cut), 0);
		assert_int_equal(kube_watch_feed(&p, stream + cut, len - cut), 0);
		check_events(&s);
		kube_watch_free(&p);
	}
	free(stream);
}

static void test_one_byte_at_a_time(void **state)
{
	char *stream = build_stream();
	struct kube_watch_parser p;
	struct seen s = { 0 };

	(void)state;
	kube_watch_init(&p, 1 << 20, record, &s);
	for (size_t i = 0; stream[i]; i++)
		assert_int_equal(kube_watch_feed(&p, stream + i, 1), 0);
	check_events(&s);
	kube_watch_free(&p);
	free(stream);
}

/* A Node with a 4 MiB annotation arrives whole through 64 KiB reads. */
static void test_huge_object(void **state)
{
	json_t *node = load_fixture();
	size_t big = 4 << 20;
	char *value = malloc(big + 1), *text;
	struct kube_watch_parser p;
	struct seen s = { 0 };

	(void)state;
	memset(value, 'x', big);
	value[big] = '\0';
	json_object_set_new(json_object_get(json_object_get(node, "metadata"), "annotations"), "big",
			    json_string(value));
	text = event_text("MODIFIED", node);
	kube_watch_init(&p, 8 << 20, record, &s);
	for (size_t off = 0, len = strlen(text); off < len; off += 65536)
		assert_int_equal(kube_watch_feed(&p, text + off, len - off < 65536 ? len - off : 65536), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0].big, big);
	kube_watch_free(&p);
	/* Over the limit: a clear error instead of unbounded memory. */
	s.n = 0;
	kube_watch_init(&p, 1 << 20, record, &s);
	assert_int_equal(kube_watch_feed(&p, text, strlen(text)), -1);
	assert_non_null(strstr(p.err.msg, "larger than"));
	assert_int_equal(s.n, 0);
	kube_watch_free(&p);
	free(text);
	free(value);
	json_decref(node);
}

static void test_callback_stops(void **state)
{
	char *stream = build_stream();
	struct kube_watch_parser p;
	struct seen s = { .stop_after = 2 };

	(void)state;
	kube_watch_init(&p, 1 << 20, record, &s);
	assert_int_equal(kube_watch_feed(&p, stream, strlen(stream)), 1);
	assert_int_equal(s.n, 2);
	kube_watch_free(&p);
	free(stream);
}

static void test_malformed(void **state)
{
	static const struct { const char *in, *why; } bad[] = {
		{ "x{\"type\":\"ADDED\",\"object\":{}}", "unexpected byte" },
		{ "{\"type\":\"ADDED\",\"object\":{}}]", "unexpected byte" },
		{ "{\"type\":\"ADDED\",\"object\":{,}}", "bad JSON" },
		{ "{\"type\":\"RENAMED\",\"object\":{}}", "unknown type" },
		{ "{\"type\":\"ADDED\"}", "no object" },
		{ "{\"type\":\"ADDED\",\"object\":[]}", "no object" },
		{ "{\"object\":{}}", "unknown type" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kube_watch_parser p;
		struct seen s = { 0 };

		kube_watch_init(&p, 1 << 20, record, &s);
		assert_int_equal(kube_watch_feed(&p, bad[i].in, strlen(bad[i].in)), -1);
		if (!strstr(p.err.msg, bad[i].why))
			fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].in, p.err.msg, bad[i].why);
		kube_watch_free(&p);
	}
}

/* After reset a new connection's stream parses from scratch. */
static void test_reset_forgets_partial_event(void **state)
{
	static const char half[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"";
	static const char next[] = "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\n";
	struct kube_watch_parser p;
	struct seen s = { 0 };

	(void)state;
	kube_watch_init(&p, 1 << 20, record, &s);
	assert_int_equal(kube_watch_feed(&p, half, strlen(half)), 0);
	kube_watch_reset(&p);
	assert_int_equal(kube_watch_feed(&p, next, strlen(next)), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ev[0].name, "b");
	kube_watch_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_stream),
		cmocka_unit_test(test_split_at_every_byte),
		cmocka_unit_test(test_one_byte_at_a_time),
		cmocka_unit_test(test_huge_object),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_reset_forgets_partial_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
