// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * route_sync, rule_sync and nft_sync against a real kernel, in a network
 * namespace of this process's own (unshare), proving with nl.writes that a
 * second sync writes nothing. Skipped without the privilege to unshare.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "link.h"
#include "nft.h"
#include "route.h"

static bool in_own_netns;

static int setup(void **state)
{
	struct nl nl;
	struct error err;

	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		return 0; /* the tests skip */
	if (nl_open(&nl, NETLINK_ROUTE) < 0)
		return -1;
	in_own_netns = link_set_up(&nl, 1, &err) == 0; /* lo */
	nl_close(&nl);
	return in_own_netns ? 0 : -1;
}

static struct route lo_route(const char *dst, uint32_t table)
{
	struct route r = { .table = table };

	assert_int_equal(cidr_parse(dst, &r.dst), 0);
	strcpy(r.dev, "lo");
	return r;
}

static void test_second_sync_writes_nothing(void **state)
{
	struct route routes[] = { lo_route("10.9.0.0/24", 1107), lo_route("10.9.1.0/24", 0),
				  lo_route("fd00:9::/64", 1107) };
	struct rule rules[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	struct error err;
	struct nl nl;
	unsigned long before;

	(void)state;
	if (!in_own_netns)
		skip();
	assert_int_equal(cidr_parse("10.9.0.0/16", &rules[0].src), 0);
	assert_int_equal(nl_open(&nl, NETLINK_ROUTE), 0);
	assert_int_equal(route_sync(&nl, routes, 3, &err), 0);
	assert_int_equal(rule_sync(&nl, rules, 2, &err), 0);
	assert_int_equal(nl.writes, 5);
	before = nl.writes;
	assert_int_equal(route_sync(&nl, routes, 3, &err), 0);
	assert_int_equal(rule_sync(&nl, rules, 2, &err), 0);
	assert_int_equal(nl.writes, before);
	/* Dropping one route and one rule: exactly two deletions. */
	assert_int_equal(route_sync(&nl, routes, 2, &err), 0);
	assert_int_equal(rule_sync(&nl, rules, 1, &err), 0);
	assert_int_equal(nl.writes, before + 2);
	assert_int_equal(route_remove_all(&nl, &err), 0);
	assert_int_equal(nl.writes, before + 5);
	assert_int_equal(route_remove_all(&nl, &err), 0);
	assert_int_equal(nl.writes, before + 5);
	nl_close(&nl);
}

static void test_nft_second_sync_writes_nothing(void **state)
{
	struct cidr pod, cluster;
	struct nft_config cfg = { &pod, 1, &cluster, 1, { 0 }, "", false };
	struct error err;
	struct nl nl;

	(void)state;
	if (!in_own_netns)
		skip();
	assert_int_equal(cidr_parse("10.244.1.0/24", &pod), 0);
	assert_int_equal(cidr_parse("10.244.0.0/16", &cluster), 0);
	assert_int_equal(nl_open(&nl, NETLINK_NETFILTER), 0);
	assert_int_equal(nft_sync(&nl, &cfg, &err), 0);
	assert_int_equal(nl.writes, 1);
	assert_int_equal(nft_sync(&nl, &cfg, &err), 0);
	assert_int_equal(nl.writes, 1);
	cfg.forward_accept = true;
	assert_int_equal(nft_sync(&nl, &cfg, &err), 0);
	assert_int_equal(nl.writes, 2);
	assert_int_equal(nft_remove(&nl, &err), 0);
	assert_int_equal(nft_remove(&nl, &err), 0);
	assert_int_equal(nl.writes, 3);
	nl_close(&nl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_sync_writes_nothing),
		cmocka_unit_test(test_nft_second_sync_writes_nothing),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
