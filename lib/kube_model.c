// SPDX-License-Identifier: GPL-2.0-or-later
#include "kube_model.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

#define SKEIN_PREFIX "skein.dev/"
#define KILO_PREFIX "kilo.squat.ai/"
#define REGION_LABEL "topology.kubernetes.io/region"
#define KEEPALIVE_MAX 65535 /* WireGuard's limit */

/* ---- values ---- */

/* Strict decimal: digits only, no sign, no leading zero. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 10)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* RFC 1123 host name; a last label of digits only would be a bad IP. */
static bool dns_name_valid(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool all_digits = true;

	if (len == 0 || len > MODEL_HOST_MAX)
		return false;
	for (const char *p = s;; p++) {
		if (*p == '.' || !*p) {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (!*p)
				return !all_digits;
			label = 0;
			all_digits = true;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return false;
		if (*p < '0' || *p > '9')
			all_digits = false;
		label++;
	}
}

/* Stores an IP literal in its canonical text, anything else as a name. */
static int endpoint_set_host(struct endpoint *out, const char *host, bool must_be_v6)
{
	struct ip_addr ip;

	if (ip_parse(host, &ip) == 0) {
		if (must_be_v6 && ip.family != AF_INET6)
			return -1;
		ip_format(&ip, out->host);
		return 0;
	}
	if (must_be_v6 || !dns_name_valid(host))
		return -1;
	snprintf(out->host, sizeof(out->host), "%s", host);
	return 0;
}

int endpoint_parse(const char *s, struct endpoint *out)
{
	char host[MODEL_HOST_MAX + 1];
	const char *colon, *start = s, *end;
	bool bracketed = s[0] == '[';
	unsigned long port;

	if (bracketed) {
		start = s + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return -1;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		end = colon;
	}
	if ((size_t)(end - start) > MODEL_HOST_MAX || end == start)
		return -1;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	if (!bracketed && strchr(host, ':'))
		return -1;
	if (parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->port = (uint16_t)port;
	return endpoint_set_host(out, host, bracketed);
}

/* A CIDR, or an address alone taken as a host prefix. */
static int parse_cidr_or_host(const char *s, struct cidr *out)
{
	return strchr(s, '/') ? cidr_parse(s, out) : cidr_parse_host(s, out);
}

static bool ip_is_private(const struct ip_addr *ip)
{
	static const char *const private_nets[] = {
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
		"169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128",
	};
	struct cidr net;

	for (size_t i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++)
		if (cidr_parse(private_nets[i], &net) == 0 && cidr_contains(&net, ip))
			return true;
	return false;
}

static bool endpoint_is_public(const struct endpoint *e)
{
	struct ip_addr ip;

	if (!e->host[0])
		return false;
	return ip_parse(e->host, &ip) < 0 || !ip_is_private(&ip);
}

/* Location names are label-like: they name segments in logs and graphs. */
static bool location_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > MODEL_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
			return false;
	return true;
}

/* ---- node annotations ---- */

/* A node being filled, and room for its discovered endpoints: the cluster
 * keeps them, not the node. */
struct node_fill {
	struct node *node;
	struct discovered_endpoint *discovered; /* MODEL_MAX_DISCOVERED */
};

typedef int (*annotation_parser)(const char *value, bool kilo, struct node_fill *f);

static int parse_location(const char *v, bool kilo, struct node_fill *f)
{
	(void)kilo;
	if (!location_valid(v))
		return -1;
	snprintf(f->node->location, sizeof(f->node->location), "%s", v);
	return 0;
}

static int parse_public_key(const char *v, bool kilo, struct node_fill *f)
{
	(void)kilo;
	if (key_from_base64(v, &f->node->public_key) < 0)
		return -1;
	f->node->has_key = true;
	return 0;
}

static int parse_endpoint(const char *v, bool kilo, struct node_fill *f)
{
	(void)kilo;
	return endpoint_parse(v, &f->node->endpoint);
}

static int set_cidr(const char *v, struct cidr *out, bool *present)
{
	if (parse_cidr_or_host(v, out) < 0)
		return -1;
	*present = true;
	return 0;
}

static int parse_internal_ip(const char *v, bool kilo, struct node_fill *f)
{
	(void)kilo;
	return set_cidr(v, &f->node->internal_ip, &f->node->has_internal_ip);
}

static int parse_wireguard_ip(const char *v, bool kilo, struct node_fill *f)
{
	(void)kilo;
	return set_cidr(v, &f->node->wireguard_ip, &f->node->has_wireguard_ip);
}

/* Kilo makes a node a leader by the annotation's presence; skein wants
 * true or false so that leader=false does what it says. */
static int parse_leader(const char *v, bool kilo, struct node_fill *f)
{
	if (kilo)
		f->node->leader = true;
	else if (!strcmp(v, "true") || !strcmp(v, "false"))
		f->node->leader = !strcmp(v, "true");
	else
		return -1;
	return 0;
}

static int parse_keepalive(const char *v, bool kilo, struct node_fill *f)
{
	unsigned long secs;

	(void)kilo;
	if (parse_uint(v, KEEPALIVE_MAX, &secs) < 0)
		return -1;
	f->node->persistent_keepalive = (int)secs;
	return 0;
}

static int parse_location_ips(const char *v, bool kilo, struct node_fill *f)
{
	struct node *n = f->node;
	char item[CIDR_STRLEN + 8];

	(void)kilo;
	n->n_allowed_location_ips = 0;
	for (const char *p = v;;) {
		size_t len = strcspn(p, ",");
		const char *s = p, *e = p + len;

		while (s < e && *s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			e--;
		if (e == s || (size_t)(e - s) >= sizeof(item) ||
		    n->n_allowed_location_ips == MODEL_MAX_LOCATION_IPS)
			return -1;
		memcpy(item, s, (size_t)(e - s));
		item[e - s] = '\0';
		if (cidr_parse(item, &n->allowed_location_ips[n->n_allowed_location_ips++]) < 0)
			return -1;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* {"<key>": "host:port"} or Kilo's {"<key>": {"IP": "...", "Port": n}}. */
static int parse_discovered_entry(const char *key, const json_t *v, struct discovered_endpoint *d)
{
	const char *ip;
	json_int_t port;

	if (key_from_base64(key, &d->key) < 0)
		return -1;
	if (json_is_string(v))
		return endpoint_parse(json_string_value(v), &d->endpoint);
	ip = json_string_value(json_object_get(v, "IP"));
	port = json_integer_value(json_object_get(v, "Port"));
	if (!ip || port < 1 || port > 65535 || endpoint_set_host(&d->endpoint, ip, false) < 0 ||
	    ip_parse(ip, &(struct ip_addr){ 0 }) < 0)
		return -1;
	d->endpoint.port = (uint16_t)port;
	return 0;
}

static int parse_discovered(const char *v, bool kilo, struct node_fill *f)
{
	json_t *root = json_loads(v, 0, NULL), *val;
	struct node *n = f->node;
	const char *key;
	int rc = 0;

	(void)kilo;
	if (!json_is_object(root) || json_object_size(root) > MODEL_MAX_DISCOVERED)
		rc = -1;
	n->n_discovered = 0;
	json_object_foreach(root, key, val) {
		if (rc < 0 || parse_discovered_entry(key, val, &f->discovered[n->n_discovered++]) < 0) {
			rc = -1;
			break;
		}
	}
	json_decref(root);
	return rc;
}

/* Order matters: the force-* annotations override what the agent published. */
static const struct {
	const char *name, *kilo_name;
	annotation_parser parse;
} node_annotations[] = {
	{ "location", "location", parse_location },
	{ "public-key", "key", parse_public_key },
	{ "endpoint", "endpoint", parse_endpoint },
	{ "force-endpoint", "force-endpoint", parse_endpoint },
	{ "internal-ip", "internal-ip", parse_internal_ip },
	{ "force-internal-ip", "force-internal-ip", parse_internal_ip },
	{ "wireguard-ip", "wireguard-ip", parse_wireguard_ip },
	{ "leader", "leader", parse_leader },
	{ "persistent-keepalive", "persistent-keepalive", parse_keepalive },
	{ "allowed-location-ips", "allowed-location-ips", parse_location_ips },
	{ "discovered-endpoints", "discovered-endpoints", parse_discovered },
};

#define N_NODE_ANNOTATIONS (sizeof(node_annotations) / sizeof(node_annotations[0]))

static bool is_read_annotation(const char *key)
{
	if (!strncmp(key, SKEIN_PREFIX, strlen(SKEIN_PREFIX)))
		return true;
	if (strncmp(key, KILO_PREFIX, strlen(KILO_PREFIX)))
		return false;
	for (size_t i = 0; i < N_NODE_ANNOTATIONS; i++)
		if (!strcmp(key + strlen(KILO_PREFIX), node_annotations[i].kilo_name))
			return true;
	return false;
}

static int apply_annotations(const json_t *annotations, struct node_fill *f, struct error *err)
{
	char key[64];

	for (size_t i = 0; i < N_NODE_ANNOTATIONS; i++) {
		bool kilo = false;
		const char *v;

		snprintf(key, sizeof(key), SKEIN_PREFIX "%s", node_annotations[i].name);
		v = json_string_value(json_object_get(annotations, key));
		if (!v) {
			snprintf(key, sizeof(key), KILO_PREFIX "%s", node_annotations[i].kilo_name);
			v = json_string_value(json_object_get(annotations, key));
			kilo = true;
		}
		if (v && node_annotations[i].parse(v, kilo, f) < 0)
			return error_set(err, "annotation %s: bad value \"%.80s\"", key, v);
	}
	return 0;
}

/* ---- node spec and status ---- */

/* A JSON list of at most max CIDRs; field names the list in errors. */
static int parse_cidr_list(const json_t *list, const char *field, struct cidr *out, size_t max, size_t *n,
			   struct error *err)
{
	const json_t *item;
	size_t i;

	if (json_array_size(list) > max)
		return error_set(err, "%s: more than %zu entries", field, max);
	json_array_foreach(list, i, item) {
		const char *s = json_string_value(item);

		if (!s || cidr_parse(s, &out[i]) < 0)
			return error_set(err, "%s[%zu]: bad value \"%.80s\"", field, i, s ? s : "");
	}
	*n = json_array_size(list);
	return 0;
}

static int apply_pod_cidrs(const json_t *spec, struct node *n, struct error *err)
{
	const json_t *list = json_object_get(spec, "podCIDRs");
	const char *single = json_string_value(json_object_get(spec, "podCIDR"));

	if (json_array_size(list) == 0) {
		if (single && cidr_parse(single, &n->pod_cidrs[0]) < 0)
			return error_set(err, "spec.podCIDR: bad value \"%.80s\"", single);
		n->n_pod_cidrs = single ? 1 : 0;
		return 0;
	}
	return parse_cidr_list(list, "spec.podCIDRs", n->pod_cidrs, MODEL_MAX_POD_CIDRS, &n->n_pod_cidrs,
			       err);
}

static int apply_addresses(const json_t *status, struct node *n, struct error *err)
{
	const json_t *list = json_object_get(status, "addresses"), *item;
	size_t i;

	json_array_foreach(list, i, item) {
		const char *type = json_string_value(json_object_get(item, "type"));
		const char *addr = json_string_value(json_object_get(item, "address"));
		struct ip_addr ip;
		bool internal;

		if (!type || (strcmp(type, "InternalIP") && strcmp(type, "ExternalIP")))
			continue;
		internal = !strcmp(type, "InternalIP");
		if ((internal ? n->has_internal_ip : n->has_external_ip))
			continue; /* the first of each kind wins */
		if (!addr || ip_parse(addr, &ip) < 0)
			return error_set(err, "status.addresses[%zu] %s: bad value \"%.80s\"", i, type,
					 addr ? addr : "");
		if (internal) {
			n->internal_ip = cidr_host(&ip);
			n->has_internal_ip = true;
		} else {
			n->external_ip = ip;
			n->has_external_ip = true;
		}
	}
	return 0;
}

static bool node_is_ready(const json_t *status)
{
	const json_t *list = json_object_get(status, "conditions"), *item;
	size_t i;

	json_array_foreach(list, i, item) {
		const char *type = json_string_value(json_object_get(item, "type"));
		const char *st = json_string_value(json_object_get(item, "status"));

		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return false;
}

static int copy_name(const json_t *obj, char out[MODEL_NAME_MAX + 1], struct error *err)
{
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

	if (!name || !*name || strlen(name) > MODEL_NAME_MAX)
		return error_set(err, "metadata.name: missing or longer than %d", MODEL_NAME_MAX);
	memcpy(out, name, strlen(name) + 1);
	return 0;
}

/* Fills a zeroed node; its discovered endpoints go to discovered[0...]
 * (room for MODEL_MAX_DISCOVERED), first_discovered is left to the caller. */
static int fill_node(const json_t *obj, struct node *n, struct discovered_endpoint *discovered,
		     struct error *err)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *status = json_object_get(obj, "status");
	const char *region = json_string_value(
		json_object_get(json_object_get(meta, "labels"), REGION_LABEL));
	struct node_fill f = { n, discovered };

	if (copy_name(obj, n->name, err) < 0)
		return error_prefix(err, "node");
	if (region && parse_location(region, false, &f) < 0)
		return error_set(err, "node %s: label " REGION_LABEL ": bad value \"%.80s\"", n->name, region);
	if (apply_pod_cidrs(json_object_get(obj, "spec"), n, err) < 0 ||
	    apply_addresses(status, n, err) < 0 ||
	    apply_annotations(json_object_get(meta, "annotations"), &f, err) < 0)
		return error_prefix(err, "node %s", n->name);
	n->ready = node_is_ready(status);
	n->has_public_endpoint = endpoint_is_public(&n->endpoint);
	return 0;
}

int kube_node_from_json(const json_t *obj, struct node *n, struct discovered_endpoint *discovered,
			struct error *err)
{
	memset(n, 0, sizeof(*n));
	return fill_node(obj, n, discovered, err);
}

/* ---- peers ---- */

static int peer_endpoint(const json_t *e, struct peer *p, struct error *err)
{
	const char *ip = json_string_value(json_object_get(e, "ip"));
	const char *dns = json_string_value(json_object_get(e, "dns"));
	json_int_t port = json_integer_value(json_object_get(e, "port"));
	struct ip_addr addr;

	if (!json_is_object(e))
		return error_set(err, "spec.endpoint: not an object");
	if (!ip == !dns)
		return error_set(err, "spec.endpoint: needs exactly one of ip and dns");
	if (ip && (ip_parse(ip, &addr) < 0 || endpoint_set_host(&p->endpoint, ip, false) < 0))
		return error_set(err, "spec.endpoint.ip: bad value \"%.80s\"", ip);
	if (dns && (!dns_name_valid(dns) || endpoint_set_host(&p->endpoint, dns, false) < 0))
		return error_set(err, "spec.endpoint.dns: bad value \"%.80s\"", dns);
	if (!json_is_integer(json_object_get(e, "port")) || port < 1 || port > 65535)
		return error_set(err, "spec.endpoint.port: missing or not in 1-65535");
	p->endpoint.port = (uint16_t)port;
	return 0;
}

static int peer_allowed_ips(const json_t *list, struct peer *p, struct error *err)
{
	if (!json_is_array(list) || json_array_size(list) == 0)
		return error_set(err, "spec.allowedIPs: missing or empty");
	return parse_cidr_list(list, "spec.allowedIPs", p->allowed_ips, MODEL_MAX_PEER_IPS,
			       &p->n_allowed_ips, err);
}

static int peer_spec(const json_t *spec, struct peer *p, struct error *err)
{
	const char *key = json_string_value(json_object_get(spec, "publicKey"));
	const char *psk = json_string_value(json_object_get(spec, "presharedKey"));
	const json_t *ka = json_object_get(spec, "persistentKeepalive");
	const json_t *endpoint = json_object_get(spec, "endpoint");

	if (!json_is_object(spec))
		return error_set(err, "spec: missing");
	if (!key || key_from_base64(key, &p->public_key) < 0)
		return error_set(err, "spec.publicKey: bad value \"%.80s\"", key ? key : "");
	if (peer_allowed_ips(json_object_get(spec, "allowedIPs"), p, err) < 0)
		return -1;
	if (endpoint && !json_is_null(endpoint) && peer_endpoint(endpoint, p, err) < 0)
		return -1;
	if (ka && (!json_is_integer(ka) || json_integer_value(ka) < 0 ||
		   json_integer_value(ka) > KEEPALIVE_MAX))
		return error_set(err, "spec.persistentKeepalive: not an integer in 0-%d", KEEPALIVE_MAX);
	p->persistent_keepalive = (int)json_integer_value(ka);
	if (json_object_get(spec, "presharedKey") && (!psk || key_from_base64(psk, &p->preshared_key) < 0))
		return error_set(err, "spec.presharedKey: not a base64 WireGuard key");
	p->has_preshared_key = psk != NULL;
	return 0;
}

static int fill_peer(const json_t *obj, struct peer *p, struct error *err)
{
	if (copy_name(obj, p->name, err) < 0)
		return error_prefix(err, "peer");
	if (peer_spec(json_object_get(obj, "spec"), p, err) < 0)
		return error_prefix(err, "peer %s", p->name);
	return 0;
}

int kube_peer_from_json(const json_t *obj, struct peer *p, struct error *err)
{
	memset(p, 0, sizeof(*p));
	return fill_peer(obj, p, err);
}

/* ---- digests ---- */

static json_t *filter_array(const json_t *list, const char *field, const char *const keep[], size_t n_keep,
			    const char *const copy[], size_t n_copy)
{
	json_t *out = json_array(), *item;
	size_t i;

	json_array_foreach(list, i, item) {
		const char *v = json_string_value(json_object_get(item, field));
		json_t *small;

		for (size_t k = 0; v && k < n_keep; k++) {
			if (strcmp(v, keep[k]))
				continue;
			small = json_object();
			for (size_t c = 0; small && c < n_copy; c++)
				if (json_object_get(item, copy[c]))
					json_object_set(small, copy[c], json_object_get(item, copy[c]));
			json_array_append_new(out, small);
		}
	}
	return out;
}

json_t *kube_node_digest(const json_t *node)
{
	static const char *const address_types[] = { "InternalIP", "ExternalIP" };
	static const char *const address_fields[] = { "type", "address" };
	static const char *const condition_types[] = { "Ready" };
	static const char *const condition_fields[] = { "type", "status" };
	const json_t *meta = json_object_get(node, "metadata"), *spec = json_object_get(node, "spec");
	const json_t *status = json_object_get(node, "status"), *v;
	const json_t *region = json_object_get(json_object_get(meta, "labels"), REGION_LABEL);
	json_t *annotations = json_object(), *d;
	const char *key;

	json_object_foreach((json_t *)json_object_get(meta, "annotations"), key, v)
		if (is_read_annotation(key))
			json_object_set(annotations, key, (json_t *)v);
	d = json_pack("{s:{s:O?,s:o,s:{s:O?}},s:{s:O?,s:O?},s:{s:o,s:o}}",
		      "metadata", "name", json_object_get(meta, "name"), "annotations", annotations,
		      "labels", REGION_LABEL, region,
		      "spec", "podCIDR", json_object_get(spec, "podCIDR"), "podCIDRs",
		      json_object_get(spec, "podCIDRs"),
		      "status", "addresses",
		      filter_array(json_object_get(status, "addresses"), "type", address_types, 2,
				   address_fields, 2),
		      "conditions",
		      filter_array(json_object_get(status, "conditions"), "type", condition_types, 1,
				   condition_fields, 2));
	return d;
}

json_t *kube_peer_digest(const json_t *peer)
{
	return json_pack("{s:{s:O?},s:O?}", "metadata", "name",
			 json_object_get(json_object_get(peer, "metadata"), "name"),
			 "spec", json_object_get(peer, "spec"));
}

/* ---- cluster ---- */

/* Fills a zeroed item: 0, 1 when the object is invalid (err says why), -1
 * when out of memory. */
typedef int (*translate_fn)(const json_t *obj, void *out, void *ctx, struct error *err);

/* A cluster being built, and the room its discovered endpoints have. */
struct building {
	struct cluster *c;
	size_t cap_discovered;
};

/* Room for one more node's discovered endpoints. */
static int reserve_discovered(struct building *b)
{
	size_t need = b->c->n_discovered + MODEL_MAX_DISCOVERED;
	struct discovered_endpoint *grown;

	if (need <= b->cap_discovered)
		return 0;
	grown = realloc(b->c->discovered, 2 * need * sizeof(*grown));
	if (!grown)
		return -1;
	b->c->discovered = grown;
	b->cap_discovered = 2 * need;
	return 0;
}

static int translate_node(const json_t *obj, void *out, void *ctx, struct error *err)
{
	struct building *b = ctx;
	struct node *n = out;

	if (reserve_discovered(b) < 0)
		return -1;
	if (fill_node(obj, n, b->c->discovered + b->c->n_discovered, err) < 0)
		return 1;
	n->first_discovered = b->c->n_discovered;
	b->c->n_discovered += n->n_discovered;
	return 0;
}

static int translate_peer(const json_t *obj, void *out, void *ctx, struct error *err)
{
	(void)ctx;
	return fill_peer(obj, out, err) < 0 ? 1 : 0;
}

/* Fills items (zeroed, room for every digest) with the valid objects;
 * returns how many, or -1 when out of memory. Rejections go to rejected. */
static long translate_all(const json_t *digests, const char *kind, translate_fn translate, void *ctx,
			  char *items, size_t item_size, json_t *rejected)
{
	const char *name;
	json_t *text;
	size_t n = 0;

	json_object_foreach((json_t *)digests, name, text) {
		json_t *obj = json_loads(json_string_value(text), 0, NULL);
		struct error err;
		char key[MODEL_NAME_MAX + 16];
		int rc;

		if (!obj)
			return -1;
		rc = translate(obj, items + n * item_size, ctx, &err);
		json_decref(obj);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			n++;
		} else {
			memset(items + n * item_size, 0, item_size); /* for the next one */
			snprintf(key, sizeof(key), "%s/%s", kind, name);
			json_object_set_new(rejected, key, json_string(err.msg));
		}
	}
	return (long)n;
}

static int node_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

static int peer_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct peer *)a)->name, ((const struct peer *)b)->name);
}

int kube_cluster_build(const json_t *node_digests, const json_t *peer_digests, struct cluster *out,
		       json_t *rejected, struct error *err)
{
	struct building b = { out, 0 };
	long nodes, peers;

	memset(out, 0, sizeof(*out));
	json_object_clear(rejected);
	out->nodes = calloc(json_object_size(node_digests) + 1, sizeof(*out->nodes));
	out->peers = calloc(json_object_size(peer_digests) + 1, sizeof(*out->peers));
	if (!out->nodes || !out->peers ||
	    (nodes = translate_all(node_digests, "node", translate_node, &b, (char *)out->nodes,
				   sizeof(*out->nodes), rejected)) < 0 ||
	    (peers = translate_all(peer_digests, "peer", translate_peer, NULL, (char *)out->peers,
				   sizeof(*out->peers), rejected)) < 0) {
		cluster_free(out);
		return error_set(err, "cluster model: out of memory");
	}
	out->n_nodes = (size_t)nodes;
	out->n_peers = (size_t)peers;
	qsort(out->nodes, out->n_nodes, sizeof(*out->nodes), node_name_cmp);
	qsort(out->peers, out->n_peers, sizeof(*out->peers), peer_name_cmp);
	return 0;
}

static int name_key_cmp(const void *key, const void *node)
{
	return strcmp(key, ((const struct node *)node)->name);
}

/* Puts the k endpoints of found in place of node n's, moving the runs of
 * the nodes after it so that the array stays packed. */
static int replace_discovered(struct cluster *c, struct node *n, const struct discovered_endpoint *found,
			      size_t k)
{
	size_t first = n->first_discovered, end = first + n->n_discovered;
	size_t total = c->n_discovered - n->n_discovered + k;

	if (k == 0 && n->n_discovered == 0)
		return 0;
	if (k > n->n_discovered) {
		struct discovered_endpoint *grown = realloc(c->discovered, total * sizeof(*grown));

		if (!grown)
			return -1;
		c->discovered = grown;
	}
	memmove(c->discovered + first + k, c->discovered + end,
		(c->n_discovered - end) * sizeof(*c->discovered));
	memcpy(c->discovered + first, found, k * sizeof(*found));
	for (size_t i = 0; k != n->n_discovered && i < c->n_nodes; i++)
		if (&c->nodes[i] != n && c->nodes[i].first_discovered >= end)
			c->nodes[i].first_discovered = c->nodes[i].first_discovered - n->n_discovered + k;
	c->n_discovered = total;
	n->n_discovered = k;
	return 0;
}

/* Translates the changed digest into its slot; 1 when it has none or the
 * node is no longer valid (the caller rebuilds). */
static int update_node(struct cluster *c, const char *name, const json_t *text)
{
	struct node *slot = bsearch(name, c->nodes, c->n_nodes, sizeof(*c->nodes), name_key_cmp);
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n = { 0 };
	struct error err;
	json_t *obj;
	int rc;

	if (!slot)
		return 1;
	if (!(obj = json_loads(json_string_value(text), 0, NULL)))
		return -1;
	rc = fill_node(obj, &n, found, &err) < 0 ? 1 : 0;
	json_decref(obj);
	if (rc == 0 && replace_discovered(c, slot, found, n.n_discovered) < 0)
		rc = -1;
	if (rc == 0) {
		n.first_discovered = slot->first_discovered;
		*slot = n;
	}
	return rc;
}

int kube_cluster_update_nodes(struct cluster *c, const json_t *before, const json_t *after)
{
	const char *name;
	json_t *text;
	int rc = 0;

	if (json_object_size(before) != json_object_size(after))
		return 1;
	json_object_foreach((json_t *)after, name, text) {
		const json_t *old = json_object_get(before, name);

		if (old && (old == text || json_equal(old, text)))
			continue;
		/* No old entry under the same count: a node was replaced. */
		rc = old ? update_node(c, name, text) : 1;
		if (rc != 0)
			break;
	}
	return rc;
}

/* ---- model as JSON ---- */

static json_t *cidrs_to_json(const struct cidr *c, size_t n)
{
	char buf[CIDR_STRLEN];
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(cidr_format(&c[i], buf)));
	return arr;
}

static json_t *endpoint_to_json(const struct endpoint *e)
{
	char buf[MODEL_HOST_MAX + 16];

	if (!e->host[0])
		return json_null();
	snprintf(buf, sizeof(buf), strchr(e->host, ':') ? "[%s]:%u" : "%s:%u", e->host, e->port);
	return json_string(buf);
}

static json_t *key_to_json(const struct wg_key *k, bool present)
{
	char buf[WG_KEY_B64_LEN];

	return present ? json_string(key_to_base64(k, buf)) : json_null();
}

static json_t *cidr_to_json(const struct cidr *c, bool present)
{
	char buf[CIDR_STRLEN];

	return present ? json_string(cidr_format(c, buf)) : json_null();
}

json_t *kube_node_to_json(const struct node *n, const struct discovered_endpoint *discovered)
{
	char ext[INET6_ADDRSTRLEN];
	json_t *disc = json_object();

	for (size_t i = 0; i < n->n_discovered; i++) {
		char k[WG_KEY_B64_LEN];

		json_object_set_new(disc, key_to_base64(&discovered[i].key, k),
				    endpoint_to_json(&discovered[i].endpoint));
	}
	return json_pack("{s:s,s:s,s:o,s:o,s:o,s:b,s:o,s:o,s:b,s:b,s:i,s:o,s:o,s:o}",
			 "name", n->name, "location", n->location,
			 "podCIDRs", cidrs_to_json(n->pod_cidrs, n->n_pod_cidrs),
			 "internalIP", cidr_to_json(&n->internal_ip, n->has_internal_ip),
			 "endpoint", endpoint_to_json(&n->endpoint),
			 "publicEndpoint", n->has_public_endpoint,
			 "publicKey", key_to_json(&n->public_key, n->has_key),
			 "wireguardIP", cidr_to_json(&n->wireguard_ip, n->has_wireguard_ip),
			 "ready", n->ready, "leader", n->leader,
			 "persistentKeepalive", n->persistent_keepalive,
			 "allowedLocationIPs", cidrs_to_json(n->allowed_location_ips, n->n_allowed_location_ips),
			 "discoveredEndpoints", disc,
			 "externalIP", n->has_external_ip ? json_string(ip_format(&n->external_ip, ext)) : json_null());
}

json_t *kube_peer_to_json(const struct peer *p)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:i,s:b}", "name", p->name,
			 "publicKey", key_to_json(&p->public_key, true),
			 "allowedIPs", cidrs_to_json(p->allowed_ips, p->n_allowed_ips),
			 "endpoint", endpoint_to_json(&p->endpoint),
			 "persistentKeepalive", p->persistent_keepalive,
			 "presharedKey", p->has_preshared_key);
}

json_t *kube_cluster_to_json(const struct cluster *c)
{
	json_t *nodes = json_array(), *peers = json_array();

	for (size_t i = 0; i < c->n_nodes; i++)
		json_array_append_new(nodes, kube_node_to_json(&c->nodes[i], node_discovered(c, &c->nodes[i])));
	for (size_t i = 0; i < c->n_peers; i++)
		json_array_append_new(peers, kube_peer_to_json(&c->peers[i]));
	return json_pack("{s:o,s:o}", "nodes", nodes, "peers", peers);
}
