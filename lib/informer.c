// SPDX-License-Identifier: GPL-2.0-or-later
#include "informer.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube_watch.h"
#include "log.h"

#define PAGE_SIZE 500
#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 1000
/* Watches end on their own after a random 5-10 minutes, as client-go's do,
 * so that agents' reconnections spread out. */
#define WATCH_MIN_S 300
#define EVENT_MAX ((size_t)64 << 20)
/* A resource the API does not serve (the Peer CRD not installed yet) is
 * taken as empty and looked for again this often. */
#define ABSENT_RETRY_MS 30000

enum watch_result { WATCH_ENDED, WATCH_GONE, WATCH_FAILED };

/* What one watch request's callbacks share. */
struct watch_state {
	struct informer *inf;
	struct kube_watch_parser parser;
	bool gone, failed, got_event;
};

int informer_hub_init(struct informer_hub *hub, struct error *err)
{
	pthread_condattr_t attr;

	memset(hub, 0, sizeof(*hub));
	if (pthread_condattr_init(&attr) || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&hub->changed, &attr) || pthread_mutex_init(&hub->lock, NULL))
		return error_set(err, "informer: cannot create mutex or condition variable");
	pthread_condattr_destroy(&attr);
	atomic_init(&hub->stopping, false);
	return 0;
}

void informer_hub_destroy(struct informer_hub *hub)
{
	pthread_cond_destroy(&hub->changed);
	pthread_mutex_destroy(&hub->lock);
}

void informer_hub_stop(struct informer_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	atomic_store(&hub->stopping, true);
	pthread_cond_broadcast(&hub->changed);
	pthread_mutex_unlock(&hub->lock);
}

static struct timespec deadline_after(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

bool informer_hub_wait(struct informer_hub *hub, uint64_t *seen, long timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms);
	bool changed;

	pthread_mutex_lock(&hub->lock);
	while (hub->generation == *seen && !atomic_load(&hub->stopping))
		if (pthread_cond_timedwait(&hub->changed, &hub->lock, &deadline))
			break;
	changed = hub->generation != *seen;
	*seen = hub->generation;
	pthread_mutex_unlock(&hub->lock);
	return changed;
}

/* Sleeps ms unless the hub stops first. */
static void pause_ms(struct informer_hub *hub, long ms)
{
	struct timespec deadline = deadline_after(ms);

	pthread_mutex_lock(&hub->lock);
	while (!atomic_load(&hub->stopping))
		if (pthread_cond_timedwait(&hub->changed, &hub->lock, &deadline))
			break;
	pthread_mutex_unlock(&hub->lock);
}

/* Under hub->lock. */
static void note_change(struct informer *inf)
{
	inf->hub->generation++;
	pthread_cond_broadcast(&inf->hub->changed);
}

json_t *informer_get(const struct informer *inf, const char *name)
{
	const char *text = json_string_value(json_object_get(inf->cache, name));

	return text ? json_loads(text, 0, NULL) : NULL;
}

static bool watch_should_abort(void *ctx)
{
	struct watch_state *w = ctx;

	return atomic_load(&w->inf->hub->stopping);
}

static const char *object_name(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static void remember_version(struct informer *inf, const json_t *obj)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "resourceVersion"));
	char *copy;

	if (rv && *rv && (copy = strdup(rv))) {
		free(inf->resource_version);
		inf->resource_version = copy;
	}
}

/* The digest of obj as compact, key-sorted text (a JSON string value). */
static json_t *digest_text(struct informer *inf, const json_t *obj)
{
	json_t *d = inf->digest(obj), *s = NULL;
	char *text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (text)
		s = json_string_nocheck(text);
	free(text);
	json_decref(d);
	return s;
}

static int add_page_items(struct informer *inf, const json_t *items, json_t *cache, struct error *err)
{
	const json_t *item;
	size_t i;

	json_array_foreach(items, i, item) {
		const char *name = object_name(item);
		json_t *text;

		if (!name)
			continue;
		if (!(text = digest_text(inf, item)) || json_object_set_new(cache, name, text) < 0)
			return error_set(err, "out of memory");
	}
	return 0;
}

/* One page of a list; *cont becomes the next continue token or NULL. */
static int list_page(struct informer *inf, json_t *cache, char **cont, long *status, unsigned *retry_after,
		     struct error *err)
{
	struct kube_response resp;
	char *path = NULL, *token = *cont ? kube_escape(*cont) : NULL;
	json_error_t jerr;
	json_t *list;
	int rc;

	if ((*cont && !token) ||
	    asprintf(&path, "%s?limit=%u%s%s", inf->path, inf->page_size, token ? "&continue=" : "",
		     token ? token : "") < 0) {
		free(token);
		return error_set(err, "out of memory");
	}
	free(token);
	rc = kube_get(inf->client, path, &resp, err);
	free(path);
	if (rc < 0)
		return -1;
	*status = resp.status;
	*retry_after = resp.retry_after;
	if (resp.status != 200) {
		error_set(err, "list %s: HTTP %ld", inf->path, resp.status);
		kube_response_free(&resp);
		return -1;
	}
	list = json_loadb(resp.body, resp.len, 0, &jerr);
	kube_response_free(&resp);
	if (!list)
		return error_set(err, "list %s: bad JSON: %s", inf->path, jerr.text);
	rc = add_page_items(inf, json_object_get(list, "items"), cache, err);
	free(*cont);
	*cont = NULL;
	const char *next = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
	if (rc == 0 && next && *next && !(*cont = strdup(next)))
		rc = error_set(err, "out of memory");
	if (rc == 0 && !*cont)
		remember_version(inf, list);
	json_decref(list);
	return rc;
}

/* Under hub->lock: replaces the cache, signalling if anything differs. */
static void replace_cache(struct informer *inf, json_t *cache)
{
	inf->stats.lists++;
	if (!inf->synced || !json_equal(cache, inf->cache))
		note_change(inf);
	json_decref(inf->cache);
	inf->cache = cache;
	inf->synced = true;
}

/* Lists every object and replaces the cache with the result: objects that
 * went away while we were not watching disappear here. Returns 1 when the
 * API does not serve the resource (404): the cache is then empty. */
static int list_all(struct informer *inf, unsigned *retry_after, struct error *err)
{
	json_t *cache = json_object();
	char *cont = NULL;
	bool restarted = false;
	long status = 0;

	if (!cache)
		return error_set(err, "out of memory");
	for (;;) {
		if (list_page(inf, cache, &cont, &status, retry_after, err) == 0) {
			if (!cont)
				break;
			continue;
		}
		if (status == 404 && json_object_size(cache) == 0) {
			pthread_mutex_lock(&inf->hub->lock);
			replace_cache(inf, cache);
			pthread_mutex_unlock(&inf->hub->lock);
			return 1;
		}
		/* An expired continue token: start over once, from a fresh snapshot. */
		if (status != 410 || restarted || !cont) {
			free(cont);
			json_decref(cache);
			return -1;
		}
		restarted = true;
		json_object_clear(cache);
		free(cont);
		cont = NULL;
	}
	pthread_mutex_lock(&inf->hub->lock);
	replace_cache(inf, cache);
	pthread_mutex_unlock(&inf->hub->lock);
	/* The pages of a big list are free now: give them back, the agent
	 * should stay small between relists. */
	malloc_trim(0);
	return 0;
}

static void apply_event(struct informer *inf, enum kube_event_type type, const json_t *obj)
{
	const char *name = object_name(obj);
	json_t *text = type == KUBE_EVENT_DELETED ? NULL : digest_text(inf, obj);
	const json_t *old;

	if (!name || (type != KUBE_EVENT_DELETED && !text)) {
		json_decref(text);
		return;
	}
	pthread_mutex_lock(&inf->hub->lock);
	inf->stats.events++;
	old = json_object_get(inf->cache, name);
	if (type == KUBE_EVENT_DELETED) {
		if (old) {
			json_object_del(inf->cache, name);
			note_change(inf);
		}
	} else if (!old || !json_equal(old, text)) {
		json_object_set(inf->cache, name, text);
		note_change(inf);
	}
	pthread_mutex_unlock(&inf->hub->lock);
	json_decref(text);
}

static int on_event(enum kube_event_type type, const json_t *obj, void *ctx)
{
	struct watch_state *w = ctx;

	w->got_event = true;
	if (type == KUBE_EVENT_ERROR) {
		if (kube_status_code(obj) == 410)
			w->gone = true;
		else
			w->failed = true;
		log_warn("watch %s: ERROR event: %.200s", w->inf->path,
			 json_string_value(json_object_get(obj, "message")) ?: "");
		return 1;
	}
	if (type != KUBE_EVENT_BOOKMARK)
		apply_event(w->inf, type, obj);
	remember_version(w->inf, obj);
	return 0;
}


static int on_data(const char *data, size_t len, void *ctx)
{
	struct watch_state *w = ctx;

	return kube_watch_feed(&w->parser, data, len) != 0;
}

static enum watch_result watch(struct informer *inf, unsigned *retry_after, struct error *err)
{
	struct watch_state w = { .inf = inf };
	struct kube_watch_parser *parser = &w.parser;
	struct kube_response resp;
	long timeout = WATCH_MIN_S + random() % WATCH_MIN_S;
	char *path = NULL, *rv = kube_escape(inf->resource_version ? inf->resource_version : "");
	enum watch_result result = WATCH_FAILED;
	time_t started;
	int rc;

	if (!rv || asprintf(&path, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
			    inf->path, rv, timeout) < 0) {
		free(rv);
		error_set(err, "out of memory");
		return WATCH_FAILED;
	}
	free(rv);
	kube_watch_init(parser, EVENT_MAX, on_event, &w);
	pthread_mutex_lock(&inf->hub->lock);
	inf->stats.watches++;
	pthread_mutex_unlock(&inf->hub->lock);
	started = time(NULL);
	rc = kube_stream(inf->client, path, timeout + 30, on_data, watch_should_abort, &w, &resp, err);
	free(path);
	*retry_after = resp.retry_after;
	if (rc < 0)
		goto out;
	if (resp.status == 410 || w.gone) {
		result = WATCH_GONE;
	} else if (resp.status != 200) {
		error_set(err, "watch %s: HTTP %ld", inf->path, resp.status);
	} else if (w.failed || parser->err.msg[0]) {
		error_set(err, "watch %s: %s", inf->path, parser->err.msg[0] ? parser->err.msg : "ERROR event");
	} else {
		/* A stream cut at once, before any event, may be a server
		 * that drops every watch: back off rather than spin. */
		bool quick = !w.got_event && time(NULL) - started < 2;

		result = quick ? WATCH_FAILED : WATCH_ENDED;
		if (quick)
			error_set(err, "watch %s: ended without events", inf->path);
	}
out:
	kube_response_free(&resp);
	kube_watch_free(parser);
	return result;
}

static long backoff_ms(unsigned failures, unsigned retry_after)
{
	long ms = BACKOFF_BASE_MS << (failures > 4 ? 4 : failures);

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	/* Jitter in [ms/2, ms] so that agents do not retry in lockstep. */
	ms = ms / 2 + random() % (ms / 2 + 1);
	return retry_after * 1000L > ms ? retry_after * 1000L : ms;
}

static void *informer_main(void *arg)
{
	struct informer *inf = arg;
	unsigned failures = 0, retry_after = 0;
	bool need_list = true;
	struct error err;

	while (!atomic_load(&inf->hub->stopping)) {
		bool ok;

		err.msg[0] = '\0';
		retry_after = 0;
		if (need_list) {
			int rc = list_all(inf, &retry_after, &err);

			if (rc == 1) {
				log_warn("%s is not served (CRD not installed?); taken as empty", inf->path);
				pause_ms(inf->hub, ABSENT_RETRY_MS);
				continue;
			}
			ok = rc == 0;
			need_list = !ok;
		} else {
			enum watch_result r = watch(inf, &retry_after, &err);

			ok = r != WATCH_FAILED;
			if (r == WATCH_GONE) {
				need_list = true;
				pthread_mutex_lock(&inf->hub->lock);
				inf->stats.relists_gone++;
				pthread_mutex_unlock(&inf->hub->lock);
				log_info("watch %s: resourceVersion %s is gone, listing again", inf->path,
					 inf->resource_version ? inf->resource_version : "");
			}
		}
		if (ok) {
			failures = 0;
			continue;
		}
		if (atomic_load(&inf->hub->stopping))
			break;
		pthread_mutex_lock(&inf->hub->lock);
		inf->stats.failures++;
		pthread_mutex_unlock(&inf->hub->lock);
		if (failures == 0 || failures % 30 == 0)
			log_warn("%s", err.msg);
		else
			log_debug("%s", err.msg);
		pause_ms(inf->hub, backoff_ms(failures++, retry_after));
	}
	return NULL;
}

int informer_start(struct informer *inf, struct informer_hub *hub, struct kube_client *client,
		   const char *path, informer_digest_fn digest, struct error *err)
{
	memset(inf, 0, sizeof(*inf));
	inf->hub = hub;
	inf->client = client;
	inf->path = path;
	inf->digest = digest;
	inf->page_size = PAGE_SIZE;
	if (!(inf->cache = json_object()))
		return error_set(err, "out of memory");
	if (pthread_create(&inf->thread, NULL, informer_main, inf)) {
		json_decref(inf->cache);
		return error_set(err, "informer %s: cannot start thread", path);
	}
	inf->started = true;
	return 0;
}

void informer_finish(struct informer *inf)
{
	if (inf->started)
		pthread_join(inf->thread, NULL);
	inf->started = false;
	json_decref(inf->cache);
	inf->cache = NULL;
	free(inf->resource_version);
	inf->resource_version = NULL;
}
