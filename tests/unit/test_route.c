// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "route.h"

/* "dst[,via][,dev][,table][,onlink]": a compact route for tables. */
static struct route R(const char *dst, const char *via, const char *dev, uint32_t table, bool onlink)
{
	struct route r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(cidr_parse(dst, &r.dst), 0);
	if (via)
		assert_int_equal(ip_parse(via, &r.gateway), 0);
	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	r.table = table;
	r.onlink = onlink;
	return route_normalize(&r);
}

/* Compares a change list, rendered as "D0 A1 R2", with a table row's
 * expectation, and frees it. */
static void expect_changes(const char *name, struct change *c, size_t n, const char *want)
{
	static const char ops[] = { [CHANGE_ADD] = 'A', [CHANGE_REPLACE] = 'R', [CHANGE_DELETE] = 'D' };
	char buf[64] = "";
	size_t off = 0;

	for (size_t i = 0; i < n && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%c%zu", i ? " " : "",
					ops[c[i].op], c[i].index);
	free(c);
	if (strcmp(buf, want))
		fail_msg("%s: got \"%s\", want \"%s\"", name, buf, want);
}

static void test_route_diff_table(void **state)
{
	struct route a = R("10.1.0.0/24", "10.0.0.2", "eth0", 1107, false);
	struct route b = R("10.2.0.0/24", "10.0.0.3", "eth0", 1107, false);
	struct route b_main = R("10.2.0.0/24", "10.0.0.3", "eth0", 0, false);
	struct route b_gw = R("10.2.0.0/24", "10.0.0.9", "eth0", 1107, false);
	struct route b_onlink = R("10.2.0.0/24", "10.0.0.3", "eth0", 1107, true);
	struct route b_dev = R("10.2.0.0/24", "10.0.0.3", "eth1", 1107, false);
	struct route c6 = R("fd00:1::/64", NULL, "skein0", 1107, false);
	const struct {
		const char *name;
		struct route have[3];
		size_t n_have;
		struct route want[3];
		size_t n_want;
		const char *changes;
	} cases[] = {
		{ "nothing", { { .table = 0 } }, 0, { { .table = 0 } }, 0, "" },
		{ "equal", { a, b, c6 }, 3, { c6, a, b }, 3, "" },
		{ "add missing", { a }, 1, { a, b }, 2, "A1" },
		{ "delete extra", { a, b }, 2, { b }, 1, "D0" },
		{ "same dst other table is another route", { b }, 1, { b_main }, 1, "D0 A0" },
		{ "gateway change replaces", { a, b }, 2, { a, b_gw }, 2, "R1" },
		{ "onlink change replaces", { b }, 1, { b_onlink }, 1, "R0" },
		{ "device change replaces", { b }, 1, { b_dev }, 1, "R0" },
		{ "all at once", { a, b }, 2, { b_gw, c6 }, 2, "D0 R0 A1" },
		{ "remove all", { a, b, c6 }, 3, { { .table = 0 } }, 0, "D0 D1 D2" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct change *c;
		size_t n;
		struct error err;

		assert_int_equal(route_diff(cases[i].have, cases[i].n_have, cases[i].want,
					    cases[i].n_want, &c, &n, &err), 0);
		expect_changes(cases[i].name, c, n, cases[i].changes);
	}
}

static void test_route_diff_rejects_duplicate_identity(void **state)
{
	struct route want[] = {
		R("10.1.0.0/24", "10.0.0.2", "eth0", 1107, false),
		R("10.1.0.5/24", "10.0.0.3", "eth0", 1107, false), /* same network */
	};
	struct change *c;
	size_t n;
	struct error err;

	(void)state;
	assert_int_equal(route_diff(NULL, 0, want, 2, &c, &n, &err), -1);
	assert_non_null(strstr(err.msg, "identity"));
	assert_null(c);
}

static void test_route_normalize(void **state)
{
	struct route r = R("10.1.2.3/16", NULL, "eth0", 0, false);

	(void)state;
	assert_int_equal(r.table, 254);
	assert_int_equal(r.dst.ip.bytes[2], 0);
	assert_int_equal(r.dst.ip.bytes[3], 0);
}

static struct rule Rule(int family, const char *src, const char *dst, uint32_t table, uint32_t prio)
{
	struct rule r;

	memset(&r, 0, sizeof(r));
	r.family = family;
	if (src)
		assert_int_equal(cidr_parse(src, &r.src), 0);
	if (dst)
		assert_int_equal(cidr_parse(dst, &r.dst), 0);
	r.table = table;
	r.priority = prio;
	return rule_normalize(&r);
}

static void test_rule_diff_table(void **state)
{
	struct rule pods = Rule(AF_INET, "10.244.0.0/16", NULL, 0, 0);
	struct rule pods_prio = Rule(AF_INET, "10.244.0.0/16", NULL, 0, 2000);
	struct rule to = Rule(AF_INET, NULL, "10.4.0.0/16", 1107, 1107);
	struct rule pods6 = Rule(AF_INET6, "fd00:244::/56", NULL, 0, 0);
	struct rule any6 = Rule(AF_INET6, NULL, NULL, 0, 0);
	const struct {
		const char *name;
		struct rule have[3];
		size_t n_have;
		struct rule want[3];
		size_t n_want;
		const char *changes;
	} cases[] = {
		{ "equal, any order", { pods, to, pods6 }, 3, { pods6, pods, to }, 3, "" },
		{ "add v6", { pods }, 1, { pods, pods6 }, 2, "A1" },
		{ "any v6 differs from a v6 prefix", { pods6 }, 1, { any6 }, 1, "D0 A0" },
		{ "priority is identity", { pods }, 1, { pods_prio }, 1, "D0 A0" },
		{ "remove all", { pods, to }, 2, { { .table = 0 } }, 0, "D0 D1" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct change *c;
		size_t n;
		struct error err;

		assert_int_equal(rule_diff(cases[i].have, cases[i].n_have, cases[i].want,
					   cases[i].n_want, &c, &n, &err), 0);
		expect_changes(cases[i].name, c, n, cases[i].changes);
	}
}

static void test_rule_defaults(void **state)
{
	struct rule r = Rule(AF_INET, "10.244.1.7/24", NULL, 0, 0);
	char buf[128];

	(void)state;
	assert_int_equal(r.table, SKEIN_ROUTE_TABLE);
	assert_int_equal(r.priority, SKEIN_RULE_PRIORITY);
	assert_string_equal(rule_format(&r, buf, sizeof(buf)),
			    "ipv4 from 10.244.1.0/24 to all table 1107 priority 1107");
}

static void test_route_format(void **state)
{
	struct route r = R("10.1.0.0/24", "10.0.0.2", "eth0", 1107, true);
	char buf[160];

	(void)state;
	assert_string_equal(route_format(&r, buf, sizeof(buf)),
			    "10.1.0.0/24 via 10.0.0.2 dev eth0 table 1107 onlink");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_diff_table),
		cmocka_unit_test(test_route_diff_rejects_duplicate_identity),
		cmocka_unit_test(test_route_normalize),
		cmocka_unit_test(test_rule_diff_table),
		cmocka_unit_test(test_rule_defaults),
		cmocka_unit_test(test_route_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
