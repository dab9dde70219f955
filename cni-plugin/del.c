// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <errno.h>
#include <string.h>

#include "link.h"
#include "log.h"

/* Removing the host end of the veth removes the pod end with its address
 * and routes, and the host route with it: DEL never needs the pod's
 * namespace, so it works the same when that namespace is already gone. */
static int remove_veth(const struct ipam_key *key, struct error *err)
{
	char name[IF_NAMESIZE];
	struct nl nl;
	int ret;

	cni_host_veth_name(key, name);
	ret = nl_open(&nl, NETLINK_ROUTE);
	if (ret < 0)
		return error_set(err, "netlink socket: %s", strerror(-ret));
	ret = link_delete(&nl, name, err);
	nl_close(&nl);
	return ret == -ENODEV ? 0 : ret;
}

int cni_del(const struct cni_env *env, const struct cni_conf *conf, struct error *err)
{
	struct ipam_store store;
	bool released;
	int ret;

	if (remove_veth(&env->key, err) < 0)
		return CNI_ERR_IO;
	if (ipam_store_open(&store, conf->data_dir, conf->name, err) < 0)
		return CNI_ERR_IO;
	ret = ipam_release(&store, &env->key, &released, err);
	ipam_store_close(&store);
	if (ret < 0)
		return CNI_ERR_IO;
	log_debug("DEL %s/%s: %s", env->key.container_id, env->key.ifname,
		  released ? "released" : "nothing allocated");
	return CNI_OK;
}
