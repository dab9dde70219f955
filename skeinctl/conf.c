// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "key.h"
#include "skeinctl.h"

/* "host:port", IPv6 literals in brackets, as wg(8) writes endpoints. */
static const char *endpoint_text(const struct endpoint *e, char *buf, size_t len)
{
	bool v6 = strchr(e->host, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", e->host, v6 ? "]" : "", e->port);
	return buf;
}

static void write_cidrs(FILE *f, const char *field, const struct cidr *c, size_t n)
{
	char buf[CIDR_STRLEN];

	if (!n)
		return;
	fprintf(f, "%s = ", field);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", cidr_format(&c[i], buf));
	fputc('\n', f);
}

/* True when c holds the literal IP of some peer's endpoint. */
static bool holds_an_endpoint(const struct cidr *c, const struct conf *conf)
{
	struct ip_addr ip;

	for (size_t i = 0; conf && i < conf->n_peers; i++)
		if (ip_parse(conf->peers[i].endpoint.host, &ip) == 0 && cidr_contains(c, &ip))
			return true;
	return false;
}

/* wg-quick routes every AllowedIP into the tunnel; one holding a peer's
 * endpoint would route the tunnel's own packets into itself (the agent
 * leaves such routes out; a wg-quick config can only leave the IP out). */
static void write_allowed_ips(FILE *f, const struct plan_peer *p, const struct conf *conf)
{
	char buf[CIDR_STRLEN];
	size_t written = 0;

	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		if (holds_an_endpoint(&p->allowed_ips[i], conf))
			continue;
		fprintf(f, "%s%s", written++ ? ", " : "AllowedIPs = ",
			cidr_format(&p->allowed_ips[i], buf));
	}
	if (written)
		fputc('\n', f);
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (holds_an_endpoint(&p->allowed_ips[i], conf))
			fprintf(f, "# not in AllowedIPs: %s holds a peer's endpoint, reached directly\n",
				cidr_format(&p->allowed_ips[i], buf));
}

static void write_peer(FILE *f, const struct plan_peer *p, const struct conf *conf)
{
	char key[WG_KEY_B64_LEN], ep[MODEL_HOST_MAX + 16];

	fprintf(f, "[Peer]\n# %s\nPublicKey = %s\n", p->name, key_to_base64(&p->public_key, key));
	if (p->has_preshared_key)
		fprintf(f, "PresharedKey = %s\n", key_to_base64(&p->preshared_key, key));
	write_allowed_ips(f, p, conf);
	if (p->endpoint.host[0] && p->endpoint.port)
		fprintf(f, "Endpoint = %s\n", endpoint_text(&p->endpoint, ep, sizeof(ep)));
	if (p->persistent_keepalive > 0)
		fprintf(f, "PersistentKeepalive = %d\n", p->persistent_keepalive);
}

void conf_write_peer(FILE *f, const struct plan_peer *p)
{
	write_peer(f, p, NULL);
}

void conf_write_wireguard(FILE *f, const struct conf *conf)
{
	char key[WG_KEY_B64_LEN];

	fputs("[Interface]\n", f);
	if (conf->private_key)
		fprintf(f, "PrivateKey = %s\n", key_to_base64(conf->private_key, key));
	else
		fprintf(f, "# PrivateKey = %s\n", conf->private_key_hint ? conf->private_key_hint
									  : "(this host's private key)");
	write_cidrs(f, "Address", conf->addresses, conf->n_addresses);
	if (conf->listen_port)
		fprintf(f, "ListenPort = %u\n", conf->listen_port);
	for (size_t i = 0; i < conf->n_peers; i++) {
		fputc('\n', f);
		write_peer(f, &conf->peers[i], conf);
	}
}

static json_t *cidrs_json(const struct cidr *c, size_t n)
{
	json_t *a = json_array();
	char buf[CIDR_STRLEN];

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(cidr_format(&c[i], buf))) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *peer_json(const struct plan_peer *p)
{
	char key[WG_KEY_B64_LEN], ep[MODEL_HOST_MAX + 16];
	json_t *j = json_pack("{s:s,s:s,s:o}", "name", p->name, "publicKey",
			      key_to_base64(&p->public_key, key), "allowedIPs",
			      cidrs_json(p->allowed_ips, p->n_allowed_ips));

	if (j && p->endpoint.host[0] && p->endpoint.port)
		json_object_set_new(j, "endpoint", json_string(endpoint_text(&p->endpoint, ep, sizeof(ep))));
	if (j && p->persistent_keepalive > 0)
		json_object_set_new(j, "persistentKeepalive", json_integer(p->persistent_keepalive));
	if (j && p->has_preshared_key)
		json_object_set_new(j, "presharedKey", json_string(key_to_base64(&p->preshared_key, key)));
	return j;
}

json_t *conf_to_json(const struct conf *conf)
{
	json_t *iface = json_pack("{s:o}", "address", cidrs_json(conf->addresses, conf->n_addresses));
	json_t *peers = json_array();
	json_t *out;

	if (iface && conf->listen_port)
		json_object_set_new(iface, "listenPort", json_integer(conf->listen_port));
	for (size_t i = 0; peers && i < conf->n_peers; i++)
		if (json_array_append_new(peers, peer_json(&conf->peers[i])) < 0) {
			json_decref(peers);
			peers = NULL;
		}
	out = json_pack("{s:o,s:o}", "interface", iface, "peers", peers);
	return out;
}

static json_t *endpoint_json(const struct endpoint *e)
{
	struct ip_addr ip;

	return json_pack("{s:s,s:i}", ip_parse(e->host, &ip) == 0 ? "ip" : "dns", e->host, "port",
			 (int)e->port);
}

json_t *peer_object(const char *name, const struct plan_peer *p)
{
	char key[WG_KEY_B64_LEN];
	json_t *spec = json_pack("{s:s,s:o}", "publicKey", key_to_base64(&p->public_key, key),
				 "allowedIPs", cidrs_json(p->allowed_ips, p->n_allowed_ips));

	if (spec && p->endpoint.host[0] && p->endpoint.port)
		json_object_set_new(spec, "endpoint", endpoint_json(&p->endpoint));
	if (spec && p->persistent_keepalive > 0)
		json_object_set_new(spec, "persistentKeepalive", json_integer(p->persistent_keepalive));
	if (spec && p->has_preshared_key)
		json_object_set_new(spec, "presharedKey", json_string(key_to_base64(&p->preshared_key, key)));
	return json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "skein.dev/v1alpha1", "kind", "Peer",
			 "metadata", "name", name, "spec", spec);
}

struct plan_peer plan_peer_of(const struct peer *p)
{
	struct plan_peer pp;

	memset(&pp, 0, sizeof(pp));
	snprintf(pp.name, sizeof(pp.name), "peer/%s", p->name);
	pp.public_key = p->public_key;
	pp.endpoint = p->endpoint;
	pp.persistent_keepalive = p->persistent_keepalive;
	pp.preshared_key = p->preshared_key;
	pp.has_preshared_key = p->has_preshared_key;
	pp.allowed_ips = (struct cidr *)p->allowed_ips;
	pp.n_allowed_ips = p->n_allowed_ips;
	return pp;
}
