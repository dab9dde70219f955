// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "kube_model.h"

#define FIXTURE "tests/fixtures/kind-node.json"
#define KEY_A "8Rv7e8j3CrPmg7Q4hfPDO1YBrsTObkFDdXYE2nMvT0Y="
#define KEY_B "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="

/* A small Node: n1, pod CIDR 10.10.1.0/24, InternalIP 192.168.1.11, Ready. */
static json_t *base_node(void)
{
	return json_pack("{s:{s:s,s:{},s:{}},s:{s:s,s:[s]},s:{s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s}]}}",
			 "metadata", "name", "n1", "annotations", "labels",
			 "spec", "podCIDR", "10.10.1.0/24", "podCIDRs", "10.10.1.0/24",
			 "status", "addresses", "type", "InternalIP", "address", "192.168.1.11",
			 "type", "ExternalIP", "address", "203.0.113.11",
			 "conditions", "type", "Ready", "status", "True");
}

static void annotate(json_t *node, const char *key, const char *value)
{
	json_object_set_new(json_object_get(json_object_get(node, "metadata"), "annotations"), key,
			    json_string(value));
}

static json_t *node_with(const char *key, const char *value)
{
	json_t *n = base_node();

	annotate(n, key, value);
	return n;
}

static const char *fmt_cidr(const struct cidr *c)
{
	static char buf[4][CIDR_STRLEN];
	static int i;

	return cidr_format(c, buf[i++ % 4]);
}

static void test_kind_node(void **state)
{
	json_t *obj = json_load_file(FIXTURE, 0, NULL);
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n;
	struct error err;

	(void)state;
	assert_non_null(obj);
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_string_equal(n.name, "kind-control-plane");
	assert_int_equal(n.n_pod_cidrs, 1);
	assert_string_equal(fmt_cidr(&n.pod_cidrs[0]), "10.244.0.0/24");
	assert_true(n.has_internal_ip);
	assert_string_equal(fmt_cidr(&n.internal_ip), "172.18.0.2/32");
	assert_true(n.ready);
	assert_false(n.has_key || n.leader || n.has_external_ip || n.has_public_endpoint);
	assert_string_equal(n.location, "");
	json_decref(obj);
}

static void test_skein_annotations(void **state)
{
	json_t *obj = base_node();
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct wg_key key;
	struct node n;
	struct error err;
	char ext[INET6_ADDRSTRLEN];

	(void)state;
	annotate(obj, "skein.dev/location", "aws-eu");
	annotate(obj, "skein.dev/public-key", KEY_A);
	annotate(obj, "skein.dev/endpoint", "10.0.0.1:51820");
	annotate(obj, "skein.dev/force-endpoint", "[2001:DB8::0001]:51821");
	annotate(obj, "skein.dev/internal-ip", "192.168.1.11/24");
	annotate(obj, "skein.dev/force-internal-ip", "192.168.7.7/20");
	annotate(obj, "skein.dev/wireguard-ip", "10.4.0.3/16");
	annotate(obj, "skein.dev/leader", "true");
	annotate(obj, "skein.dev/persistent-keepalive", "25");
	annotate(obj, "skein.dev/allowed-location-ips", "10.50.0.0/16, 192.168.100.0/24");
	annotate(obj, "skein.dev/discovered-endpoints",
		 "{\"" KEY_B "\": \"198.51.100.9:40000\"}");
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_string_equal(n.location, "aws-eu");
	assert_true(n.has_key);
	assert_int_equal(key_from_base64(KEY_A, &key), 0);
	assert_true(key_equal(&key, &n.public_key));
	/* force-endpoint beats the published endpoint, in canonical form. */
	assert_string_equal(n.endpoint.host, "2001:db8::1");
	assert_int_equal(n.endpoint.port, 51821);
	assert_true(n.has_public_endpoint);
	assert_string_equal(fmt_cidr(&n.internal_ip), "192.168.7.7/20");
	assert_string_equal(fmt_cidr(&n.wireguard_ip), "10.4.0.3/16");
	assert_true(n.leader);
	assert_int_equal(n.persistent_keepalive, 25);
	assert_int_equal(n.n_allowed_location_ips, 2);
	assert_string_equal(fmt_cidr(&n.allowed_location_ips[1]), "192.168.100.0/24");
	assert_int_equal(n.n_discovered, 1);
	assert_int_equal(key_from_base64(KEY_B, &key), 0);
	assert_int_equal(n.first_discovered, 0);
	assert_true(key_equal(&key, &found[0].key));
	assert_string_equal(found[0].endpoint.host, "198.51.100.9");
	assert_int_equal(found[0].endpoint.port, 40000);
	assert_true(n.has_external_ip);
	assert_string_equal(ip_format(&n.external_ip, ext), "203.0.113.11");
	json_decref(obj);
}

/* A Kilo cluster's annotations work unchanged; ours win when both exist. */
static void test_kilo_fallbacks(void **state)
{
	json_t *obj = base_node();
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n;
	struct error err;

	(void)state;
	annotate(obj, "kilo.squat.ai/location", "gcp");
	annotate(obj, "kilo.squat.ai/key", KEY_A);
	annotate(obj, "kilo.squat.ai/endpoint", "10.1.1.1:51820");
	annotate(obj, "kilo.squat.ai/force-endpoint", "vpn.example.com:51820");
	annotate(obj, "kilo.squat.ai/internal-ip", "192.168.1.11/24");
	annotate(obj, "kilo.squat.ai/wireguard-ip", "10.4.0.1/16");
	annotate(obj, "kilo.squat.ai/leader", ""); /* Kilo: present means leader */
	annotate(obj, "kilo.squat.ai/persistent-keepalive", "10");
	annotate(obj, "kilo.squat.ai/allowed-location-ips", "10.60.0.0/16");
	annotate(obj, "kilo.squat.ai/discovered-endpoints",
		 "{\"" KEY_B "\":{\"IP\":\"198.51.100.7\",\"Port\":51820,\"Zone\":\"\"}}");
	annotate(obj, "kilo.squat.ai/last-seen", "1700000000");
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_string_equal(n.location, "gcp");
	assert_true(n.has_key);
	assert_string_equal(n.endpoint.host, "vpn.example.com");
	assert_true(n.has_public_endpoint);
	assert_string_equal(fmt_cidr(&n.internal_ip), "192.168.1.11/24");
	assert_string_equal(fmt_cidr(&n.wireguard_ip), "10.4.0.1/16");
	assert_true(n.leader);
	assert_int_equal(n.persistent_keepalive, 10);
	assert_int_equal(n.n_allowed_location_ips, 1);
	assert_int_equal(n.n_discovered, 1);
	assert_string_equal(found[0].endpoint.host, "198.51.100.7");

	annotate(obj, "skein.dev/location", "aws");
	annotate(obj, "skein.dev/leader", "false");
	annotate(obj, "skein.dev/persistent-keepalive", "0");
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_string_equal(n.location, "aws");
	assert_false(n.leader);
	assert_int_equal(n.persistent_keepalive, 0);
	json_decref(obj);
}

static void test_location_and_endpoint_sources(void **state)
{
	json_t *obj = base_node();
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n;
	struct error err;

	(void)state;
	json_object_set_new(labels, "topology.kubernetes.io/region", json_string("eu-west-1"));
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_string_equal(n.location, "eu-west-1");
	/* An InternalIP with a host prefix when nothing is annotated. */
	assert_string_equal(fmt_cidr(&n.internal_ip), "192.168.1.11/32");
	assert_string_equal(n.endpoint.host, "");
	assert_false(n.has_public_endpoint);
	annotate(obj, "skein.dev/location", "site-b");
	annotate(obj, "skein.dev/endpoint", "192.168.1.11:51820");
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_string_equal(n.location, "site-b");
	assert_false(n.has_public_endpoint); /* a private address */
	json_object_set_new(json_object_get(obj, "status"), "conditions",
			    json_pack("[{s:s,s:s}]", "type", "Ready", "status", "Unknown"));
	assert_int_equal(kube_node_from_json(obj, &n, found, &err), 0);
	assert_false(n.ready);
	json_decref(obj);
}

static void test_bad_annotations(void **state)
{
	static const struct { const char *key, *value; } bad[] = {
		{ "skein.dev/location", "" },
		{ "skein.dev/location", "eu west" },
		{ "skein.dev/location", "a/b" },
		{ "kilo.squat.ai/location", "x y" },
		{ "skein.dev/public-key", "abc" },
		{ "skein.dev/public-key", KEY_A "A" },
		{ "kilo.squat.ai/key", "not-a-key" },
		{ "skein.dev/endpoint", "1.2.3.4" },
		{ "skein.dev/endpoint", "1.2.3.4:0" },
		{ "skein.dev/endpoint", "1.2.3.4:65536" },
		{ "skein.dev/endpoint", "1.2.3.4:x" },
		{ "skein.dev/endpoint", "1.2.3.4:051820" },
		{ "skein.dev/endpoint", ":51820" },
		{ "skein.dev/endpoint", "fd00::1:51820" },
		{ "skein.dev/endpoint", "[1.2.3.4]:51820" },
		{ "skein.dev/endpoint", "[fd00::1]51820" },
		{ "skein.dev/endpoint", "bad_host:1" },
		{ "skein.dev/endpoint", "-a.example.com:1" },
		{ "skein.dev/endpoint", "1.2.3.999:1" },
		{ "skein.dev/force-endpoint", "example..com:1" },
		{ "kilo.squat.ai/force-endpoint", "host:" },
		{ "skein.dev/internal-ip", "10.0.0.1/33" },
		{ "skein.dev/internal-ip", "nope" },
		{ "skein.dev/force-internal-ip", "300.1.1.1" },
		{ "kilo.squat.ai/force-internal-ip", "10.0.0.1/" },
		{ "skein.dev/wireguard-ip", "10.4.0.1/" },
		{ "kilo.squat.ai/wireguard-ip", "10.4.0" },
		{ "skein.dev/leader", "yes" },
		{ "skein.dev/leader", "" },
		{ "skein.dev/leader", "True" },
		{ "skein.dev/persistent-keepalive", "-1" },
		{ "skein.dev/persistent-keepalive", "65536" },
		{ "skein.dev/persistent-keepalive", "25s" },
		{ "skein.dev/persistent-keepalive", "025" },
		{ "skein.dev/persistent-keepalive", "" },
		{ "kilo.squat.ai/persistent-keepalive", "x" },
		{ "skein.dev/allowed-location-ips", "10.0.0.0/8," },
		{ "skein.dev/allowed-location-ips", "10.0.0.1" },
		{ "skein.dev/allowed-location-ips", "10.0.0.0/8,,192.168.0.0/16" },
		{ "skein.dev/allowed-location-ips", "" },
		{ "skein.dev/allowed-location-ips",
		  "10.0.0.0/24,10.0.1.0/24,10.0.2.0/24,10.0.3.0/24,10.0.4.0/24,10.0.5.0/24,10.0.6.0/24,"
		  "10.0.7.0/24,10.0.8.0/24,10.0.9.0/24,10.0.10.0/24,10.0.11.0/24,10.0.12.0/24,"
		  "10.0.13.0/24,10.0.14.0/24,10.0.15.0/24,10.0.16.0/24" },
		{ "kilo.squat.ai/allowed-location-ips", "x" },
		{ "skein.dev/discovered-endpoints", "not json" },
		{ "skein.dev/discovered-endpoints", "[]" },
		{ "skein.dev/discovered-endpoints", "{\"badkey\":\"1.2.3.4:5\"}" },
		{ "skein.dev/discovered-endpoints", "{\"" KEY_B "\":\"1.2.3.4\"}" },
		{ "skein.dev/discovered-endpoints", "{\"" KEY_B "\":{\"IP\":\"host\",\"Port\":1}}" },
		{ "skein.dev/discovered-endpoints", "{\"" KEY_B "\":{\"IP\":\"1.2.3.4\",\"Port\":0}}" },
		{ "skein.dev/discovered-endpoints", "{\"" KEY_B "\":7}" },
		{ "kilo.squat.ai/discovered-endpoints", "{" },
	};
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *obj = node_with(bad[i].key, bad[i].value);
		char want[512];

		if (kube_node_from_json(obj, &n, found, &err) == 0)
			fail_msg("%s=\"%s\" accepted", bad[i].key, bad[i].value);
		/* The object, the field and the value, in one line. */
		snprintf(want, sizeof(want), "node n1: annotation %s: bad value \"%.80s\"", bad[i].key,
			 bad[i].value);
		if (strcmp(err.msg, want))
			fail_msg("got \"%s\", want \"%s\"", err.msg, want);
		json_decref(obj);
	}
}

static void test_bad_node_fields(void **state)
{
	static const struct { const char *path, *json, *want; } bad[] = {
		{ "spec", "{\"podCIDR\":\"10.0.0.0\"}", "node n1: spec.podCIDR: bad value \"10.0.0.0\"" },
		{ "spec", "{\"podCIDRs\":[\"10.0.0.0/24\",\"fd00::/129\"]}",
		  "node n1: spec.podCIDRs[1]: bad value \"fd00::/129\"" },
		{ "spec", "{\"podCIDRs\":[\"10.0.0.0/24\",\"fd00::/64\",\"10.1.0.0/24\"]}",
		  "node n1: spec.podCIDRs: more than 2 entries" },
		{ "status", "{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1\"}]}",
		  "node n1: status.addresses[0] InternalIP: bad value \"192.168.1\"" },
		{ "status", "{\"addresses\":[{\"type\":\"ExternalIP\"}]}",
		  "node n1: status.addresses[0] ExternalIP: bad value \"\"" },
		{ "metadata", "{\"name\":\"n1\",\"labels\":{\"topology.kubernetes.io/region\":\"a b\"}}",
		  "node n1: label topology.kubernetes.io/region: bad value \"a b\"" },
		{ "metadata", "{}", "node: metadata.name: missing or longer than 253" },
	};
	struct discovered_endpoint found[MODEL_MAX_DISCOVERED];
	struct node n;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *obj = base_node();

		json_object_set_new(obj, bad[i].path, json_loads(bad[i].json, 0, NULL));
		assert_int_equal(kube_node_from_json(obj, &n, found, &err), -1);
		assert_string_equal(err.msg, bad[i].want);
		json_decref(obj);
	}
}

static json_t *base_peer(void)
{
	return json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[s,s],s:{s:s,s:i},s:i,s:s}}",
			 "apiVersion", "skein.dev/v1alpha1", "kind", "Peer", "metadata", "name", "laptop",
			 "spec", "publicKey", KEY_A, "allowedIPs", "10.5.0.1/32", "fd05::1/128",
			 "endpoint", "dns", "laptop.example.com", "port", 51820,
			 "persistentKeepalive", 25, "presharedKey", KEY_B);
}

static void test_peer(void **state)
{
	json_t *obj = base_peer();
	struct peer p;
	struct error err;

	(void)state;
	assert_int_equal(kube_peer_from_json(obj, &p, &err), 0);
	assert_string_equal(p.name, "laptop");
	assert_int_equal(p.n_allowed_ips, 2);
	assert_string_equal(fmt_cidr(&p.allowed_ips[1]), "fd05::1/128");
	assert_string_equal(p.endpoint.host, "laptop.example.com");
	assert_int_equal(p.endpoint.port, 51820);
	assert_int_equal(p.persistent_keepalive, 25);
	assert_true(p.has_preshared_key);
	/* A dial-in peer: no endpoint, no keepalive, no PSK. */
	json_t *spec = json_object_get(obj, "spec");
	json_object_del(spec, "endpoint");
	json_object_del(spec, "persistentKeepalive");
	json_object_del(spec, "presharedKey");
	assert_int_equal(kube_peer_from_json(obj, &p, &err), 0);
	assert_string_equal(p.endpoint.host, "");
	assert_false(p.has_preshared_key);
	json_object_set_new(spec, "endpoint", json_pack("{s:s,s:i}", "ip", "2001:db8::9", "port", 1));
	assert_int_equal(kube_peer_from_json(obj, &p, &err), 0);
	assert_string_equal(p.endpoint.host, "2001:db8::9");
	json_decref(obj);
}

static void test_bad_peers(void **state)
{
	static const struct { const char *field, *json, *want; } bad[] = {
		{ "publicKey", NULL, "peer laptop: spec.publicKey: bad value \"\"" },
		{ "publicKey", "\"short\"", "peer laptop: spec.publicKey: bad value \"short\"" },
		{ "allowedIPs", NULL, "peer laptop: spec.allowedIPs: missing or empty" },
		{ "allowedIPs", "[]", "peer laptop: spec.allowedIPs: missing or empty" },
		{ "allowedIPs", "\"10.0.0.0/8\"", "peer laptop: spec.allowedIPs: missing or empty" },
		{ "allowedIPs", "[\"10.0.0.0/8\",\"10.1.0.1\"]",
		  "peer laptop: spec.allowedIPs[1]: bad value \"10.1.0.1\"" },
		{ "allowedIPs", "[7]", "peer laptop: spec.allowedIPs[0]: bad value \"\"" },
		{ "endpoint", "{\"ip\":\"1.2.3.4\",\"dns\":\"a.example\",\"port\":1}",
		  "peer laptop: spec.endpoint: needs exactly one of ip and dns" },
		{ "endpoint", "{\"port\":1}", "peer laptop: spec.endpoint: needs exactly one of ip and dns" },
		{ "endpoint", "{\"ip\":\"1.2.3\",\"port\":1}", "peer laptop: spec.endpoint.ip: bad value \"1.2.3\"" },
		{ "endpoint", "{\"dns\":\"a_b.example\",\"port\":1}",
		  "peer laptop: spec.endpoint.dns: bad value \"a_b.example\"" },
		{ "endpoint", "{\"ip\":\"1.2.3.4\"}", "peer laptop: spec.endpoint.port: missing or not in 1-65535" },
		{ "endpoint", "{\"ip\":\"1.2.3.4\",\"port\":0}", "peer laptop: spec.endpoint.port: missing or not in 1-65535" },
		{ "endpoint", "{\"ip\":\"1.2.3.4\",\"port\":\"80\"}",
		  "peer laptop: spec.endpoint.port: missing or not in 1-65535" },
		{ "endpoint", "\"1.2.3.4:80\"", "peer laptop: spec.endpoint: not an object" },
		{ "persistentKeepalive", "-1", "peer laptop: spec.persistentKeepalive: not an integer in 0-65535" },
		{ "persistentKeepalive", "70000", "peer laptop: spec.persistentKeepalive: not an integer in 0-65535" },
		{ "persistentKeepalive", "\"25\"", "peer laptop: spec.persistentKeepalive: not an integer in 0-65535" },
		{ "presharedKey", "\"\"", "peer laptop: spec.presharedKey: not a base64 WireGuard key" },
		{ "presharedKey", "null", "peer laptop: spec.presharedKey: not a base64 WireGuard key" },
	};
	struct peer p;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *obj = base_peer(), *spec = json_object_get(obj, "spec");

		if (bad[i].json)
			json_object_set_new(spec, bad[i].field, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
		else
			json_object_del(spec, bad[i].field);
		assert_int_equal(kube_peer_from_json(obj, &p, &err), -1);
		assert_string_equal(err.msg, bad[i].want);
		json_decref(obj);
	}
}

/* The fixture's fourth condition is Ready. */
static json_t *ready_condition(json_t *node)
{
	json_t *c = json_array_get(json_object_get(json_object_get(node, "status"), "conditions"), 3);

	assert_string_equal(json_string_value(json_object_get(c, "type")), "Ready");
	return c;
}

static char *digest_text(json_t *(*digest)(const json_t *), const json_t *obj)
{
	json_t *d = digest(obj);
	char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(d);
	return text;
}

/* Heartbeats, images, resourceVersions and foreign annotations (Kilo's
 * last-seen every 30 s) leave the digest alone; what networking reads
 * changes it. */
static void test_digest_ignores_irrelevant_changes(void **state)
{
	json_t *obj = json_load_file(FIXTURE, 0, NULL), *copy;
	char *before = digest_text(kube_node_digest, obj), *after;
	struct discovered_endpoint found_obj[MODEL_MAX_DISCOVERED], found_digest[MODEL_MAX_DISCOVERED];
	struct node from_obj, from_digest;
	struct error err;
	json_t *d;

	(void)state;
	copy = json_deep_copy(obj);
	json_object_set_new(json_object_get(copy, "metadata"), "resourceVersion", json_string("9999"));
	json_object_set_new(ready_condition(copy), "lastHeartbeatTime", json_string("2024-03-04T11:00:00Z"));
	json_array_clear(json_object_get(json_object_get(copy, "status"), "images"));
	annotate(copy, "kilo.squat.ai/last-seen", "1700000030");
	annotate(copy, "example.com/owner", "team-a");
	json_object_set_new(json_object_get(json_object_get(copy, "metadata"), "labels"), "tier",
			    json_string("gold"));
	after = digest_text(kube_node_digest, copy);
	assert_string_equal(before, after);
	free(after);

	/* Each relevant change shows. */
	static const char *const relevant[][2] = {
		{ "skein.dev/endpoint", "198.51.100.1:51820" }, { "kilo.squat.ai/leader", "" },
		{ "skein.dev/anything-new", "x" },
	};
	for (size_t i = 0; i < sizeof(relevant) / sizeof(relevant[0]); i++) {
		json_t *c = json_deep_copy(obj);

		annotate(c, relevant[i][0], relevant[i][1]);
		after = digest_text(kube_node_digest, c);
		assert_string_not_equal(before, after);
		free(after);
		json_decref(c);
	}
	json_object_set_new(ready_condition(copy), "status", json_string("False"));
	after = digest_text(kube_node_digest, copy);
	assert_string_not_equal(before, after);
	free(after);
	json_decref(copy);
	copy = json_deep_copy(obj);
	json_object_set_new(json_object_get(copy, "spec"), "podCIDRs", json_pack("[s]", "10.244.9.0/24"));
	after = digest_text(kube_node_digest, copy);
	assert_string_not_equal(before, after);
	free(after);

	/* A digest translates exactly like the whole object. */
	annotate(obj, "skein.dev/public-key", KEY_A);
	annotate(obj, "kilo.squat.ai/location", "kind");
	annotate(obj, "skein.dev/discovered-endpoints", "{\"" KEY_B "\": \"198.51.100.9:40000\"}");
	d = kube_node_digest(obj);
	assert_int_equal(kube_node_from_json(obj, &from_obj, found_obj, &err), 0);
	assert_int_equal(kube_node_from_json(d, &from_digest, found_digest, &err), 0);
	assert_memory_equal(&from_obj, &from_digest, sizeof(from_obj));
	assert_int_equal(from_obj.n_discovered, 1);
	assert_memory_equal(found_obj, found_digest, sizeof(found_obj[0]));
	json_decref(d);

	/* Peers: the spec is the digest. */
	json_t *p = base_peer();
	char *pd = digest_text(kube_peer_digest, p);
	json_object_set_new(json_object_get(p, "metadata"), "resourceVersion", json_string("7"));
	after = digest_text(kube_peer_digest, p);
	assert_string_equal(pd, after);
	free(after);
	json_object_set_new(json_object_get(p, "spec"), "persistentKeepalive", json_integer(5));
	after = digest_text(kube_peer_digest, p);
	assert_string_not_equal(pd, after);
	free(after);
	free(pd);
	json_decref(p);
	free(before);
	json_decref(copy);
	json_decref(obj);
}

static void add_digest(json_t *cache, json_t *(*digest)(const json_t *), json_t *obj)
{
	char *text = digest_text(digest, obj);

	json_object_set_new(cache, json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")),
			    json_string(text));
	free(text);
	json_decref(obj);
}

static json_t *named_node(const char *name, const char *key, const char *value)
{
	json_t *n = node_with(key, value);

	json_object_set_new(json_object_get(n, "metadata"), "name", json_string(name));
	return n;
}

/* A bad object is left out and reported; every other one is kept, sorted. */
static void test_cluster_build(void **state)
{
	json_t *nodes = json_object(), *peers = json_object(), *rejected = json_object(), *bad_peer, *dump;
	struct cluster c;
	struct error err;

	(void)state;
	add_digest(nodes, kube_node_digest, named_node("zeta", "skein.dev/location", "a"));
	add_digest(nodes, kube_node_digest, named_node("alpha", "skein.dev/location", "b"));
	add_digest(nodes, kube_node_digest, named_node("mid", "skein.dev/persistent-keepalive", "often"));
	add_digest(peers, kube_peer_digest, base_peer());
	bad_peer = base_peer();
	json_object_set_new(json_object_get(bad_peer, "metadata"), "name", json_string("broken"));
	json_object_set_new(json_object_get(bad_peer, "spec"), "allowedIPs", json_array());
	add_digest(peers, kube_peer_digest, bad_peer);
	json_object_set_new(rejected, "stale", json_string("from before"));

	assert_int_equal(kube_cluster_build(nodes, peers, &c, rejected, &err), 0);
	assert_int_equal(c.n_nodes, 2);
	assert_string_equal(c.nodes[0].name, "alpha");
	assert_string_equal(c.nodes[1].name, "zeta");
	assert_int_equal(c.n_peers, 1);
	assert_string_equal(c.peers[0].name, "laptop");
	assert_int_equal(json_object_size(rejected), 2);
	assert_string_equal(json_string_value(json_object_get(rejected, "node/mid")),
			    "node mid: annotation skein.dev/persistent-keepalive: bad value \"often\"");
	assert_string_equal(json_string_value(json_object_get(rejected, "peer/broken")),
			    "peer broken: spec.allowedIPs: missing or empty");

	dump = kube_cluster_to_json(&c);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(dump, "nodes"), 1),
							      "location")), "a");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(dump, "peers"), 0),
							      "endpoint")), "laptop.example.com:51820");
	json_decref(dump);
	cluster_free(&c);
	json_decref(nodes);
	json_decref(peers);
	json_decref(rejected);
}

static json_t *copy_cache(const json_t *cache)
{
	json_t *copy = json_object();

	json_object_update(copy, (json_t *)cache);
	return copy;
}

/* A change to valid nodes is applied in place; a new or vanished name, a
 * node turning bad or a bad one changing asks for a rebuild. */
static void test_cluster_update_in_place(void **state)
{
	json_t *nodes = json_object(), *peers = json_object(), *rejected = json_object(), *before, *after;
	struct cluster c;
	struct error err;

	(void)state;
	add_digest(nodes, kube_node_digest, named_node("zeta", "skein.dev/location", "a"));
	add_digest(nodes, kube_node_digest, named_node("alpha", "skein.dev/location", "b"));
	add_digest(nodes, kube_node_digest, named_node("bad", "skein.dev/leader", "maybe"));
	assert_int_equal(kube_cluster_build(nodes, peers, &c, rejected, &err), 0);
	before = copy_cache(nodes);

	assert_int_equal(kube_cluster_update_nodes(&c, before, nodes), 0); /* nothing changed */
	after = copy_cache(nodes);
	add_digest(after, kube_node_digest, named_node("alpha", "skein.dev/location", "moved"));
	assert_int_equal(kube_cluster_update_nodes(&c, before, after), 0);
	assert_int_equal(c.n_nodes, 2);
	assert_string_equal(c.nodes[0].name, "alpha");
	assert_string_equal(c.nodes[0].location, "moved");
	assert_string_equal(c.nodes[1].location, "a");
	/* What the old translation set is cleared: a leader, then not. */
	json_t *lead = copy_cache(after), *plain = copy_cache(nodes);
	add_digest(lead, kube_node_digest, named_node("alpha", "skein.dev/leader", "true"));
	assert_int_equal(kube_cluster_update_nodes(&c, after, lead), 0);
	assert_true(c.nodes[0].leader);
	assert_string_equal(c.nodes[0].location, "");
	assert_int_equal(kube_cluster_update_nodes(&c, lead, plain), 0);
	assert_false(c.nodes[0].leader);
	assert_string_equal(c.nodes[0].location, "b");
	json_decref(lead);
	json_decref(plain);
	json_decref(after);

	static const char *const rebuild[][3] = {
		{ "alpha", "skein.dev/persistent-keepalive", "x" }, /* turns bad */
		{ "bad", "skein.dev/leader", "true" },              /* was bad */
		{ "new", "skein.dev/location", "c" },               /* a new name */
	};
	for (size_t i = 0; i < sizeof(rebuild) / sizeof(rebuild[0]); i++) {
		after = copy_cache(nodes);
		add_digest(after, kube_node_digest, named_node(rebuild[i][0], rebuild[i][1], rebuild[i][2]));
		assert_int_equal(kube_cluster_update_nodes(&c, before, after), 1);
		json_decref(after);
	}
	after = copy_cache(nodes);
	json_object_del(after, "zeta");
	assert_int_equal(kube_cluster_update_nodes(&c, before, after), 1); /* one gone */
	json_decref(after);

	cluster_free(&c);
	json_decref(before);
	json_decref(nodes);
	json_decref(peers);
	json_decref(rejected);
}

/* A node that discovered n endpoints: keys 1..n, hosts 198.51.100.1..n,
 * all on port. */
static json_t *node_discovering(const char *name, size_t n, unsigned port)
{
	json_t *map = json_object(), *node;
	char *text;

	for (size_t i = 0; i < n; i++) {
		struct wg_key k = { { (uint8_t)(i + 1) } };
		char b64[WG_KEY_B64_LEN], endpoint[32];

		snprintf(endpoint, sizeof(endpoint), "198.51.100.%zu:%u", i + 1, port);
		json_object_set_new(map, key_to_base64(&k, b64), json_string(endpoint));
	}
	text = json_dumps(map, JSON_COMPACT);
	node = named_node(name, "skein.dev/discovered-endpoints", text);
	free(text);
	json_decref(map);
	return node;
}

static void assert_same_model(const struct cluster *a, const struct cluster *b)
{
	json_t *ja = kube_cluster_to_json(a), *jb = kube_cluster_to_json(b);
	char *ta = json_dumps(ja, JSON_SORT_KEYS), *tb = json_dumps(jb, JSON_SORT_KEYS);
	size_t used = 0;

	assert_string_equal(ta, tb);
	for (size_t i = 0; i < a->n_nodes; i++) {
		assert_true(a->nodes[i].first_discovered + a->nodes[i].n_discovered <= a->n_discovered);
		used += a->nodes[i].n_discovered;
	}
	assert_int_equal(used, a->n_discovered); /* packed */
	free(ta);
	free(tb);
	json_decref(ja);
	json_decref(jb);
}

/* A node's discovered endpoints growing or shrinking in place moves the
 * other nodes' (every node's endpoints are on a port of its own, so a
 * run read at the wrong place shows): the model stays what a fresh build
 * of the same digests gives. */
static void test_cluster_update_discovered(void **state)
{
	static const struct { const char *name; size_t n; } steps[] = {
		{ "b", 2 }, { "a", 0 }, { "d", 1 }, { "a", 3 }, { "c", 0 }, { "b", 2 },
		{ "d", MODEL_MAX_DISCOVERED }, { "a", 1 }, { "d", 0 }, { "c", 5 },
	};
	static const struct { const char *name; size_t n; } initial[] = {
		{ "a", 2 }, { "b", 0 }, { "c", 1 }, { "d", 3 },
	};
	json_t *nodes = json_object(), *peers = json_object(), *rejected = json_object();
	struct cluster c, fresh;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(initial) / sizeof(initial[0]); i++)
		add_digest(nodes, kube_node_digest, node_discovering(initial[i].name, initial[i].n, 40000 + i));
	assert_int_equal(kube_cluster_build(nodes, peers, &c, rejected, &err), 0);
	assert_int_equal(c.n_discovered, 6);
	assert_int_equal(node_discovered(&c, &c.nodes[3])[2].endpoint.port, 40003);
	assert_null(node_discovered(&c, &c.nodes[1]));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		json_t *before = copy_cache(nodes);

		add_digest(nodes, kube_node_digest, node_discovering(steps[i].name, steps[i].n, 41000 + i));
		assert_int_equal(kube_cluster_update_nodes(&c, before, nodes), 0);
		assert_int_equal(kube_cluster_build(nodes, peers, &fresh, rejected, &err), 0);
		assert_same_model(&c, &fresh);
		cluster_free(&fresh);
		json_decref(before);
	}
	cluster_free(&c);
	json_decref(nodes);
	json_decref(peers);
	json_decref(rejected);
}

static void test_endpoint_parse(void **state)
{
	static const struct { const char *in, *host; uint16_t port; } good[] = {
		{ "1.2.3.4:51820", "1.2.3.4", 51820 },
		{ "[FD00:0::1]:1", "fd00::1", 1 },
		{ "Node-1.Example.com:65535", "Node-1.Example.com", 65535 },
		{ "localhost:80", "localhost", 80 },
	};
	struct endpoint e;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(endpoint_parse(good[i].in, &e), 0);
		assert_string_equal(e.host, good[i].host);
		assert_int_equal(e.port, good[i].port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_node),
		cmocka_unit_test(test_skein_annotations),
		cmocka_unit_test(test_kilo_fallbacks),
		cmocka_unit_test(test_location_and_endpoint_sources),
		cmocka_unit_test(test_bad_annotations),
		cmocka_unit_test(test_bad_node_fields),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_bad_peers),
		cmocka_unit_test(test_digest_ignores_irrelevant_changes),
		cmocka_unit_test(test_cluster_build),
		cmocka_unit_test(test_cluster_update_in_place),
		cmocka_unit_test(test_cluster_update_discovered),
		cmocka_unit_test(test_endpoint_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
