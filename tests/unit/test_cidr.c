// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <arpa/inet.h>

#include "cidr.h"

static void test_parse_valid(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "10.1.2.3/24", "10.1.2.3/24" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "fd00::/64", "fd00::/64" },
		{ "2001:db8::1/128", "2001:db8::1/128" },
	};
	char buf[CIDR_STRLEN];
	struct cidr c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cidr_parse(cases[i].in, &c), 0);
		assert_string_equal(cidr_format(&c, buf), cases[i].out);
	}
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08",
		"10.0.0/8", "10.0.0.0/8x", "fd00::/129", "/8", "hello/8", "10.0.0.0 /8",
		"10.0.0.256/8",
	};
	struct cidr c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
}

static void test_contains_overlaps(void **state)
{
	struct cidr a, b, c6;
	struct ip_addr ip;

	(void)state;
	assert_int_equal(cidr_parse("10.0.0.0/16", &a), 0);
	assert_int_equal(cidr_parse("10.0.5.0/24", &b), 0);
	assert_int_equal(cidr_parse("fd00::/8", &c6), 0);
	assert_true(cidr_overlaps(&a, &b));
	assert_true(cidr_overlaps(&b, &a));
	assert_false(cidr_overlaps(&a, &c6));
	assert_int_equal(ip_parse("10.0.255.255", &ip), 0);
	assert_true(cidr_contains(&a, &ip));
	assert_false(cidr_contains(&b, &ip));
	assert_int_equal(cidr_parse("10.1.0.0/16", &b), 0);
	assert_false(cidr_overlaps(&a, &b));
}

static void test_nth_offset(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct cidr c;
	struct ip_addr ip;

	(void)state;
	assert_int_equal(cidr_parse("10.244.1.0/24", &c), 0);
	assert_int_equal(cidr_nth(&c, 1, &ip), 0);
	assert_string_equal(ip_format(&ip, buf), "10.244.1.1");
	assert_int_equal(cidr_nth(&c, 255, &ip), 0);
	assert_string_equal(ip_format(&ip, buf), "10.244.1.255");
	assert_int_equal(cidr_nth(&c, 256, &ip), -1);
	assert_int_equal(cidr_offset(&c, &ip), 255);
	assert_int_equal(cidr_size(&c), 256);
	assert_int_equal(cidr_parse("fd00:10::/64", &c), 0);
	assert_int_equal(cidr_nth(&c, 0x1ff, &ip), 0);
	assert_string_equal(ip_format(&ip, buf), "fd00:10::1ff");
	assert_int_equal(cidr_offset(&c, &ip), 0x1ff);
	assert_int_equal(cidr_size(&c), UINT64_MAX);
}

static void test_network_cmp(void **state)
{
	char buf[CIDR_STRLEN];
	struct cidr a, b, n;

	(void)state;
	assert_int_equal(cidr_parse("192.168.7.9/20", &a), 0);
	n = cidr_network(&a);
	assert_string_equal(cidr_format(&n, buf), "192.168.0.0/20");
	assert_int_equal(cidr_parse("192.168.0.0/16", &b), 0);
	assert_true(cidr_cmp(&b, &a) < 0);
	assert_int_equal(cidr_parse_host("10.1.1.1", &a), 0);
	assert_string_equal(cidr_format(&a, buf), "10.1.1.1/32");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_contains_overlaps),
		cmocka_unit_test(test_nth_offset),
		cmocka_unit_test(test_network_cmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
