// SPDX-License-Identifier: GPL-2.0-or-later
/* lib/probe: which address a probe for a plan peer goes to, and the send. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "probe.h"

/* One plan peer: its allowed IPs ("a,b", sorted as a plan sorts them), the
 * WireGuard subnet, and the address wanted (NULL: none, not probed). */
struct row {
	const char *name, *allowed_ips, *subnet, *want;
};

static const struct row rows[] = {
	{ "leader of a location: its WireGuard IP, not a member's lower private IP",
	  "10.0.0.5/32,10.4.0.7/32,10.10.1.0/24,192.168.1.1/32", "10.4.0.0/16", "10.4.0.7" },
	{ "external peer: its first host address",
	  "10.5.0.1/32,10.5.0.2/32,10.20.0.0/24", "10.4.0.0/16", "10.5.0.1" },
	{ "IPv6 WireGuard subnet: the peer's /128 in it",
	  "fd00:10::/64,fd00:4::2/128,fd00:4::9/128", "fd00:4::/64", "fd00:4::2" },
	{ "IPv6 only external peer",
	  "2001:db8:1::/48,2001:db8::5/128", "10.4.0.0/16", "2001:db8::5" },
	{ "both families, none in the subnet: IPv4 first",
	  "10.5.0.1/32,2001:db8::5/128", "10.4.0.0/16", "10.5.0.1" },
	{ "a network inside the subnet is no host address",
	  "10.4.0.0/24,10.5.0.1/32", "10.4.0.0/16", "10.5.0.1" },
	{ "networks only: nothing to probe", "10.20.0.0/24,2001:db8::/64", "10.4.0.0/16", NULL },
	{ "no allowed IPs", "", "10.4.0.0/16", NULL },
};

static size_t parse_ips(const char *list, struct cidr *out, size_t max)
{
	char buf[256];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
		assert_true(n < max);
		assert_int_equal(cidr_parse(t, &out[n++]), 0);
	}
	return n;
}

static void test_probe_address(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct cidr ips[8], subnet;
		struct plan_peer p = { .allowed_ips = ips };
		struct ip_addr got = { 0 };
		char buf[INET6_ADDRSTRLEN];

		print_message("case: %s\n", r->name);
		p.n_allowed_ips = parse_ips(r->allowed_ips, ips, 8);
		assert_int_equal(cidr_parse(r->subnet, &subnet), 0);
		if (!r->want) {
			assert_int_equal(probe_address(&p, &subnet, &got), -1);
			continue;
		}
		assert_int_equal(probe_address(&p, &subnet, &got), 0);
		assert_string_equal(ip_format(&got, buf), r->want);
	}
}

/* The send itself needs a WireGuard device (tests/integration/
 * test_skeinctl_probe.sh); here: it goes out bound to a device, and a device
 * that does not exist is named. */
static void test_probe_send(void **state)
{
	struct ip_addr lo;
	struct error err;

	(void)state;
	assert_int_equal(ip_parse("127.0.0.1", &lo), 0);
	assert_int_equal(probe_send("lo", &lo, &err), 0);
	assert_int_equal(probe_send("nosuch-probe0", &lo, &err), -1);
	assert_non_null(strstr(err.msg, "probe to 127.0.0.1: binding to nosuch-probe0: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_address),
		cmocka_unit_test(test_probe_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
