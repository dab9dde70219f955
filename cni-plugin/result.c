// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <stdio.h>
#include <string.h>

/* ---- encoding ---- */

static json_t *encode_iface(const struct cni_iface *i, enum cni_version v)
{
	json_t *j = json_pack("{s:s}", "name", i->name);
	char mac[18];

	if (!j)
		return NULL;
	if (i->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", i->mac[0],
			 i->mac[1], i->mac[2], i->mac[3], i->mac[4], i->mac[5]);
		json_object_set_new(j, "mac", json_string(mac));
	}
	if (i->mtu && v >= CNI_V110)
		json_object_set_new(j, "mtu", json_integer(i->mtu));
	if (i->sandbox[0])
		json_object_set_new(j, "sandbox", json_string(i->sandbox));
	return j;
}

static json_t *encode_ip(const struct cni_ip *ip, enum cni_version v)
{
	char addr[CIDR_STRLEN], gw[INET6_ADDRSTRLEN];
	json_t *j = json_pack("{s:s}", "address", cidr_format(&ip->address, addr));

	if (!j)
		return NULL;
	/* Before 1.0.0 every IP says its family. */
	if (v < CNI_V100)
		json_object_set_new(j, "version",
				    json_string(ip->address.ip.family == AF_INET6 ? "6" : "4"));
	if (ip->gateway.family)
		json_object_set_new(j, "gateway", json_string(ip_format(&ip->gateway, gw)));
	if (ip->iface >= 0)
		json_object_set_new(j, "interface", json_integer(ip->iface));
	return j;
}

static json_t *encode_route(const struct cni_route *r)
{
	char dst[CIDR_STRLEN], gw[INET6_ADDRSTRLEN];
	json_t *j = json_pack("{s:s}", "dst", cidr_format(&r->dst, dst));

	if (j && r->gw.family)
		json_object_set_new(j, "gw", json_string(ip_format(&r->gw, gw)));
	return j;
}

json_t *cni_result_encode(const struct cni_result *r, enum cni_version v)
{
	json_t *ifaces = json_array(), *ips = json_array(), *routes = json_array();

	for (size_t i = 0; ifaces && i < r->n_ifaces; i++)
		json_array_append_new(ifaces, encode_iface(&r->ifaces[i], v));
	for (size_t i = 0; ips && i < r->n_ips; i++)
		json_array_append_new(ips, encode_ip(&r->ips[i], v));
	for (size_t i = 0; routes && i < r->n_routes; i++)
		json_array_append_new(routes, encode_route(&r->routes[i]));
	return json_pack("{s:s, s:o*, s:o*, s:o*, s:{}}", "cniVersion", cni_versions[v],
			 "interfaces", ifaces, "ips", ips, "routes", routes, "dns");
}

/* ---- decoding (prevResult) ---- */

static int decode_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int decode_iface(const json_t *j, size_t idx, struct cni_iface *out, struct error *err)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *mac = json_string_value(json_object_get(j, "mac"));
	const char *sandbox = json_string_value(json_object_get(j, "sandbox"));

	if (!name || strlen(name) >= sizeof(out->name))
		return error_set(err, "prevResult interfaces[%zu]: bad or missing name", idx);
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (mac) {
		if (decode_mac(mac, out->mac) < 0)
			return error_set(err, "prevResult interfaces[%zu]: bad mac %s", idx, mac);
		out->has_mac = true;
	}
	if (sandbox && strlen(sandbox) < sizeof(out->sandbox))
		snprintf(out->sandbox, sizeof(out->sandbox), "%s", sandbox);
	out->mtu = (uint32_t)json_integer_value(json_object_get(j, "mtu"));
	return 0;
}

static int decode_optional_ip(const json_t *j, const char *key, struct ip_addr *out)
{
	const char *s = json_string_value(json_object_get(j, key));

	memset(out, 0, sizeof(*out));
	return s ? ip_parse(s, out) : 0;
}

static int decode_ip(const json_t *j, size_t idx, size_t n_ifaces, struct cni_ip *out,
		     struct error *err)
{
	const char *addr = json_string_value(json_object_get(j, "address"));
	const json_t *iface = json_object_get(j, "interface");

	if (!addr || cidr_parse(addr, &out->address) < 0)
		return error_set(err, "prevResult ips[%zu]: bad or missing address", idx);
	if (decode_optional_ip(j, "gateway", &out->gateway) < 0)
		return error_set(err, "prevResult ips[%zu]: bad gateway", idx);
	out->iface = -1;
	if (iface) {
		if (!json_is_integer(iface) || json_integer_value(iface) < 0 ||
		    (size_t)json_integer_value(iface) >= n_ifaces)
			return error_set(err, "prevResult ips[%zu]: interface is not an index "
					 "into interfaces", idx);
		out->iface = (int)json_integer_value(iface);
	}
	return 0;
}

static int decode_route(const json_t *j, size_t idx, struct cni_route *out, struct error *err)
{
	const char *dst = json_string_value(json_object_get(j, "dst"));

	if (!dst || cidr_parse(dst, &out->dst) < 0)
		return error_set(err, "prevResult routes[%zu]: bad or missing dst", idx);
	if (decode_optional_ip(j, "gw", &out->gw) < 0)
		return error_set(err, "prevResult routes[%zu]: bad gw", idx);
	return 0;
}

static int check_array(const json_t *a, const char *key, size_t max, struct error *err)
{
	if (a && (!json_is_array(a) || json_array_size(a) > max))
		return error_set(err, "prevResult %s must be an array of at most %zu entries",
				 key, max);
	return 0;
}

int cni_result_decode(const json_t *j, struct cni_result *r, struct error *err)
{
	const json_t *ifaces = json_object_get(j, "interfaces");
	const json_t *ips = json_object_get(j, "ips");
	const json_t *routes = json_object_get(j, "routes");
	json_t *v;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (check_array(ifaces, "interfaces", CNI_MAX_IFACES, err) < 0 ||
	    check_array(ips, "ips", CNI_MAX_IPS, err) < 0 ||
	    check_array(routes, "routes", CNI_MAX_ROUTES, err) < 0)
		return -1;
	json_array_foreach(ifaces, i, v)
		if (decode_iface(v, i, &r->ifaces[r->n_ifaces++], err) < 0)
			return -1;
	json_array_foreach(ips, i, v)
		if (decode_ip(v, i, r->n_ifaces, &r->ips[r->n_ips++], err) < 0)
			return -1;
	json_array_foreach(routes, i, v)
		if (decode_route(v, i, &r->routes[r->n_routes++], err) < 0)
			return -1;
	return 0;
}
