// SPDX-License-Identifier: GPL-2.0-or-later
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <sys/vfs.h>

/* The runtime names the path: make sure it is a namespace file before
 * setns(2), so a wrong path gets a clear error instead of EINVAL. */
static int check_is_netns(int fd, const char *path, struct error *err)
{
	struct statfs fs;

	if (fstatfs(fd, &fs) < 0)
		return error_set(err, "network namespace %s: %s", path, strerror(errno));
	if (fs.f_type != NSFS_MAGIC)
		return error_set(err, "network namespace %s: not a namespace file", path);
	return 0;
}

int netns_open(const char *path, struct error *err)
{
	int fd;

	if (path[0] != '/') {
		error_set(err, "network namespace %s: not an absolute path", path);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int ret = -errno;

		error_set(err, "network namespace %s: %s", path, strerror(errno));
		return ret;
	}
	if (check_is_netns(fd, path, err) < 0) {
		close(fd);
		return -EINVAL;
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
