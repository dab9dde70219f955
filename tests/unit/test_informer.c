// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The informer against a scripted HTTP API (libmicrohttpd on 127.0.0.1):
 * each request must be the next one the script expects, and gets the
 * scripted answer. Covers pagination, the watch, a plain 410 and an ERROR
 * 410 event each followed by a list diffed against the cache, an expired
 * continue token, 429 with Retry-After, an unserved resource, and the
 * bearer token re-read from its file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "informer.h"
#include "kube_model.h"

#define MAX_STEPS 16

/* Script steps leave retry_after out unless they need it. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct step {
	const char *expect; /* "list", "list c1" or "watch 10" */
	unsigned status;
	const char *body;
	const char *retry_after;
};

struct script {
	pthread_mutex_t lock;
	const struct step *steps;
	size_t n, next;
	char seen[MAX_STEPS][64];    /* what each request was */
	char auth[MAX_STEPS][64];    /* its Authorization header */
	char body[MAX_STEPS][256];   /* a PATCH's body and Content-Type */
	char type[MAX_STEPS][64];
	double at[MAX_STEPS];        /* when, in seconds */
};

static struct script script = { .lock = PTHREAD_MUTEX_INITIALIZER };
static char token_path[64];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void describe(struct MHD_Connection *conn, const char *method, const char *url, char out[64])
{
	const char *watch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
	const char *rv = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "resourceVersion");
	const char *cont = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "continue");

	if (strcmp(method, "GET"))
		snprintf(out, 64, "%s %s", method, url);
	else if (watch)
		snprintf(out, 64, "watch %s", rv ? rv : "");
	else
		snprintf(out, 64, cont ? "list %s" : "list", cont);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *data, size_t *size, void **con_cls)
{
	static const struct step exhausted = { "", 500, "{}", NULL };
	const struct step *step = &exhausted;
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	struct MHD_Response *resp;
	enum MHD_Result rc;

	(void)cls; (void)version;
	/* A body arrives over several calls: keep it, answer at the end. */
	if (!*con_cls) {
		*con_cls = calloc(1, 256);
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*size) {
		strncat(*con_cls, data, *size < 255 - strlen(*con_cls) ? *size : 255 - strlen(*con_cls));
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&script.lock);
	if (script.next < MAX_STEPS) {
		const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

		describe(conn, method, url, script.seen[script.next]);
		snprintf(script.auth[script.next], 64, "%s", auth ? auth : "");
		snprintf(script.body[script.next], 256, "%s", (char *)*con_cls);
		snprintf(script.type[script.next], 64, "%s", type ? type : "");
		script.at[script.next] = now_s();
	}
	if (script.next < script.n)
		step = &script.steps[script.next];
	script.next++;
	pthread_mutex_unlock(&script.lock);
	free(*con_cls);
	*con_cls = NULL;
	resp = MHD_create_response_from_buffer(strlen(step->body), (void *)step->body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (step->retry_after)
		MHD_add_response_header(resp, "Retry-After", step->retry_after);
	rc = MHD_queue_response(conn, step->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

struct fixture {
	struct MHD_Daemon *httpd;
	struct kube_client *client;
	struct informer_hub hub;
	struct informer inf;
};

/* Rotated the way the kubelet does it: the new file replaces the old at
 * once, so a reader never sees it half written. */
static void write_token(const char *token)
{
	char tmp[80];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", token_path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(token, f);
	fclose(f);
	assert_int_equal(rename(tmp, token_path), 0);
}

/* Starts the scripted server, a client with a token file, and an informer. */
static void start(struct fixture *fx, const struct step *steps, size_t n)
{
	struct kube_config cfg = { 0 };
	const union MHD_DaemonInfo *info;
	struct error err;
	int fd;

	snprintf(token_path, sizeof(token_path), "/tmp/skein-informer-token-XXXXXX");
	fd = mkstemp(token_path);
	assert_true(fd >= 0);
	close(fd);
	write_token("t1\n");
	pthread_mutex_lock(&script.lock);
	script.steps = steps;
	script.n = n;
	script.next = 0;
	pthread_mutex_unlock(&script.lock);
	fx->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
				     NULL, answer, NULL, MHD_OPTION_END);
	assert_non_null(fx->httpd);
	info = MHD_get_daemon_info(fx->httpd, MHD_DAEMON_INFO_BIND_PORT);
	assert_true(asprintf(&cfg.server, "http://127.0.0.1:%u", info->port) > 0);
	cfg.token_file = strdup(token_path);
	fx->client = kube_client_new(&cfg, &err);
	assert_non_null(fx->client);
	assert_int_equal(informer_hub_init(&fx->hub, &err), 0);
	assert_int_equal(informer_start(&fx->inf, &fx->hub, fx->client, KUBE_NODES_PATH, kube_node_digest, &err), 0);
}

static void stop(struct fixture *fx)
{
	informer_hub_stop(&fx->hub);
	informer_finish(&fx->inf);
	informer_hub_destroy(&fx->hub);
	kube_client_free(fx->client);
	MHD_stop_daemon(fx->httpd);
	unlink(token_path);
}

/* Waits up to 10 s until the script has served n requests. */
static void wait_requests(size_t n)
{
	for (int i = 0; i < 1000; i++) {
		size_t done;

		pthread_mutex_lock(&script.lock);
		done = script.next;
		pthread_mutex_unlock(&script.lock);
		if (done >= n)
			return;
		usleep(10000);
	}
	fail_msg("only %zu of %zu requests came", script.next, n);
}

/* Waits up to 10 s until the informer has listed. */
static void wait_synced(struct fixture *fx)
{
	for (int i = 0; i < 1000; i++) {
		bool synced;

		pthread_mutex_lock(&fx->hub.lock);
		synced = fx->inf.synced;
		pthread_mutex_unlock(&fx->hub.lock);
		if (synced)
			return;
		usleep(10000);
	}
	fail_msg("never synced");
}

static void check_requests(const char *const want[], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(script.seen[i], want[i]))
			fail_msg("request %zu: \"%s\", want \"%s\"", i, script.seen[i], want[i]);
}

/* Under no lock: the test's thread is the only reader left. */
static void check_cache(struct fixture *fx, const char *names)
{
	char got[256] = "";
	const char *key;
	json_t *v;

	pthread_mutex_lock(&fx->hub.lock);
	json_object_foreach(fx->inf.cache, key, v) {
		strcat(got, key);
		strcat(got, " ");
	}
	pthread_mutex_unlock(&fx->hub.lock);
	assert_string_equal(got, names);
}

#define NODE(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv "\"}}"
#define NODE_LABELED(name, rv) \
	"{\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv "\",\"labels\":{\"x\":\"y\"}}}"
#define GONE "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}"

static void test_list_watch_relist(void **state)
{
	static const struct step steps[] = {
		{ "list", 200, "{\"metadata\":{\"continue\":\"c1\",\"resourceVersion\":\"10\"},\"items\":["
			       NODE("n1", "3") "," NODE("n2", "4") "]}" },
		{ "list c1", 200, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" NODE("n3", "5") "]}" },
		{ "watch 10", 200, "{\"type\":\"ADDED\",\"object\":" NODE("n4", "11") "}\n"
				   "{\"type\":\"DELETED\",\"object\":" NODE("n1", "12") "}\n"
				   "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"13\"}}}\n" },
		/* The history is gone: a plain 410, then n3 turns out deleted. */
		{ "watch 13", 410, GONE },
		{ "list", 200, "{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":[" NODE("n2", "4") ","
			       NODE("n4", "11") "]}" },
		/* A change nobody reads, then a 410 ERROR event in the stream. */
		{ "watch 20", 200, "{\"type\":\"MODIFIED\",\"object\":" NODE_LABELED("n2", "21") "}\n"
				   "{\"type\":\"ERROR\",\"object\":" GONE "}\n" },
		{ "list", 200, "{\"metadata\":{\"resourceVersion\":\"30\"},\"items\":[" NODE("n4", "11") "]}" },
	};
	static const char *const want[] = { "list", "list c1", "watch 10", "watch 13", "list", "watch 20", "list" };
	struct fixture fx;
	uint64_t seen = 0;

	(void)state;
	start(&fx, steps, 7);
	wait_requests(8); /* the watch after the last list: that list is applied */
	check_requests(want, 7);
	check_cache(&fx, "n4 ");
	informer_hub_wait(&fx.hub, &seen, 0);
	pthread_mutex_lock(&fx.hub.lock);
	assert_true(fx.inf.synced);
	assert_int_equal(fx.inf.stats.lists, 3);
	assert_int_equal(fx.inf.stats.relists_gone, 2);
	assert_int_equal(fx.inf.stats.events, 3);
	pthread_mutex_unlock(&fx.hub.lock);
	/* first list, n4 added, n1 deleted, relist without n3, relist without
	 * n2; the label-only MODIFIED is not a change. */
	assert_int_equal(seen, 5);
	assert_string_equal(script.auth[6], "Bearer t1");
	stop(&fx);
}

static void test_expired_continue_restarts_list(void **state)
{
	static const struct step steps[] = {
		{ "list", 200, "{\"metadata\":{\"continue\":\"c1\",\"resourceVersion\":\"5\"},\"items\":["
			       NODE("n1", "3") "]}" },
		{ "list c1", 410, GONE },
		{ "list", 200, "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[" NODE("n1", "3") ","
			       NODE("n2", "6") "]}" },
	};
	static const char *const want[] = { "list", "list c1", "list", "watch 7" };
	struct fixture fx;

	(void)state;
	start(&fx, steps, 3); /* then the watch gets the script's 500 */
	wait_requests(5);
	check_requests(want, 4);
	check_cache(&fx, "n1 n2 ");
	stop(&fx);
}

static void test_retry_after_is_honoured(void **state)
{
	static const struct step steps[] = {
		{ "list", 429, "{}", "2" },
		{ "list", 503, "{}", "1" },
		{ "list", 200, "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}" },
	};
	struct fixture fx;

	(void)state;
	start(&fx, steps, 3);
	wait_requests(1);
	write_token("t2\n"); /* rotated while waiting: the retry carries it */
	wait_requests(3);
	wait_synced(&fx);
	assert_string_equal(script.auth[0], "Bearer t1");
	assert_string_equal(script.auth[1], "Bearer t2");
	assert_true(script.at[1] - script.at[0] >= 1.95);
	assert_true(script.at[2] - script.at[1] >= 0.95);
	pthread_mutex_lock(&fx.hub.lock);
	assert_true(fx.inf.synced);
	assert_true(fx.inf.stats.failures >= 2); /* then the watch meets the 500s */
	pthread_mutex_unlock(&fx.hub.lock);
	stop(&fx);
}

/* A resource the API does not serve counts as empty, so the agent still
 * runs without the Peer CRD; stopping does not wait for the next look. */
static void test_unserved_resource_is_empty(void **state)
{
	static const struct step steps[] = { { "list", 404, "{}" } };
	struct fixture fx;
	double t;

	(void)state;
	start(&fx, steps, 1);
	wait_synced(&fx);
	pthread_mutex_lock(&fx.hub.lock);
	assert_int_equal(json_object_size(fx.inf.cache), 0);
	pthread_mutex_unlock(&fx.hub.lock);
	t = now_s();
	stop(&fx);
	assert_true(now_s() - t < 1.0);
}

/* Failures back off with jitter, at most about a second apart, so the agent
 * is back quickly after an outage without hammering the API meanwhile. */
static void test_backoff_is_bounded(void **state)
{
	static const struct step steps[] = {
		{ "list", 500, "{}" }, { "list", 500, "{}" }, { "list", 500, "{}" },
		{ "list", 500, "{}" }, { "list", 500, "{}" }, { "list", 500, "{}" },
		{ "list", 200, "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}" },
	};
	struct fixture fx;

	(void)state;
	start(&fx, steps, 7);
	wait_requests(7);
	for (int i = 1; i < 7; i++) {
		double gap = script.at[i] - script.at[i - 1];

		if (gap < 0.04 || gap > 1.1)
			fail_msg("gap %d: %.3f s", i, gap);
	}
	assert_true(script.at[6] - script.at[5] >= 0.45); /* grown to the cap's half at least */
	stop(&fx);
}

/* Only the annotations whose value differs go out, in one merge patch;
 * when none differs nothing is sent. */
static void test_patch_sends_only_differences(void **state)
{
	static const struct step steps[] = {
		{ "list", 200, "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}" },
		{ "watch 5", 200, "" },
	};
	static const char *const keys[] = { "skein.dev/a", "skein.dev/b", "skein.dev/c", "skein.dev/d" };
	static const char *const values[] = { "same", "new", NULL, NULL };
	json_t *current = json_pack("{s:s,s:s,s:s}", "skein.dev/a", "same", "skein.dev/b", "old",
				    "skein.dev/c", "gone soon");
	struct fixture fx;
	struct error err;
	size_t before;

	(void)state;
	start(&fx, steps, 2);
	wait_requests(2);
	pthread_mutex_lock(&script.lock);
	before = script.next;
	pthread_mutex_unlock(&script.lock);
	assert_int_equal(kube_patch_node_annotations(fx.client, "n 1", current, keys, values, 4, &err), -1);
	assert_non_null(strstr(err.msg, "PATCH node n 1: HTTP 500")); /* the script's answer */
	assert_string_equal(script.seen[before], "PATCH /api/v1/nodes/n 1" /* as decoded by the server */);
	assert_string_equal(script.type[before], "application/merge-patch+json");
	assert_string_equal(script.body[before],
			    "{\"metadata\":{\"annotations\":{\"skein.dev/b\":\"new\",\"skein.dev/c\":null}}}");
	json_object_set_new(current, "skein.dev/b", json_string("new"));
	json_object_del(current, "skein.dev/c");
	assert_int_equal(kube_patch_node_annotations(fx.client, "n 1", current, keys, values, 4, &err), 0);
	usleep(100000);
	pthread_mutex_lock(&script.lock);
	for (size_t i = before + 1; i < script.next && i < MAX_STEPS; i++)
		assert_string_not_equal(script.seen[i], "PATCH /api/v1/nodes/n 1" /* as decoded by the server */);
	pthread_mutex_unlock(&script.lock);
	json_decref(current);
	stop(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_watch_relist),
		cmocka_unit_test(test_expired_continue_restarts_list),
		cmocka_unit_test(test_retry_after_is_honoured),
		cmocka_unit_test(test_unserved_resource_is_empty),
		cmocka_unit_test(test_backoff_is_bounded),
		cmocka_unit_test(test_patch_sends_only_differences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
