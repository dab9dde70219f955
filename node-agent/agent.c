// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_model.h"

/* How long a value the agent wrote is assumed until the watch shows it. */
#define PUBLISHED_TTL_S 30

int agent_init(struct agent *a, const struct agent_options *o, struct error *err)
{
	struct kube_config cfg;

	memset(a, 0, sizeof(*a));
	a->opts = *o;
	if (!(a->rejected = json_object()) || !(a->published = json_object()))
		return error_set(err, "out of memory");
	if (kube_config_load(o->kubeconfig, &cfg, err) < 0)
		return -1;
	if (!(a->client = kube_client_new(&cfg, err))) {
		kube_config_free(&cfg);
		return -1;
	}
	if (informer_hub_init(&a->hub, err) < 0)
		return -1;
	if (informer_start(&a->nodes, &a->hub, a->client, KUBE_NODES_PATH, kube_node_digest, err) < 0)
		return -1;
	return informer_start(&a->peers, &a->hub, a->client, KUBE_PEERS_PATH, kube_peer_digest, err);
}

void agent_stop(struct agent *a)
{
	informer_hub_stop(&a->hub);
}

void agent_free(struct agent *a)
{
	informer_hub_stop(&a->hub);
	informer_finish(&a->nodes);
	informer_finish(&a->peers);
	informer_hub_destroy(&a->hub);
	kube_client_free(a->client);
	cluster_free(&a->model);
	json_decref(a->rejected);
	json_decref(a->published);
	json_decref(a->built_nodes);
	json_decref(a->built_peers);
	a->client = NULL;
	a->rejected = a->published = a->built_nodes = a->built_peers = NULL;
}

/* One log line per object and reason: a bad value is reported when it
 * appears, not again at every rebuild. */
static void log_new_rejections(struct agent *a, const json_t *now)
{
	const char *key;
	json_t *msg;

	json_object_foreach((json_t *)now, key, msg) {
		if (json_equal(msg, json_object_get(a->rejected, key)))
			continue;
		a->rejected_total++;
		log_warn("left out of the topology: %s", json_string_value(msg));
	}
}

/* Under hub.lock. The old model goes first: with thousands of nodes two
 * models would double the agent's memory. On failure the model is empty
 * and the caller must not use it. */
static int build_model(struct agent *a, struct error *err)
{
	json_t *rejected = json_object();

	cluster_free(&a->model);
	if (!rejected)
		return error_set(err, "out of memory");
	if (kube_cluster_build(a->nodes.cache, a->peers.cache, &a->model, rejected, err) < 0) {
		json_decref(rejected);
		return -1;
	}
	log_new_rejections(a, rejected);
	json_decref(a->rejected);
	a->rejected = rejected;
	return 0;
}

/* The cache's entries as they are now (values shared, not copied). */
static json_t *snapshot(const json_t *cache)
{
	json_t *copy = json_object();

	if (copy && json_object_update(copy, (json_t *)cache) < 0) {
		json_decref(copy);
		copy = NULL;
	}
	return copy;
}

/* Under hub.lock. A change to a few valid nodes is applied in place (a
 * whole rebuild at 5,000 nodes costs ~50 ms); anything else rebuilds. */
static int rebuild_model(struct agent *a, struct error *err)
{
	json_t *nodes = snapshot(a->nodes.cache), *peers = snapshot(a->peers.cache);
	int rc = 1;

	if (!nodes || !peers) {
		rc = error_set(err, "out of memory");
	} else {
		if (a->built_nodes && json_equal(a->built_peers, peers))
			rc = kube_cluster_update_nodes(&a->model, a->built_nodes, nodes);
		if (rc > 0)
			rc = build_model(a, err);
		else if (rc < 0)
			error_set(err, "cluster model: out of memory");
	}
	json_decref(a->built_nodes);
	json_decref(a->built_peers);
	a->built_nodes = rc == 0 ? nodes : NULL;
	a->built_peers = rc == 0 ? peers : NULL;
	if (rc != 0) {
		json_decref(nodes);
		json_decref(peers);
		cluster_free(&a->model);
	}
	return rc;
}

static json_t *stats_to_json(const struct informer_stats *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "lists", (json_int_t)s->lists,
			 "relistsGone", (json_int_t)s->relists_gone, "watches", (json_int_t)s->watches,
			 "events", (json_int_t)s->events, "failures", (json_int_t)s->failures);
}

/* Under hub.lock (the stats live there): everything but the objects. */
static json_t *dump_header(struct agent *a)
{
	return json_pack("{s:s,s:I,s:O,s:I,s:I,s:{s:o,s:o}}", "node", a->opts.hostname,
			 "generation", (json_int_t)a->hub.generation, "rejected", a->rejected,
			 "rejectedTotal", (json_int_t)a->rejected_total,
			 "patches", (json_int_t)a->patches, "informers",
			 "nodes", stats_to_json(&a->nodes.stats), "peers", stats_to_json(&a->peers.stats));
}

static int dump_list(FILE *f, const char *name, const struct cluster *c, size_t n,
		     json_t *(*to_json)(const struct cluster *c, size_t i))
{
	fprintf(f, ",\n\"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		json_t *j = to_json(c, i);
		int rc = j ? json_dumpf(j, f, JSON_COMPACT | JSON_SORT_KEYS) : -1;

		json_decref(j);
		if (rc < 0)
			return -1;
		fputs(i + 1 < n ? ",\n" : "", f);
	}
	fputs("]", f);
	return 0;
}

static json_t *node_json(const struct cluster *c, size_t i)
{
	return kube_node_to_json(&c->nodes[i], node_discovered(c, &c->nodes[i]));
}

static json_t *peer_json(const struct cluster *c, size_t i)
{
	return kube_peer_to_json(&c->peers[i]);
}

/* Object by object, so a dump of thousands of nodes never holds them all
 * as one JSON tree. */
static int write_dump(struct agent *a, FILE *f)
{
	json_t *header;
	char *text;
	int rc;

	pthread_mutex_lock(&a->hub.lock);
	header = dump_header(a);
	pthread_mutex_unlock(&a->hub.lock);
	text = header ? json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(header);
	if (!text)
		return -1;
	text[strlen(text) - 1] = '\0'; /* the closing brace comes last */
	fputs(text, f);
	free(text);
	rc = dump_list(f, "nodes", &a->model, a->model.n_nodes, node_json);
	if (rc == 0)
		rc = dump_list(f, "peers", &a->model, a->model.n_peers, peer_json);
	fputs("}\n", f);
	return rc;
}

/* Readers never see a half-written file: write aside, then rename. */
static void dump_model(struct agent *a)
{
	const char *path = a->opts.model_dump;
	char tmp[4096];
	FILE *f;
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		log_error("model dump %s: path too long", path);
		return;
	}
	if (!(f = fopen(tmp, "w"))) {
		log_error("model dump %s: %s", tmp, strerror(errno));
		return;
	}
	rc = write_dump(a, f);
	if (fclose(f) != 0 || rc < 0 || rename(tmp, path) < 0) {
		log_error("model dump %s: cannot write or rename into place", path);
		unlink(tmp);
	}
}

/* Rebuilds the model if the caches moved: 1 when it did, 0 when nothing
 * changed (or not synced yet), -1 when it failed (no usable model). */
static int refresh_model(struct agent *a, uint64_t *built)
{
	struct error err;
	int rc = 0;

	pthread_mutex_lock(&a->hub.lock);
	if (a->nodes.synced && a->peers.synced && *built != a->hub.generation) {
		rc = rebuild_model(a, &err) < 0 ? -1 : 1;
		if (rc < 0)
			log_error("%s", err.msg);
		else
			*built = a->hub.generation;
	}
	pthread_mutex_unlock(&a->hub.lock);
	return rc;
}

int agent_run(struct agent *a)
{
	uint64_t seen = 0, built = 0;
	bool have_model = false;

	while (!atomic_load(&a->hub.stopping)) {
		long wait_ms = a->wake_ms > 0 && a->wake_ms < a->opts.resync_ms ? a->wake_ms : a->opts.resync_ms;
		struct error err;
		int rc;

		a->wake_ms = 0;
		informer_hub_wait(&a->hub, &seen, wait_ms);
		if (atomic_load(&a->hub.stopping))
			break;
		rc = refresh_model(a, &built);
		if (rc < 0) {
			have_model = false; /* retried at the next change */
			continue;
		}
		if (rc > 0) {
			if (!have_model)
				log_info("synced: %zu nodes, %zu peers", a->model.n_nodes, a->model.n_peers);
			have_model = true;
			if (a->opts.model_dump)
				dump_model(a);
		}
		if (have_model && a->reconcile && a->reconcile(a, &a->model, a->reconcile_ctx, &err) < 0)
			log_error("reconcile: %s", err.msg);
	}
	return 0;
}

/* Seconds on the monotonic clock. */
static json_int_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (json_int_t)ts.tv_sec;
}

/* What the agent believes its node's annotations are: the cache, overlaid
 * with values it wrote that the watch has not brought back yet (so a second
 * call in between does not patch again). An overlay entry goes when the
 * cache confirms it, or after PUBLISHED_TTL_S in case someone overwrote the
 * value before the watch showed ours. */
static json_t *believed_annotations(struct agent *a)
{
	json_t *digest, *current, *entry;
	const char *key;
	void *tmp;

	pthread_mutex_lock(&a->hub.lock);
	digest = informer_get(&a->nodes, a->opts.hostname);
	pthread_mutex_unlock(&a->hub.lock);
	current = json_object_get(json_object_get(digest, "metadata"), "annotations");
	current = json_is_object(current) ? json_deep_copy(current) : json_object();
	json_decref(digest);
	if (!current)
		return NULL;
	json_object_foreach_safe(a->published, tmp, key, entry) {
		json_t *v = json_array_get(entry, 0);
		bool expired = now_s() > json_integer_value(json_array_get(entry, 1));

		if (expired || json_equal(v, json_object_get(current, key)) ||
		    (json_is_null(v) && !json_object_get(current, key)))
			json_object_del(a->published, key);
		else if (json_is_null(v))
			json_object_del(current, key);
		else
			json_object_set(current, key, v);
	}
	return current;
}

int agent_publish_annotations(struct agent *a, const char *const keys[], const char *const values[],
			      size_t n, struct error *err)
{
	json_t *current = believed_annotations(a);
	int rc;

	if (!current)
		return error_set(err, "out of memory");
	rc = kube_patch_node_annotations(a->client, a->opts.hostname, current, keys, values, n, err);
	json_decref(current);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		json_object_set_new(a->published, keys[i],
				    json_pack("[o,I]", values[i] ? json_string(values[i]) : json_null(),
					      now_s() + PUBLISHED_TTL_S));
	pthread_mutex_lock(&a->hub.lock);
	a->patches++;
	pthread_mutex_unlock(&a->hub.lock);
	return 1;
}
