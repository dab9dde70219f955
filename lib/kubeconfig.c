// SPDX-License-Identifier: GPL-2.0-or-later
#include "kubeconfig.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64
#define SMALL_FILE_MAX (1 << 20)

/* YAML to a jansson tree: scalars become strings, the reader of each field
 * decides what a string must look like. */
static json_t *yaml_node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	json_t *out;

	if (!node || depth > YAML_MAX_DEPTH)
		return NULL;
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)node->data.scalar.value, node->data.scalar.length);
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     out && it < node->data.sequence.items.top; it++) {
			json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);

			if (!v || json_array_append_new(out, v) < 0) {
				json_decref(out);
				out = NULL;
			}
		}
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     out && p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);

			if (!k || k->type != YAML_SCALAR_NODE || !v ||
			    json_object_set_new(out, (const char *)k->data.scalar.value, v) < 0) {
				json_decref(v);
				json_decref(out);
				out = NULL;
			}
		}
		return out;
	default:
		return NULL;
	}
}

static int read_small_file(const char *path, char **out, size_t *len, struct error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return error_set(err, "%s: %s", path, strerror(errno));
	buf = malloc(SMALL_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return error_set(err, "%s: out of memory", path);
	}
	n = fread(buf, 1, SMALL_FILE_MAX + 1, f);
	if (ferror(f) || n > SMALL_FILE_MAX) {
		int failed_read = ferror(f);

		fclose(f);
		free(buf);
		return error_set(err, "%s: %s", path, failed_read ? "read error" : "larger than 1 MiB");
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static json_t *parse_yaml(const char *text, size_t len, const char *path, struct error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	json_t *root = NULL;

	if (!yaml_parser_initialize(&parser)) {
		error_set(err, "kubeconfig %s: out of memory", path);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		error_set(err, "kubeconfig %s: line %zu: %s", path,
			  parser.problem_mark.line + 1, parser.problem ? parser.problem : "bad YAML");
		yaml_parser_delete(&parser);
		return NULL;
	}
	if (!yaml_document_get_root_node(&doc))
		error_set(err, "kubeconfig %s: empty", path);
	else if (!(root = yaml_node_to_json(&doc, yaml_document_get_root_node(&doc), 0)))
		error_set(err, "kubeconfig %s: unsupported YAML (non-scalar keys or nesting deeper than %d)",
			  path, YAML_MAX_DEPTH);
	else if (!json_is_object(root)) {
		error_set(err, "kubeconfig %s: not a mapping", path);
		json_decref(root);
		root = NULL;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return root;
}

/* An optional string field: *out is NULL when absent. */
static int get_string(const json_t *obj, const char *field, const char **out, struct error *err)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return error_set(err, "%s: not a string", field);
	*out = json_string_value(v);
	return 0;
}

/* Finds the entry named name in a kubeconfig list ("clusters", "users",
 * "contexts") and returns its inner object (entry[inner]). */
static const json_t *find_named(const json_t *root, const char *list, const char *inner,
				const char *name, struct error *err)
{
	const json_t *arr = json_object_get(root, list), *entry, *obj;
	size_t i;

	if (!arr) {
		error_set(err, "%s: missing", list);
		return NULL;
	}
	if (!json_is_array(arr)) {
		error_set(err, "%s: not a list", list);
		return NULL;
	}
	json_array_foreach(arr, i, entry) {
		const json_t *n = json_object_get(entry, "name");

		if (!json_is_string(n) || strcmp(json_string_value(n), name) != 0)
			continue;
		obj = json_object_get(entry, inner);
		if (!json_is_object(obj)) {
			error_set(err, "%s[%zu] \"%s\": %s: missing or not a mapping", list, i, name, inner);
			return NULL;
		}
		return obj;
	}
	error_set(err, "%s: no entry named \"%s\"", list, name);
	return NULL;
}

static int set_copy(char **dst, const char *src, struct error *err)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : error_set(err, "out of memory");
}

/* Relative paths in a kubeconfig are relative to the file's directory. */
static int set_path(char **dst, const char *dir, const char *field, const char *src, struct error *err)
{
	if (!src)
		return 0;
	if (!*src)
		return error_set(err, "%s: empty path", field);
	if (src[0] == '/' || !dir)
		return set_copy(dst, src, err);
	if (asprintf(dst, "%s/%s", dir, src) < 0) {
		*dst = NULL;
		return error_set(err, "out of memory");
	}
	return 0;
}

static int set_base64(char **dst, const char *field, const char *src, struct error *err)
{
	size_t max, len = 0;
	char *buf;

	if (!src)
		return 0;
	max = strlen(src) / 4 * 3 + 3;
	buf = malloc(max + 1);
	if (!buf)
		return error_set(err, "out of memory");
	if (sodium_init() < 0 ||
	    sodium_base642bin((unsigned char *)buf, max, src, strlen(src), " \t\r\n", &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) < 0 || len == 0) {
		free(buf);
		return error_set(err, "%s: not valid base64", field);
	}
	buf[len] = '\0';
	*dst = buf;
	return 0;
}

/* A field given both as a path and as inline data is ambiguous. */
static int set_file_or_data(char **file, char **pem, const json_t *obj, const char *dir,
			    const char *field, struct error *err)
{
	char data_field[64];
	const char *path, *data;

	snprintf(data_field, sizeof(data_field), "%s-data", field);
	if (get_string(obj, field, &path, err) < 0 || get_string(obj, data_field, &data, err) < 0)
		return -1;
	if (path && data)
		return error_set(err, "both %s and %s are set", field, data_field);
	return set_path(file, dir, field, path, err) < 0 ? -1 : set_base64(pem, data_field, data, err);
}

static int read_cluster(const json_t *cl, const char *dir, struct kube_config *out, struct error *err)
{
	const char *server, *insecure;
	size_t len;

	if (get_string(cl, "server", &server, err) < 0)
		return -1;
	if (!server || !*server)
		return error_set(err, "server: missing");
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return error_set(err, "server: \"%s\" is not an http(s) URL", server);
	if (set_copy(&out->server, server, err) < 0)
		return -1;
	len = strlen(out->server);
	while (len > 0 && out->server[len - 1] == '/')
		out->server[--len] = '\0';
	if (get_string(cl, "insecure-skip-tls-verify", &insecure, err) < 0)
		return -1;
	if (insecure && strcmp(insecure, "true") && strcmp(insecure, "false"))
		return error_set(err, "insecure-skip-tls-verify: \"%s\" is not true or false", insecure);
	out->insecure = insecure && !strcmp(insecure, "true");
	return set_file_or_data(&out->ca_file, &out->ca_pem, cl, dir, "certificate-authority", err);
}

static int read_user(const json_t *user, const char *dir, struct kube_config *out, struct error *err)
{
	const char *token, *token_file;

	if (json_object_get(user, "exec") || json_object_get(user, "auth-provider"))
		return error_set(err, "exec and auth-provider credential plugins are not supported");
	if (get_string(user, "token", &token, err) < 0 || get_string(user, "tokenFile", &token_file, err) < 0)
		return -1;
	if (set_copy(&out->token, token, err) < 0 ||
	    set_path(&out->token_file, dir, "tokenFile", token_file, err) < 0 ||
	    set_file_or_data(&out->cert_file, &out->cert_pem, user, dir, "client-certificate", err) < 0 ||
	    set_file_or_data(&out->key_file, &out->key_pem, user, dir, "client-key", err) < 0)
		return -1;
	if (!(out->cert_file || out->cert_pem) != !(out->key_file || out->key_pem))
		return error_set(err, "a client certificate needs a client key and the other way round");
	return 0;
}

static int read_context(const json_t *root, const char *dir, struct kube_config *out, struct error *err)
{
	const char *current, *cluster_name, *user_name, *ns;
	const json_t *ctx, *cluster, *user;

	if (get_string(root, "current-context", &current, err) < 0)
		return -1;
	if (!current || !*current)
		return error_set(err, "current-context: missing");
	if (!(ctx = find_named(root, "contexts", "context", current, err)))
		return error_prefix(err, "context \"%s\"", current);
	if (get_string(ctx, "cluster", &cluster_name, err) < 0 || get_string(ctx, "user", &user_name, err) < 0 ||
	    get_string(ctx, "namespace", &ns, err) < 0)
		return error_prefix(err, "context \"%s\"", current);
	if (!cluster_name)
		return error_set(err, "context \"%s\": cluster: missing", current);
	if (!(cluster = find_named(root, "clusters", "cluster", cluster_name, err)) ||
	    read_cluster(cluster, dir, out, err) < 0)
		return error_prefix(err, "context \"%s\": cluster \"%s\"", current, cluster_name);
	/* A context without a user is anonymous access. */
	if (user_name && (!(user = find_named(root, "users", "user", user_name, err)) ||
			  read_user(user, dir, out, err) < 0))
		return error_prefix(err, "context \"%s\": user \"%s\"", current, user_name);
	return set_copy(&out->namespace, ns ? ns : "default", err);
}

int kube_config_from_file(const char *path, struct kube_config *out, struct error *err)
{
	char *text, *dir, *slash;
	json_t *root;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (read_small_file(path, &text, &len, err) < 0)
		return error_prefix(err, "kubeconfig");
	root = parse_yaml(text, len, path, err);
	free(text);
	if (!root)
		return -1;
	dir = strdup(path);
	if (!dir) {
		json_decref(root);
		return error_set(err, "out of memory");
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strcpy(dir, ".");
	rc = read_context(root, dir, out, err);
	free(dir);
	json_decref(root);
	if (rc < 0) {
		kube_config_free(out);
		return error_prefix(err, "kubeconfig %s", path);
	}
	return 0;
}

static int read_trimmed(const char *path, char **out, struct error *err)
{
	size_t len;

	if (read_small_file(path, out, &len, err) < 0)
		return -1;
	while (len > 0 && strchr(" \t\r\n", (*out)[len - 1]))
		(*out)[--len] = '\0';
	if (len == 0) {
		free(*out);
		*out = NULL;
		return error_set(err, "%s: empty", path);
	}
	return 0;
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config *out, struct error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *ns_path = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!host || !*host || !port || !*port)
		return error_set(err, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
				 "are not set (not in a pod? use --kubeconfig)");
	rc = asprintf(&out->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	if (rc < 0 || asprintf(&out->ca_file, "%s/ca.crt", sa_dir) < 0 ||
	    asprintf(&out->token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&ns_path, "%s/namespace", sa_dir) < 0) {
		kube_config_free(out);
		return error_set(err, "out of memory");
	}
	rc = read_trimmed(ns_path, &out->namespace, err);
	free(ns_path);
	if (rc < 0) {
		kube_config_free(out);
		return error_prefix(err, "in-cluster");
	}
	return 0;
}

int kube_config_load(const char *path, struct kube_config *out, struct error *err)
{
	const char *env = getenv("KUBECONFIG");
	char *first;
	int rc;

	if (path && *path)
		return kube_config_from_file(path, out, err);
	if (!env || !*env)
		return kube_config_in_cluster(KUBE_SA_DIR, out, err);
	/* $KUBECONFIG is a list; skein reads its first file, not a merge. */
	first = strndup(env, strcspn(env, ":"));
	if (!first)
		return error_set(err, "out of memory");
	rc = kube_config_from_file(first, out, err);
	free(first);
	return rc;
}

int kube_config_token(const struct kube_config *c, char **out, struct error *err)
{
	*out = NULL;
	if (c->token_file)
		return read_trimmed(c->token_file, out, err) < 0 ? error_prefix(err, "token") : 0;
	if (c->token && !(*out = strdup(c->token)))
		return error_set(err, "out of memory");
	return 0;
}

void kube_config_free(struct kube_config *c)
{
	char **fields[] = { &c->server, &c->ca_file, &c->ca_pem, &c->cert_file, &c->cert_pem,
			    &c->key_file, &c->key_pem, &c->token, &c->token_file, &c->namespace };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
}
