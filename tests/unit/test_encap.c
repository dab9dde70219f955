// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>

#include "encap.h"

static size_t parse_ips(const char *const *in, struct ip_addr *out)
{
	size_t n = 0;

	for (; in[n]; n++)
		assert_int_equal(ip_parse(in[n], &out[n]), 0);
	return n;
}

static void test_fdb_diff_table(void **state)
{
	const struct {
		const char *name;
		const char *have[4], *want[4];
		const char *changes; /* "D<i>" deletes have[i], "A<i>" adds want[i] */
	} cases[] = {
		{ "equal in any order", { "10.0.0.2", "10.0.0.3", NULL }, { "10.0.0.3", "10.0.0.2", NULL }, "" },
		{ "one new remote", { "10.0.0.2", NULL }, { "10.0.0.2", "10.0.0.9", NULL }, "A1" },
		{ "one gone", { "10.0.0.2", "10.0.0.3", NULL }, { "10.0.0.3", NULL }, "D0" },
		{ "swap", { "10.0.0.2", NULL }, { "10.0.0.4", NULL }, "D0 A0" },
		{ "IPv6 remotes", { "fd00::2", NULL }, { "fd00::2", "fd00::3", NULL }, "A1" },
		{ "all gone", { "10.0.0.2", "10.0.0.3", NULL }, { NULL }, "D0 D1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr have[4], want[4];
		size_t nh = parse_ips(cases[i].have, have), nw = parse_ips(cases[i].want, want), n;
		struct change *c;
		struct error err;
		char got[64] = "";

		assert_int_equal(encap_fdb_diff(have, nh, want, nw, &c, &n, &err), 0);
		for (size_t k = 0; k < n; k++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%c%zu", k ? " " : "",
				 c[k].op == CHANGE_DELETE ? 'D' : 'A', c[k].index);
		free(c);
		if (strcmp(got, cases[i].changes))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name, got, cases[i].changes);
	}
}

static void test_fdb_diff_rejects_duplicate_remote(void **state)
{
	struct ip_addr want[2];
	struct change *c;
	struct error err;
	size_t n;

	(void)state;
	assert_int_equal(ip_parse("10.0.0.2", &want[0]), 0);
	want[1] = want[0];
	assert_int_equal(encap_fdb_diff(NULL, 0, want, 2, &c, &n, &err), -1);
	assert_non_null(strstr(err.msg, "FDB entry"));
}

/* Bad configurations are refused before any netlink traffic: the socket
 * is never used, so these run without privileges. */
static void test_sync_rejects_bad_config(void **state)
{
	struct ip_addr remotes[2];
	struct encap_config c = { .ifname = "skein.vx", .remotes = remotes, .n_remotes = 2 };
	struct nl nl = { 0 };
	struct error err;

	(void)state;
	assert_int_equal(ip_parse("10.0.0.2", &remotes[0]), 0);
	assert_int_equal(ip_parse("fd00::2", &remotes[1]), 0);
	assert_int_equal(encap_sync(&nl, &c, &err), -1);
	assert_non_null(strstr(err.msg, "fd00::2 is not of the underlay's family"));
	c.ifname[0] = '\0';
	assert_int_equal(encap_sync(&nl, &c, &err), -1);
	assert_non_null(strstr(err.msg, "no device name"));
	assert_int_equal(nl.writes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fdb_diff_table),
		cmocka_unit_test(test_fdb_diff_rejects_duplicate_remote),
		cmocka_unit_test(test_sync_rejects_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
