// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "link.h"
#include "log.h"
#include "sysctl.h"

/* *fresh tells whether this call made the allocation (and so may undo it). */
static int allocate(const struct cni_conf *conf, const struct ipam_key *key,
		    struct ipam_alloc *alloc, bool *fresh, struct error *err)
{
	struct ipam_store store;
	int ret;

	if (ipam_store_open(&store, conf->data_dir, conf->name, err) < 0)
		return CNI_ERR_IO;
	ret = ipam_allocate(&store, conf->pod_cidrs, conf->n_pod_cidrs, key, alloc, err);
	ipam_store_close(&store);
	*fresh = ret == 0;
	return ret < 0 ? CNI_ERR_TRY_LATER : CNI_OK;
}

static void release(const struct cni_conf *conf, const struct ipam_key *key)
{
	struct ipam_store store;
	struct error err;

	if (ipam_store_open(&store, conf->data_dir, conf->name, &err) < 0 ||
	    ipam_release(&store, key, NULL, &err) < 0)
		log_error("rolling back allocation of %s/%s: %s", key->container_id,
			  key->ifname, err.msg);
	ipam_store_close(&store);
}

/* Forwarding is what makes the node a router for its pods. */
static int enable_forwarding(const struct cidr *range, struct error *err)
{
	return sysctl_ensure(range->ip.family == AF_INET6 ? "net/ipv6/conf/all/forwarding"
					       : "net/ipv4/ip_forward", "1", err);
}

static int create_veth(struct cni_wiring *w, const struct cni_env *env,
		       const struct cni_conf *conf, struct error *err)
{
	char alias[64];

	cni_host_veth_name(&env->key, w->host_name);
	cni_host_veth_alias(conf->name, alias);
	if (link_veth_create_alias(&w->host, w->host_name, env->key.ifname, w->netns_fd,
				   conf->mtu, alias, err) < 0)
		return -1;
	w->created = true;
	if (link_get(&w->host, w->host_name, &w->host_link, err) < 0 ||
	    link_get(&w->pod, env->key.ifname, &w->pod_link, err) < 0 ||
	    link_set_up(&w->pod, w->pod_link.index, err) < 0)
		return -1;
	w->pod_link.up = true;
	return 0;
}

/* The node sends neighbour solicitations only from a link-local address
 * that finished DAD, which the kernel's own takes a second or two to do:
 * a fixed one without DAD lets pods be reached at once. */
static int add_host_link_local(struct cni_wiring *w, struct error *err)
{
	struct cidr ll;

	if (cidr_parse("fe80::1/64", &ll) < 0)
		return error_set(err, "link-local address");
	return link_addr_add(&w->host, w->host_link.index, &ll, IFA_F_NODAD, err);
}

/* Host: the gateway on the veth and a host route to the pod. Pod: its
 * address as a host prefix and a default route via the gateway, which is
 * reachable on the link (onlink) though it is in no subnet of the pod. */
static int wire_address(struct cni_wiring *w, const struct cidr *range,
			const struct ip_addr *ip, struct cni_result *res,
			struct error *err)
{
	struct ip_addr gw;
	struct cidr gw_host, pod_host = cidr_host(ip), any = { .ip.family = ip->family };
	struct link_route to_pod = {
		.dst = pod_host, .oif = w->host_link.index, .scope = RT_SCOPE_LINK,
	};
	struct link_route dflt = { .dst = any, .oif = w->pod_link.index, .onlink = true };

	if (ipam_gateway(range, &gw) < 0)
		return error_set(err, "range without gateway");
	gw_host = cidr_host(&gw);
	dflt.gateway = gw;
	if ((ip->family == AF_INET6 && add_host_link_local(w, err) < 0) ||
	    link_addr_add(&w->host, w->host_link.index, &gw_host, IFA_F_NODAD, err) < 0 ||
	    link_route_add(&w->host, &to_pod, false, err) < 0 ||
	    link_addr_add(&w->pod, w->pod_link.index, &pod_host, IFA_F_NODAD, err) < 0 ||
	    link_route_add(&w->pod, &dflt, false, err) < 0)
		return -1;
	res->ips[res->n_ips++] = (struct cni_ip){ .address = pod_host, .gateway = gw, .iface = 1 };
	res->routes[res->n_routes++] = (struct cni_route){ .dst = any, .gw = gw };
	return 0;
}

static void describe_interfaces(const struct cni_wiring *w, const struct cni_env *env,
				struct cni_result *res)
{
	const struct link_info *links[2] = { &w->host_link, &w->pod_link };

	for (size_t i = 0; i < 2; i++) {
		struct cni_iface *f = &res->ifaces[res->n_ifaces++];

		snprintf(f->name, sizeof(f->name), "%s", links[i]->name);
		memcpy(f->mac, links[i]->mac, sizeof(f->mac));
		f->has_mac = true;
		f->mtu = links[i]->mtu;
	}
	snprintf(res->ifaces[1].sandbox, sizeof(res->ifaces[1].sandbox), "%s", env->netns);
}

static int wire(const struct cni_env *env, const struct cni_conf *conf,
		const struct ipam_alloc *alloc, struct cni_result *res, struct error *err)
{
	struct cni_wiring w = { .netns_fd = -1 };
	int ret = cni_wiring_open(&w, env, err);

	if (ret == 0)
		ret = create_veth(&w, env, conf, err);
	if (ret == 0)
		describe_interfaces(&w, env, res);
	for (size_t i = 0; ret == 0 && i < alloc->n_ips; i++)
		ret = enable_forwarding(&conf->pod_cidrs[i], err) < 0 ? -1 :
		      wire_address(&w, &conf->pod_cidrs[i], &alloc->ips[i], res, err);
	/* Deleting the host end takes the pod end, its address and routes. */
	if (ret < 0 && w.created)
		link_delete(&w.host, w.host_name, NULL);
	cni_wiring_close(&w);
	return ret;
}

int cni_add(const struct cni_env *env, const struct cni_conf *conf, json_t **result,
	    struct error *err)
{
	struct ipam_alloc alloc;
	struct cni_result res;
	bool fresh;
	int code;

	if (conf->n_pod_cidrs == 0) {
		error_set(err, "network %s has no podCIDRs yet", conf->name);
		return CNI_ERR_TRY_LATER;
	}
	code = allocate(conf, &env->key, &alloc, &fresh, err);
	if (code != CNI_OK)
		return code;
	memset(&res, 0, sizeof(res));
	if (wire(env, conf, &alloc, &res, err) < 0) {
		if (fresh)
			release(conf, &env->key);
		return CNI_ERR_IO;
	}
	*result = cni_result_encode(&res, conf->version);
	if (!*result) {
		error_set(err, "encoding result: out of memory");
		return CNI_ERR_IO;
	}
	return CNI_OK;
}
