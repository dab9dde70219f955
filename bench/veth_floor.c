// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * veth_floor POD_NETNS N: the kernel's own cost of what every routed-veth
 * plugin does per pod, without any plugin around it. N times: create a
 * veth pair (one end here, one in POD_NETNS, as skein and ptp do), then
 * time only the one RTM_DELLINK request that deletes it. Prints
 * "DEL_MEDIAN_US DEL_P99_US".
 * Why: deleting a netdevice waits in the kernel for an RCU barrier
 * (netdev_run_todo -> rcu_barrier), which no plugin can shorten; this
 * bounds the DEL latency of any plugin that removes the veth before it
 * returns, so bench_cni.sh can print the best ratio any such plugin
 * could reach against the reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "netns.h"

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* One round: -1 with err set when the pair cannot be made or removed. */
static long long time_one_delete(struct nl *host, int pod_fd, struct error *err)
{
	long long t0;

	if (link_veth_create(host, "skfloor0", "skfloor1", pod_fd, 0, err) < 0)
		return -1;
	t0 = now_us();
	if (link_delete(host, "skfloor0", err) < 0)
		return -1;
	return now_us() - t0;
}

int main(int argc, char **argv)
{
	struct error err;
	struct nl host;
	long long *us;
	int pod_fd, n;

	if (argc != 3 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: veth_floor POD_NETNS N\n");
		return 2;
	}
	us = calloc((size_t)n, sizeof(*us));
	pod_fd = netns_open(argv[1], &err);
	if (!us || pod_fd < 0 || nl_open(&host, NETLINK_ROUTE) < 0) {
		fprintf(stderr, "veth_floor: %s\n", us && pod_fd < 0 ? err.msg : "out of resources");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		us[i] = time_one_delete(&host, pod_fd, &err);
		if (us[i] < 0) {
			fprintf(stderr, "veth_floor: %s\n", err.msg);
			return 1;
		}
	}
	qsort(us, (size_t)n, sizeof(*us), cmp_ll);
	printf("%lld %lld\n", us[n / 2], us[(int)(0.99 * (n - 1) + 0.5)]);
	nl_close(&host);
	close(pod_fd);
	free(us);
	return 0;
}
