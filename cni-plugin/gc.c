// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"

static bool is_valid_veth(const struct cni_conf *conf, const char *name)
{
	char want[IF_NAMESIZE];

	for (size_t i = 0; i < conf->n_valid; i++) {
		cni_host_veth_name(&conf->valid[i], want);
		if (strcmp(want, name) == 0)
			return true;
	}
	return false;
}

/* Host veths of this network (by name shape and alias) whose attachment is
 * not in the valid list. */
static bool is_stale_veth(const struct cni_conf *conf, const struct link_info *l,
			  const char *alias)
{
	return strcmp(l->kind, "veth") == 0 && strcmp(l->alias, alias) == 0 &&
	       cni_is_host_veth_name(l->name) && !is_valid_veth(conf, l->name);
}

static int remove_stale_veths(const struct cni_conf *conf, struct error *err)
{
	struct link_info *links = NULL;
	size_t n = 0, removed = 0;
	char alias[64];
	struct nl nl;
	int ret;

	cni_host_veth_alias(conf->name, alias);
	ret = nl_open(&nl, NETLINK_ROUTE);
	if (ret < 0)
		return error_set(err, "netlink socket: %s", strerror(-ret));
	ret = link_list(&nl, &links, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (!is_stale_veth(conf, &links[i], alias))
			continue;
		ret = link_delete(&nl, links[i].name, err);
		if (ret == -ENODEV)
			ret = 0;
		else if (ret == 0)
			removed++;
	}
	free(links);
	nl_close(&nl);
	if (ret == 0 && removed)
		log_info("GC: removed %zu stale host veths", removed);
	return ret;
}

int cni_gc(const struct cni_conf *conf, struct error *err)
{
	struct ipam_store store;
	size_t released;
	int ret;

	if (cni_require_version(conf->version, CNI_V110, "GC", err) < 0)
		return CNI_ERR_VERSION;
	/* Without the list every attachment would look stale. */
	if (!conf->valid) {
		error_set(err, "GC needs cni.dev/valid-attachments in the config");
		return CNI_ERR_CONFIG;
	}
	if (remove_stale_veths(conf, err) < 0)
		return CNI_ERR_IO;
	if (ipam_store_open(&store, conf->data_dir, conf->name, err) < 0)
		return CNI_ERR_IO;
	ret = ipam_gc(&store, conf->valid, conf->n_valid, &released, err);
	ipam_store_close(&store);
	if (ret < 0)
		return CNI_ERR_IO;
	if (released)
		log_info("GC: released %zu allocations", released);
	return CNI_OK;
}
