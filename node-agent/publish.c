// SPDX-License-Identifier: GPL-2.0-or-later
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "kube_model.h"

#define ANNOT_FORCE_ENDPOINT "force-endpoint"
#define ANNOT_FORCE_INTERNAL_IP "force-internal-ip"

void annotations_init(struct annotations *a)
{
	memset(a, 0, sizeof(*a));
}

void annotations_free(struct annotations *a)
{
	free(a->discovered);
	annotations_init(a);
}

/* Slot for key; its text buffer is the caller's to fill. */
static char *add(struct annotations *a, const char *key, bool present)
{
	size_t i = a->n++;

	a->keys[i] = key;
	a->values[i] = present ? a->text[i] : NULL;
	return a->text[i];
}

/* skein.dev/NAME, else Kilo's kilo.squat.ai/NAME, as kube_model reads them. */
static const char *annotation(const json_t *node, const char *name)
{
	const json_t *all = json_object_get(json_object_get(node, "metadata"), "annotations");
	char key[64];
	const char *v;

	snprintf(key, sizeof(key), "skein.dev/%s", name);
	if ((v = json_string_value(json_object_get(all, key))))
		return v;
	snprintf(key, sizeof(key), "kilo.squat.ai/%s", name);
	return json_string_value(json_object_get(all, key));
}

bool node_status_address(const json_t *node, const char *type, struct ip_addr *out)
{
	const json_t *list = json_object_get(json_object_get(node, "status"), "addresses"), *item;
	size_t i;

	json_array_foreach(list, i, item) {
		const char *t = json_string_value(json_object_get(item, "type"));
		const char *addr = json_string_value(json_object_get(item, "address"));

		if (t && !strcmp(t, type))
			return addr && ip_parse(addr, out) == 0;
	}
	return false;
}

static bool parse_cidr_or_host(const char *s, struct cidr *out)
{
	return s && (cidr_parse(s, out) == 0 || cidr_parse_host(s, out) == 0);
}

bool node_forced_internal_ip(const json_t *node, struct cidr *out)
{
	return parse_cidr_or_host(annotation(node, ANNOT_FORCE_INTERNAL_IP), out);
}

bool node_internal_ip(const json_t *node, const struct cidr *detected, struct cidr *out)
{
	struct ip_addr ip;

	if (node_forced_internal_ip(node, out))
		return true;
	if (detected->ip.family) {
		*out = *detected;
		return true;
	}
	if (!node_status_address(node, "InternalIP", &ip))
		return false;
	*out = cidr_host(&ip);
	return true;
}

const char *endpoint_format(const char *host, uint16_t port, char buf[PUBLISH_VALUE_MAX])
{
	snprintf(buf, PUBLISH_VALUE_MAX, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	return buf;
}

static int endpoint_value(const json_t *node, const struct cidr *internal, bool has_internal,
			  uint16_t port, char buf[PUBLISH_VALUE_MAX], struct error *err)
{
	const char *forced = annotation(node, ANNOT_FORCE_ENDPOINT);
	char host[INET6_ADDRSTRLEN];
	struct endpoint e;
	struct ip_addr ip;

	if (forced) {
		if (endpoint_parse(forced, &e) < 0)
			return error_set(err, "annotation %s: bad value \"%.80s\"", ANNOT_FORCE_ENDPOINT, forced);
		endpoint_format(e.host, e.port, buf);
	} else if (node_status_address(node, "ExternalIP", &ip)) {
		endpoint_format(ip_format(&ip, host), port, buf);
	} else if (has_internal) {
		endpoint_format(ip_format(&internal->ip, host), port, buf);
	} else {
		return 0;
	}
	return 1;
}

int annotations_identity(struct annotations *a, const json_t *node, const struct wg_key *public_key,
			 uint16_t port, const struct cidr *detected, struct error *err)
{
	char endpoint[PUBLISH_VALUE_MAX];
	struct cidr internal;
	bool has_internal = node_internal_ip(node, detected, &internal);
	int has_endpoint = endpoint_value(node, &internal, has_internal, port, endpoint, err);

	if (has_endpoint < 0)
		return -1;
	key_to_base64(public_key, add(a, ANNOT_PUBLIC_KEY, true));
	if (has_internal)
		cidr_format(&internal, add(a, ANNOT_INTERNAL_IP, true));
	else
		add(a, ANNOT_INTERNAL_IP, false);
	strcpy(add(a, ANNOT_ENDPOINT, has_endpoint), has_endpoint ? endpoint : "");
	return 0;
}

void annotations_wireguard_ip(struct annotations *a, const struct cidr *ip)
{
	char *text = add(a, ANNOT_WIREGUARD_IP, ip->ip.family != 0);

	if (ip->ip.family)
		cidr_format(ip, text);
}

static bool is_nated(const struct cluster *c, const struct wg_key *key)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].has_key && c->nodes[i].persistent_keepalive > 0 &&
		    key_equal(&c->nodes[i].public_key, key))
			return true;
	for (size_t i = 0; i < c->n_peers; i++)
		if (c->peers[i].persistent_keepalive > 0 && key_equal(&c->peers[i].public_key, key))
			return true;
	return false;
}

static bool is_live(const struct wg_peer *p, time_t now)
{
	return p->endpoint_ip.family && p->last_handshake_sec > 0 &&
	       now - p->last_handshake_sec <= PUBLISH_HANDSHAKE_MAX_AGE;
}

static int peer_key_cmp(const void *a, const void *b)
{
	const struct wg_peer *const *pa = a, *const *pb = b;

	return memcmp((*pa)->public_key.bytes, (*pb)->public_key.bytes, WG_KEY_LEN);
}

/* The JSON map of at most MODEL_MAX_DISCOVERED entries (what kube_model
 * accepts), lowest keys first so every run picks the same ones. */
static json_t *discovered_map(const struct wg_peer **found, size_t n)
{
	json_t *map = json_object();

	qsort(found, n, sizeof(*found), peer_key_cmp);
	for (size_t i = 0; map && i < n && i < MODEL_MAX_DISCOVERED; i++) {
		char key[WG_KEY_B64_LEN], host[INET6_ADDRSTRLEN], value[PUBLISH_VALUE_MAX];

		endpoint_format(ip_format(&found[i]->endpoint_ip, host), found[i]->endpoint_port, value);
		if (json_object_set_new(map, key_to_base64(&found[i]->public_key, key),
					json_string(value)) < 0) {
			json_decref(map);
			return NULL;
		}
	}
	return map;
}

int annotations_discovered(struct annotations *a, const struct cluster *c,
			   const struct wg_device *dev, time_t now, struct error *err)
{
	const struct wg_peer **found = malloc((dev->n_peers ? dev->n_peers : 1) * sizeof(*found));
	size_t n = 0;
	json_t *map;

	if (!found)
		return error_set(err, "discovered endpoints: out of memory");
	for (size_t i = 0; i < dev->n_peers; i++)
		if (is_live(&dev->peers[i], now) && is_nated(c, &dev->peers[i].public_key))
			found[n++] = &dev->peers[i];
	map = discovered_map(found, n);
	free(found);
	if (!map)
		return error_set(err, "discovered endpoints: out of memory");
	free(a->discovered);
	a->discovered = n ? json_dumps(map, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(map);
	if (n && !a->discovered)
		return error_set(err, "discovered endpoints: out of memory");
	a->keys[a->n] = ANNOT_DISCOVERED;
	a->values[a->n++] = a->discovered;
	return 0;
}

void annotations_remove_all(struct annotations *a)
{
	static const char *const all[] = { ANNOT_PUBLIC_KEY, ANNOT_ENDPOINT, ANNOT_INTERNAL_IP,
					   ANNOT_WIREGUARD_IP, ANNOT_DISCOVERED };

	for (size_t i = 0; i < PUBLISH_MAX; i++)
		add(a, all[i], false);
}
