// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

/* The plugin can add pods once the node agent wrote a pod CIDR into the
 * config; before that it is not available (50). */
int cni_status(const struct cni_conf *conf, struct error *err)
{
	if (cni_require_version(conf->version, CNI_V110, "STATUS", err) < 0)
		return CNI_ERR_VERSION;
	if (conf->n_pod_cidrs == 0) {
		error_set(err, "network %s has no podCIDRs: the node has no pod CIDR yet",
			  conf->name);
		return CNI_ERR_NOT_AVAILABLE;
	}
	return CNI_OK;
}
