// SPDX-License-Identifier: GPL-2.0-or-later
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>

int netns_open(const char *path, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int ret = -errno;

		error_set(err, "network namespace %s: %s", path, strerror(errno));
		return ret;
	}
	return fd;
}

int netns_nl_open(int netns_fd, struct nl *nl, struct error *err)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int ret;

	if (self < 0) {
		ret = -errno;
		error_set(err, "opening own network namespace: %s", strerror(errno));
		return ret;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		error_set(err, "entering network namespace: %s", strerror(errno));
		close(self);
		return ret;
	}
	ret = nl_open(nl, NETLINK_ROUTE);
	/* Failing to come back would leave us talking to the wrong namespace:
	 * nothing sensible can continue, but the caller decides. */
	if (setns(self, CLONE_NEWNET) < 0) {
		int back = -errno;

		if (ret == 0)
			nl_close(nl);
		close(self);
		error_set(err, "returning to own network namespace: %s", strerror(-back));
		return back;
	}
	close(self);
	if (ret < 0)
		error_set(err, "netlink socket in namespace: %s", strerror(-ret));
	return ret;
}
