// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"

int cni_wiring_open(struct cni_wiring *w, const struct cni_env *env, struct error *err)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->netns_fd = netns_open(env->netns, err);
	if (w->netns_fd < 0)
		return -1;
	ret = nl_open(&w->host, NETLINK_ROUTE);
	if (ret < 0)
		return error_set(err, "netlink socket: %s", strerror(-ret));
	return netns_nl_open(w->netns_fd, &w->pod, err) < 0 ? -1 : 0;
}

void cni_wiring_close(struct cni_wiring *w)
{
	nl_close(&w->host);
	nl_close(&w->pod);
	if (w->netns_fd >= 0)
		close(w->netns_fd);
	w->netns_fd = -1;
}
