// SPDX-License-Identifier: GPL-2.0-or-later
/* The plugin's input: CNI_* environment and the network config. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../cni-plugin/cni.h"

/* ---- environment ---- */

static const char *const *fake_env;

static char *fake_lookup(const char *name)
{
	size_t len = strlen(name);

	for (const char *const *e = fake_env; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return (char *)*e + len + 1;
	return NULL;
}

static int parse_env(const char *const *vars, struct cni_env *env, struct error *err)
{
	fake_env = vars;
	return cni_env_parse(fake_lookup, env, err);
}

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_env_valid(void **state)
{
	struct cni_env env;
	struct error err;

	(void)state;
	assert_int_equal(parse_env(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=abc-1.2_3",
				       "CNI_NETNS=/var/run/netns/p", "CNI_IFNAME=eth0",
				       "CNI_PATH=/opt/cni/bin", "CNI_ARGS=K8S_POD_NAME=x;IgnoreUnknown=1"),
				   &env, &err), CNI_OK);
	assert_int_equal(env.command, CNI_CMD_ADD);
	assert_string_equal(env.key.container_id, "abc-1.2_3");
	assert_string_equal(env.key.ifname, "eth0");
	assert_string_equal(env.netns, "/var/run/netns/p");
	/* DEL needs no netns; VERSION and STATUS need nothing else. */
	assert_int_equal(parse_env(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0",
				       "CNI_PATH=/x"), &env, &err), CNI_OK);
	assert_null(env.netns);
	assert_int_equal(parse_env(ENV("CNI_COMMAND=VERSION"), &env, &err), CNI_OK);
	assert_int_equal(parse_env(ENV("CNI_COMMAND=STATUS"), &env, &err), CNI_OK);
	assert_int_equal(parse_env(ENV("CNI_COMMAND=GC", "CNI_PATH=/x"), &env, &err), CNI_OK);
}

static void test_env_invalid(void **state)
{
	const struct {
		const char *const *vars;
		const char *needle; /* the message names the bad value */
	} cases[] = {
		{ ENV("CNI_PATH=/x"), "CNI_COMMAND" },
		{ ENV("CNI_COMMAND=ADDX"), "ADDX" },
		{ ENV("CNI_COMMAND=add"), "add" },
		{ ENV("CNI_COMMAND=ADD", "CNI_NETNS=/n", "CNI_IFNAME=eth0", "CNI_PATH=/x"),
		  "CNI_CONTAINERID" },
		{ ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/n", "CNI_PATH=/x"),
		  "CNI_IFNAME" },
		{ ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_IFNAME=eth0", "CNI_PATH=/x"),
		  "CNI_NETNS" },
		{ ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/n", "CNI_IFNAME=eth0"),
		  "CNI_PATH" },
		{ ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=../../etc", "CNI_NETNS=/n",
		      "CNI_IFNAME=eth0", "CNI_PATH=/x"), "../../etc" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=_a", "CNI_IFNAME=eth0", "CNI_PATH=/x"),
		  "_a" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=a b", "CNI_IFNAME=eth0", "CNI_PATH=/x"),
		  "CNI_CONTAINERID" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_IFNAME=..", "CNI_PATH=/x"),
		  "CNI_IFNAME" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_IFNAME=a/b", "CNI_PATH=/x"),
		  "a/b" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_IFNAME=eth:0", "CNI_PATH=/x"),
		  "eth:0" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_IFNAME=averyveryverylong0",
		      "CNI_PATH=/x"), "averyveryverylong0" },
		{ ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_IFNAME=eth0", "CNI_PATH=/x",
		      "CNI_ARGS=novalue"), "novalue" },
		{ ENV("CNI_COMMAND=GC"), "CNI_PATH" },
	};
	struct cni_env env;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err.msg[0] = '\0';
		assert_int_equal(parse_env(cases[i].vars, &env, &err), CNI_ERR_ENV);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: '%s' does not name '%s'", i, err.msg, cases[i].needle);
	}
}

/* ---- config ---- */

#define GOOD_PLUGIN "\"type\":\"skein\",\"podCIDRs\":[\"10.244.1.0/24\",\"fd00:10:244:1::/64\"]," \
		    "\"mtu\":1420,\"dataDir\":\"/var/lib/cni/test\""

static void test_config_plugin(void **state)
{
	struct cni_conf conf;
	struct error err;
	char buf[CIDR_STRLEN];

	(void)state;
	assert_int_equal(cni_conf_parse("{\"cniVersion\":\"0.4.0\",\"name\":\"skein\"," GOOD_PLUGIN
					",\"prevResult\":{\"ips\":[]}}", &conf, &err), CNI_OK);
	assert_int_equal(conf.version, CNI_V040);
	assert_string_equal(conf.name, "skein");
	assert_int_equal(conf.n_pod_cidrs, 2);
	assert_string_equal(cidr_format(&conf.pod_cidrs[1], buf), "fd00:10:244:1::/64");
	assert_int_equal(conf.mtu, 1420);
	assert_string_equal(conf.data_dir, "/var/lib/cni/test");
	assert_non_null(conf.prev_result);
	cni_conf_free(&conf);
}

static void test_config_conflist_and_defaults(void **state)
{
	static const char *const text =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"skein\",\"plugins\":["
		"{\"type\":\"skein\"},"
		"{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}";
	struct cni_conf conf;
	struct error err;

	(void)state;
	assert_int_equal(cni_conf_parse(text, &conf, &err), CNI_OK);
	assert_int_equal(conf.version, CNI_V110);
	assert_int_equal(conf.n_pod_cidrs, 0);
	assert_int_equal(conf.mtu, 0);
	assert_string_equal(conf.data_dir, CNI_DEFAULT_DATA_DIR);
	assert_null(conf.prev_result);
	cni_conf_free(&conf);
}

static void test_config_valid_attachments(void **state)
{
	static const char *const text =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\","
		"\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"},"
		"{\"containerID\":\"b\",\"ifname\":\"net1\"}]}";
	struct cni_conf conf;
	struct error err;

	(void)state;
	assert_int_equal(cni_conf_parse(text, &conf, &err), CNI_OK);
	assert_int_equal(conf.n_valid, 2);
	assert_string_equal(conf.valid[1].container_id, "b");
	assert_string_equal(conf.valid[1].ifname, "net1");
	cni_conf_free(&conf);
}

static void test_config_invalid(void **state)
{
	static const struct {
		const char *text;
		int code;
		const char *needle;
	} cases[] = {
		{ "", CNI_ERR_DECODE, "JSON" },
		{ "{", CNI_ERR_DECODE, "JSON" },
		{ "[1,2]", CNI_ERR_DECODE, "object" },
		{ "{\"cniVersion\":\"1.1.0\",\"cniVersion\":\"1.0.0\"}", CNI_ERR_DECODE, "JSON" },
		{ "{\"name\":\"n\",\"type\":\"skein\"}", CNI_ERR_CONFIG, "cniVersion" },
		{ "{\"cniVersion\":1,\"name\":\"n\",\"type\":\"skein\"}", CNI_ERR_CONFIG, "cniVersion" },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"skein\"}", CNI_ERR_VERSION, "0.2.0" },
		{ "{\"cniVersion\":\"2.0.0\",\"name\":\"n\",\"type\":\"skein\"}", CNI_ERR_VERSION, "2.0.0" },
		{ "{\"cniVersion\":\"1.1.0\",\"type\":\"skein\"}", CNI_ERR_CONFIG, "name" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":7,\"type\":\"skein\"}", CNI_ERR_CONFIG, "name" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"../x\",\"type\":\"skein\"}", CNI_ERR_CONFIG, "../x" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\"}", CNI_ERR_CONFIG, "type" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"podCIDRs\":\"10.0.0.0/24\"}",
		  CNI_ERR_CONFIG, "podCIDRs" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"podCIDRs\":[24]}",
		  CNI_ERR_CONFIG, "podCIDRs[0]" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"podCIDRs\":[\"10.0.0.0/33\"]}",
		  CNI_ERR_CONFIG, "10.0.0.0/33" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"podCIDRs\":[\"10.0.0.0\"]}",
		  CNI_ERR_CONFIG, "10.0.0.0" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"podCIDRs\":[\"10.0.0.5/24\"]}",
		  CNI_ERR_CONFIG, "host bits" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"podCIDRs\":[\"10.0.0.0/31\"]}",
		  CNI_ERR_CONFIG, "too small" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\","
		  "\"podCIDRs\":[\"10.0.0.0/24\",\"10.1.0.0/24\"]}", CNI_ERR_CONFIG, "one range per family" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\","
		  "\"podCIDRs\":[\"10.0.0.0/24\",\"fd00::/64\",\"fd01::/64\"]}", CNI_ERR_CONFIG, "at most" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"mtu\":\"1420\"}",
		  CNI_ERR_CONFIG, "mtu" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"mtu\":70000}",
		  CNI_ERR_CONFIG, "70000" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"dataDir\":\"rel/dir\"}",
		  CNI_ERR_CONFIG, "rel/dir" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"dataDir\":false}",
		  CNI_ERR_CONFIG, "dataDir" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"logFile\":\"x.log\"}",
		  CNI_ERR_CONFIG, "x.log" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\",\"prevResult\":[]}",
		  CNI_ERR_CONFIG, "prevResult" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"plugins\":{}}", CNI_ERR_CONFIG, "plugins" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"}]}",
		  CNI_ERR_CONFIG, "skein" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\","
		  "\"cni.dev/valid-attachments\":{}}", CNI_ERR_CONFIG, "valid-attachments" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\","
		  "\"cni.dev/valid-attachments\":[{\"containerID\":\"a\"}]}", CNI_ERR_CONFIG, "ifname" },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"skein\","
		  "\"cni.dev/valid-attachments\":[{\"containerID\":\"../a\",\"ifname\":\"eth0\"}]}",
		  CNI_ERR_CONFIG, "../a" },
	};
	struct cni_conf conf;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int code;

		err.msg[0] = '\0';
		code = cni_conf_parse(cases[i].text, &conf, &err);
		cni_conf_free(&conf);
		if (code != cases[i].code)
			fail_msg("case %zu (%s): code %d, want %d (%s)", i, cases[i].text, code,
				 cases[i].code, err.msg);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: '%s' does not name '%s'", i, err.msg, cases[i].needle);
	}
}

static void test_version_requirements(void **state)
{
	enum cni_version v;
	struct error err;

	(void)state;
	for (int i = 0; i < CNI_N_VERSIONS; i++) {
		assert_int_equal(cni_version_parse(cni_versions[i], &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(cni_version_parse("0.2.0", &v), -1);
	assert_int_equal(cni_require_version(CNI_V031, CNI_V040, "CHECK", &err), -1);
	assert_non_null(strstr(err.msg, "CHECK"));
	assert_non_null(strstr(err.msg, "0.3.1"));
	assert_int_equal(cni_require_version(CNI_V110, CNI_V040, "CHECK", &err), 0);
}

static void test_host_veth_names(void **state)
{
	struct ipam_key a, b, c;
	char na[IF_NAMESIZE], nb[IF_NAMESIZE], nc[IF_NAMESIZE], again[IF_NAMESIZE];

	(void)state;
	assert_int_equal(ipam_key_set(&a, "abc", "eth0", NULL), 0);
	assert_int_equal(ipam_key_set(&b, "abc", "eth1", NULL), 0);
	assert_int_equal(ipam_key_set(&c, "abce", "th0", NULL), 0);
	cni_host_veth_name(&a, na);
	cni_host_veth_name(&b, nb);
	cni_host_veth_name(&c, nc);
	cni_host_veth_name(&a, again);
	assert_string_equal(na, again);
	assert_string_not_equal(na, nb);
	assert_string_not_equal(na, nc);
	assert_int_equal(strlen(na), 14);
	assert_true(cni_is_host_veth_name(na));
	assert_false(cni_is_host_veth_name("sk12345"));
	assert_false(cni_is_host_veth_name("eth0"));
	assert_false(cni_is_host_veth_name("skABCDEF123456"));
	assert_false(cni_is_host_veth_name("skzzzzzzzzzzzz"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_valid),
		cmocka_unit_test(test_env_invalid),
		cmocka_unit_test(test_config_plugin),
		cmocka_unit_test(test_config_conflist_and_defaults),
		cmocka_unit_test(test_config_valid_attachments),
		cmocka_unit_test(test_config_invalid),
		cmocka_unit_test(test_version_requirements),
		cmocka_unit_test(test_host_veth_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
