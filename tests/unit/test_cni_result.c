// SPDX-License-Identifier: GPL-2.0-or-later
/* Results in the shape of each CNI version, and reading prevResult back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cni-plugin/cni.h"

static void sample(struct cni_result *r)
{
	static const uint8_t mac[6] = { 0x02, 0xab, 0xcd, 0xef, 0x01, 0x23 };

	memset(r, 0, sizeof(*r));
	snprintf(r->ifaces[0].name, IF_NAMESIZE, "sk0123456789ab");
	snprintf(r->ifaces[1].name, IF_NAMESIZE, "eth0");
	memcpy(r->ifaces[1].mac, mac, 6);
	r->ifaces[1].has_mac = true;
	r->ifaces[1].mtu = 1420;
	snprintf(r->ifaces[1].sandbox, PATH_MAX, "/var/run/netns/p");
	r->n_ifaces = 2;
	assert_int_equal(cidr_parse("10.244.1.2/32", &r->ips[0].address), 0);
	assert_int_equal(ip_parse("10.244.1.1", &r->ips[0].gateway), 0);
	r->ips[0].iface = 1;
	assert_int_equal(cidr_parse("fd00::2/128", &r->ips[1].address), 0);
	assert_int_equal(ip_parse("fd00::1", &r->ips[1].gateway), 0);
	r->ips[1].iface = 1;
	r->n_ips = 2;
	assert_int_equal(cidr_parse("0.0.0.0/0", &r->routes[0].dst), 0);
	r->routes[0].gw = r->ips[0].gateway;
	r->n_routes = 1;
}

static char *encode(enum cni_version v)
{
	struct cni_result r;
	json_t *j;
	char *s;

	sample(&r);
	j = cni_result_encode(&r, v);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static void test_encode_per_version(void **state)
{
	static const struct { enum cni_version v; const char *want; } cases[] = {
		{ CNI_V030, "{\"cniVersion\":\"0.3.0\",\"dns\":{},\"interfaces\":[{\"name\":\"sk0123456789ab\"},"
			    "{\"mac\":\"02:ab:cd:ef:01:23\",\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/p\"}],"
			    "\"ips\":[{\"address\":\"10.244.1.2/32\",\"gateway\":\"10.244.1.1\",\"interface\":1,\"version\":\"4\"},"
			    "{\"address\":\"fd00::2/128\",\"gateway\":\"fd00::1\",\"interface\":1,\"version\":\"6\"}],"
			    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.1.1\"}]}" },
		{ CNI_V040, "{\"cniVersion\":\"0.4.0\",\"dns\":{},\"interfaces\":[{\"name\":\"sk0123456789ab\"},"
			    "{\"mac\":\"02:ab:cd:ef:01:23\",\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/p\"}],"
			    "\"ips\":[{\"address\":\"10.244.1.2/32\",\"gateway\":\"10.244.1.1\",\"interface\":1,\"version\":\"4\"},"
			    "{\"address\":\"fd00::2/128\",\"gateway\":\"fd00::1\",\"interface\":1,\"version\":\"6\"}],"
			    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.1.1\"}]}" },
		{ CNI_V100, "{\"cniVersion\":\"1.0.0\",\"dns\":{},\"interfaces\":[{\"name\":\"sk0123456789ab\"},"
			    "{\"mac\":\"02:ab:cd:ef:01:23\",\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/p\"}],"
			    "\"ips\":[{\"address\":\"10.244.1.2/32\",\"gateway\":\"10.244.1.1\",\"interface\":1},"
			    "{\"address\":\"fd00::2/128\",\"gateway\":\"fd00::1\",\"interface\":1}],"
			    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.1.1\"}]}" },
		{ CNI_V110, "{\"cniVersion\":\"1.1.0\",\"dns\":{},\"interfaces\":[{\"name\":\"sk0123456789ab\"},"
			    "{\"mac\":\"02:ab:cd:ef:01:23\",\"mtu\":1420,\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/p\"}],"
			    "\"ips\":[{\"address\":\"10.244.1.2/32\",\"gateway\":\"10.244.1.1\",\"interface\":1},"
			    "{\"address\":\"fd00::2/128\",\"gateway\":\"fd00::1\",\"interface\":1}],"
			    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.1.1\"}]}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = encode(cases[i].v);

		assert_string_equal(s, cases[i].want);
		free(s);
	}
}

static void test_decode_roundtrip_every_version(void **state)
{
	(void)state;
	for (int v = 0; v < CNI_N_VERSIONS; v++) {
		char *s = encode((enum cni_version)v);
		json_t *j = json_loads(s, 0, NULL);
		struct cni_result r, want;
		struct error err;

		sample(&want);
		assert_int_equal(cni_result_decode(j, &r, &err), 0);
		assert_int_equal(r.n_ifaces, 2);
		assert_string_equal(r.ifaces[1].sandbox, "/var/run/netns/p");
		assert_memory_equal(r.ifaces[1].mac, want.ifaces[1].mac, 6);
		assert_int_equal(r.n_ips, 2);
		assert_true(cidr_equal(&r.ips[1].address, &want.ips[1].address));
		assert_true(ip_equal(&r.ips[0].gateway, &want.ips[0].gateway));
		assert_int_equal(r.ips[0].iface, 1);
		assert_int_equal(r.n_routes, 1);
		json_decref(j);
		free(s);
	}
}

static void test_decode_invalid(void **state)
{
	static const struct { const char *text, *needle; } cases[] = {
		{ "{\"interfaces\":{}}", "interfaces" },
		{ "{\"interfaces\":[{}]}", "interfaces[0]" },
		{ "{\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"zz\"}]}", "mac" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1\"}]}", "ips[0]" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/32\",\"gateway\":\"x\"}]}", "gateway" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/32\",\"interface\":0}]}", "interface" },
		{ "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}", "routes[0]" },
		{ "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"1.2.3\"}]}", "gw" },
		{ "{\"ips\":[1,2,3,4,5,6,7,8,9]}", "ips" },
	};
	struct cni_result r;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].text, 0, NULL);

		assert_non_null(j);
		err.msg[0] = '\0';
		assert_int_equal(cni_result_decode(j, &r, &err), -1);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: '%s' does not name '%s'", i, err.msg, cases[i].needle);
		json_decref(j);
	}
}

static void test_version_info(void **state)
{
	json_t *j = cni_version_info();
	char *s;

	(void)state;
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":"
			       "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}");
	free(s);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_per_version),
		cmocka_unit_test(test_decode_roundtrip_every_version),
		cmocka_unit_test(test_decode_invalid),
		cmocka_unit_test(test_version_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
