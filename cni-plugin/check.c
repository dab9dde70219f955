// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <stdlib.h>
#include <string.h>

/* The prevResult interface that is ours: CNI_IFNAME in CNI_NETNS. */
static int find_pod_iface(const struct cni_result *prev, const struct cni_env *env,
			  struct error *err)
{
	for (size_t i = 0; i < prev->n_ifaces; i++)
		if (strcmp(prev->ifaces[i].name, env->key.ifname) == 0 &&
		    strcmp(prev->ifaces[i].sandbox, env->netns) == 0)
			return (int)i;
	return error_set(err, "prevResult has no interface %s in sandbox %s",
			 env->key.ifname, env->netns);
}

static int check_link(const struct link_info *l, const struct cni_iface *want,
		      const struct cni_conf *conf, struct error *err)
{
	if (strcmp(l->kind, "veth") != 0)
		return error_set(err, "interface %s is a %s, not a veth", l->name,
				 l->kind[0] ? l->kind : "device");
	if (!l->up)
		return error_set(err, "interface %s is down", l->name);
	if (conf->mtu && l->mtu != conf->mtu)
		return error_set(err, "interface %s has MTU %u, config says %u", l->name,
				 l->mtu, conf->mtu);
	if (want && want->has_mac && memcmp(want->mac, l->mac, sizeof(l->mac)) != 0)
		return error_set(err, "interface %s has another MAC than prevResult says", l->name);
	return 0;
}

static bool has_addr(const struct cidr *addrs, size_t n, const struct cidr *want)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(&addrs[i], want) && addrs[i].prefix == want->prefix)
			return true;
	return false;
}

static bool has_route(const struct link_route *routes, size_t n, const struct cidr *dst,
		      const struct ip_addr *gw)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(&routes[i].dst, dst) && routes[i].dst.prefix == dst->prefix &&
		    (gw->family ? ip_equal(&routes[i].gateway, gw) : !routes[i].gateway.family))
			return true;
	return false;
}

static int check_pod_addresses(struct cni_wiring *w, const struct cni_result *prev, int iface,
			       struct error *err)
{
	char buf[CIDR_STRLEN];
	struct cidr *addrs;
	size_t n;
	int ret = 0;

	if (link_addr_list(&w->pod, w->pod_link.index, 0, &addrs, &n, err) < 0)
		return -1;
	for (size_t i = 0; ret == 0 && i < prev->n_ips; i++)
		if (prev->ips[i].iface == iface && !has_addr(addrs, n, &prev->ips[i].address))
			ret = error_set(err, "interface %s lacks address %s", w->pod_link.name,
					cidr_format(&prev->ips[i].address, buf));
	free(addrs);
	return ret;
}

static int check_pod_routes(struct cni_wiring *w, const struct cni_result *prev,
			    struct error *err)
{
	char buf[CIDR_STRLEN];
	struct link_route *routes;
	size_t n;
	int ret = 0;

	if (link_route_list(&w->pod, 0, 0, 0, &routes, &n, err) < 0)
		return -1;
	for (size_t i = 0; ret == 0 && i < prev->n_routes; i++)
		if (!has_route(routes, n, &prev->routes[i].dst, &prev->routes[i].gw))
			ret = error_set(err, "pod has no route to %s",
					cidr_format(&prev->routes[i].dst, buf));
	free(routes);
	return ret;
}

/* Each pod address needs its host route through the host veth. */
static int check_host_routes(struct cni_wiring *w, const struct cni_result *prev, int iface,
			     struct error *err)
{
	struct ip_addr none = { 0 };
	char buf[CIDR_STRLEN];
	struct link_route *routes;
	size_t n;
	int ret = 0;

	if (link_route_list(&w->host, 0, 0, w->host_link.index, &routes, &n, err) < 0)
		return -1;
	for (size_t i = 0; ret == 0 && i < prev->n_ips; i++) {
		struct cidr host = cidr_host(&prev->ips[i].address.ip);

		if (prev->ips[i].iface == iface && !has_route(routes, n, &host, &none))
			ret = error_set(err, "node has no route to %s via %s",
					cidr_format(&host, buf), w->host_name);
	}
	free(routes);
	return ret;
}

static int check_wiring(const struct cni_env *env, const struct cni_conf *conf,
			const struct cni_result *prev, int iface, struct error *err)
{
	struct cni_wiring w;
	int ret = cni_wiring_open(&w, env, err);

	cni_host_veth_name(&env->key, w.host_name);
	if (ret == 0)
		ret = link_get(&w.host, w.host_name, &w.host_link, err);
	if (ret == 0)
		ret = link_get(&w.pod, env->key.ifname, &w.pod_link, err);
	if (ret == 0)
		ret = check_link(&w.host_link, NULL, conf, err);
	if (ret == 0)
		ret = check_link(&w.pod_link, &prev->ifaces[iface], conf, err);
	if (ret == 0)
		ret = check_pod_addresses(&w, prev, iface, err);
	if (ret == 0)
		ret = check_pod_routes(&w, prev, err);
	if (ret == 0)
		ret = check_host_routes(&w, prev, iface, err);
	cni_wiring_close(&w);
	return ret;
}

/* The allocation on disk must still hold the addresses of prevResult. */
static int check_allocation(const struct cni_env *env, const struct cni_conf *conf,
			    const struct cni_result *prev, int iface, struct error *err)
{
	struct ipam_store store;
	struct ipam_alloc alloc;
	struct ipam_alloc *all;
	size_t n;
	bool found = false;
	int ret;

	if (ipam_store_open(&store, conf->data_dir, conf->name, err) < 0)
		return -1;
	ret = ipam_store_list(&store, &all, &n, err);
	ipam_store_close(&store);
	if (ret < 0)
		return -1;
	memset(&alloc, 0, sizeof(alloc));
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i].key.container_id, env->key.container_id) == 0 &&
		    strcmp(all[i].key.ifname, env->key.ifname) == 0) {
			alloc = all[i];
			found = true;
		}
	free(all);
	if (!found)
		return error_set(err, "no address allocation for %s/%s",
				 env->key.container_id, env->key.ifname);
	for (size_t i = 0; i < prev->n_ips; i++) {
		bool held = false;

		for (size_t j = 0; j < alloc.n_ips; j++)
			held = held || ip_equal(&alloc.ips[j], &prev->ips[i].address.ip);
		if (prev->ips[i].iface == iface && !held)
			return error_set(err, "address of %s/%s is not allocated to it",
					 env->key.container_id, env->key.ifname);
	}
	return 0;
}

int cni_check(const struct cni_env *env, const struct cni_conf *conf, struct error *err)
{
	struct cni_result *prev;
	int iface, code = CNI_OK;

	if (cni_require_version(conf->version, CNI_V040, "CHECK", err) < 0)
		return CNI_ERR_VERSION;
	if (!conf->prev_result) {
		error_set(err, "CHECK needs prevResult in the config");
		return CNI_ERR_CONFIG;
	}
	prev = malloc(sizeof(*prev)); /* several KiB of sandbox paths */
	if (!prev) {
		error_set(err, "out of memory");
		return CNI_ERR_IO;
	}
	if (cni_result_decode(conf->prev_result, prev, err) < 0)
		code = CNI_ERR_CONFIG;
	else if ((iface = find_pod_iface(prev, env, err)) < 0 ||
		 check_allocation(env, conf, prev, iface, err) < 0 ||
		 check_wiring(env, conf, prev, iface, err) < 0)
		code = CNI_ERR_CHECK;
	free(prev);
	return code;
}
