// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "kube_model.h"
#include "kubeconfig.h"
#include "skeinctl.h"

#define PAGE_SIZE 500

typedef json_t *(*digest_fn)(const json_t *object);

/* Adds each item's digest text to digests (name -> text). */
static int add_digests(const json_t *items, digest_fn digest, json_t *digests, struct error *err)
{
	size_t i;
	json_t *item;

	json_array_foreach(items, i, item) {
		json_t *d = digest(item);
		const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
		char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
		int rc = text && name ? json_object_set_new(digests, name, json_string(text)) : -1;

		free(text);
		json_decref(d);
		if (rc < 0)
			return error_set(err, "list item %zu: no name, or out of memory", i);
	}
	return 0;
}

/* One page; sets *next to the continue token (heap) or NULL. 404 sets
 * *missing. */
static int list_page(struct kube_client *client, const char *path, const char *cont, digest_fn digest,
		     json_t *digests, char **next, bool *missing, struct error *err)
{
	struct kube_response resp = { 0 };
	char url[1024], *esc = cont ? kube_escape(cont) : NULL;
	json_t *list = NULL;
	const char *token;
	json_error_t jerr;
	int rc = -1;

	*next = NULL;
	if (cont && !esc)
		return error_set(err, "out of memory");
	rc = snprintf(url, sizeof(url), "%s?limit=%d%s%s", path, PAGE_SIZE, esc ? "&continue=" : "",
		      esc ? esc : "");
	free(esc);
	if (rc < 0 || (size_t)rc >= sizeof(url))
		return error_set(err, "GET %s: continue token too long", path);
	rc = -1;
	if (kube_get(client, url, &resp, err) < 0)
		return error_prefix(err, "GET %s", path);
	if (resp.status == 404) {
		*missing = true;
		rc = 0;
	} else if (resp.status != 200) {
		error_set(err, "GET %s: HTTP %ld: %.200s", path, resp.status, resp.body ? resp.body : "");
	} else if (!(list = json_loadb(resp.body, resp.len, 0, &jerr))) {
		error_set(err, "GET %s: bad JSON: %s", path, jerr.text);
	} else if (add_digests(json_object_get(list, "items"), digest, digests, err) < 0) {
		error_prefix(err, "GET %s", path);
	} else {
		token = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
		*next = token && *token ? strdup(token) : NULL;
		rc = token && *token && !*next ? error_set(err, "out of memory") : 0;
	}
	json_decref(list);
	kube_response_free(&resp);
	return rc;
}

static int list_all(struct kube_client *client, const char *path, digest_fn digest, json_t *digests,
		    bool *missing, struct error *err)
{
	char *cont = NULL, *next;

	*missing = false;
	do {
		int rc = list_page(client, path, cont, digest, digests, &next, missing, err);

		free(cont);
		if (rc < 0)
			return -1;
		cont = next;
	} while (cont);
	return 0;
}

static void warn_rejected(const json_t *rejected)
{
	const char *key;
	json_t *msg;

	json_object_foreach((json_t *)rejected, key, msg)
		fprintf(stderr, "skeinctl: warning: left out: %s\n", json_string_value(msg));
}

static int build(struct kube_client *client, struct cluster *out, struct error *err)
{
	json_t *nodes = json_object(), *peers = json_object(), *rejected = json_object();
	bool missing;
	int rc = -1;

	if (!nodes || !peers || !rejected)
		error_set(err, "out of memory");
	else if (list_all(client, KUBE_NODES_PATH, kube_node_digest, nodes, &missing, err) < 0)
		;
	else if (missing)
		error_set(err, "GET %s: not found (is the kubeconfig's server a Kubernetes API?)", KUBE_NODES_PATH);
	else if (list_all(client, KUBE_PEERS_PATH, kube_peer_digest, peers, &missing, err) < 0)
		;
	else if ((rc = kube_cluster_build(nodes, peers, out, rejected, err)) == 0)
		warn_rejected(rejected);
	json_decref(nodes);
	json_decref(peers);
	json_decref(rejected);
	return rc;
}

int ctl_load_cluster(const struct ctl *ctl, struct cluster *out, struct error *err)
{
	struct kube_config cfg;
	struct kube_client *client;
	int rc;

	memset(out, 0, sizeof(*out));
	if (kube_config_load(ctl->kubeconfig, &cfg, err) < 0)
		return -1;
	if (!(client = kube_client_new(&cfg, err))) {
		kube_config_free(&cfg);
		return -1;
	}
	rc = build(client, out, err);
	kube_client_free(client);
	return rc;
}

long ctl_find_node(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			return (long)i;
	return -1;
}

long ctl_find_peer(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (!strcmp(c->peers[i].name, name))
			return (long)i;
	return -1;
}
