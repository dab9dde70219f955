// SPDX-License-Identifier: GPL-2.0-or-later
/* skein-agent's node flags (defaults, every value accepted and refused,
 * with the message naming the flag) and the /metrics text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../node-agent/agent.h"
#include "../../node-agent/metrics.h"

/* Parses the arguments (after a program name). getopt keeps pointers into
 * argv, so the words live in a static buffer until the next call. */
static int parse(struct agent_options *o, struct error *err, const char *args)
{
	static char buf[1024];
	char *argv[64];
	int argc = 0;

	snprintf(buf, sizeof(buf), "skein-agent --hostname n1 %s", args);
	for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return agent_options_parse(argc, argv, o, err);
}

static void test_defaults(void **state)
{
	struct agent_options o;
	struct error err;
	char buf[CIDR_STRLEN];

	(void)state;
	assert_int_equal(parse(&o, &err, ""), 0);
	assert_int_equal(o.node.topo.granularity, GRANULARITY_LOCATION);
	assert_int_equal(o.node.topo.encapsulation, ENCAP_CROSSSUBNET);
	assert_string_equal(cidr_format(&o.node.topo.subnet, buf), "10.4.0.0/16");
	assert_int_equal(o.node.topo.n_service_cidrs, 0);
	assert_int_equal(o.node.mtu, 0);
	assert_int_equal(o.node.wireguard, WG_MODE_AUTO);
	assert_string_equal(o.node.uapi_dir, "/var/run/wireguard");
	assert_string_equal(o.node.topo.wg_ifname, "skein0");
	assert_int_equal(o.node.topo.listen_port, 51820);
	assert_string_equal(o.node.key_dir, "/var/lib/skein");
	assert_string_equal(o.node.cni_conf, "/etc/cni/net.d/10-skein.conflist");
	assert_string_equal(o.node.cni_version, "1.0.0");
	assert_true(o.node.clean_up);
	assert_int_equal(o.resync_ms, 30000);
	assert_true(o.node.listen.enabled);
	assert_false(o.node.listen.has_ip);
	assert_int_equal(o.node.listen.port, 1107);
	assert_int_equal(o.node.internal_ip.ip.family, 0);
}

static void test_every_flag(void **state)
{
	struct agent_options o;
	struct error err;
	char buf[CIDR_STRLEN];

	(void)state;
	assert_int_equal(parse(&o, &err,
			       "--mesh-granularity=cross --subnet 10.9.0.0/24 --service-cidr 10.96.0.0/12 "
			       "--service-cidr fd00:96::/108 --encapsulate always --mtu 1380 "
			       "--wireguard userspace --uapi-dir /run/x --interface wg7 --port 5000 "
			       "--key-dir /k --cni-conf /c.conflist --cni-version 1.1.0 --clean-up=false --resync-period 500ms "
			       "--listen [::1]:9100 --internal-ip 192.168.1.5/24"),
			 0);
	assert_int_equal(o.node.topo.granularity, GRANULARITY_CROSS);
	assert_string_equal(cidr_format(&o.node.topo.subnet, buf), "10.9.0.0/24");
	assert_int_equal(o.node.topo.n_service_cidrs, 2);
	assert_string_equal(cidr_format(&o.node.topo.service_cidrs[1], buf), "fd00:96::/108");
	assert_int_equal(o.node.topo.encapsulation, ENCAP_ALWAYS);
	assert_int_equal(o.node.mtu, 1380);
	assert_int_equal(o.node.wireguard, WG_MODE_USERSPACE);
	assert_string_equal(o.node.uapi_dir, "/run/x");
	assert_string_equal(o.node.topo.wg_ifname, "wg7");
	assert_int_equal(o.node.topo.listen_port, 5000);
	assert_string_equal(o.node.key_dir, "/k");
	assert_string_equal(o.node.cni_conf, "/c.conflist");
	assert_string_equal(o.node.cni_version, "1.1.0");
	assert_false(o.node.clean_up);
	assert_int_equal(o.resync_ms, 500);
	assert_true(o.node.listen.has_ip);
	assert_int_equal(o.node.listen.ip.family, AF_INET6);
	assert_int_equal(o.node.listen.port, 9100);
	assert_string_equal(cidr_format(&o.node.internal_ip, buf), "192.168.1.5/24");

	assert_int_equal(parse(&o, &err, "--clean-up --mtu auto --listen= --internal-ip 10.0.0.1"), 0);
	assert_true(o.node.clean_up);
	assert_int_equal(o.node.mtu, 0);
	assert_false(o.node.listen.enabled);
	assert_string_equal(cidr_format(&o.node.internal_ip, buf), "10.0.0.1/32");
	assert_int_equal(parse(&o, &err, "--internal-ip auto --resync-period 2m"), 0);
	assert_int_equal(o.node.internal_ip.ip.family, 0);
	assert_int_equal(o.resync_ms, 120000);
}

static void test_bad_values_name_the_flag(void **state)
{
	static const struct { const char *args, *flag; } rows[] = {
		{ "--mesh-granularity=mesh", "--mesh-granularity" },
		{ "--subnet 10.4.0.0", "--subnet" },
		{ "--subnet 10.4.0.0/31", "--subnet" },
		{ "--service-cidr nope", "--service-cidr" },
		{ "--service-cidr 1.0.0.0/8 --service-cidr 2.0.0.0/8 --service-cidr 3.0.0.0/8 "
		  "--service-cidr 4.0.0.0/8 --service-cidr 5.0.0.0/8", "--service-cidr" },
		{ "--encapsulate sometimes", "--encapsulate" },
		{ "--mtu 100", "--mtu" },
		{ "--mtu 70000", "--mtu" },
		{ "--mtu 1400x", "--mtu" },
		{ "--wireguard boringtun", "--wireguard" },
		{ "--interface a/b", "--interface" },
		{ "--interface abcdefghijklmnop", "--interface" },
		{ "--port 0", "--port" },
		{ "--port 65536", "--port" },
		{ "--cni-version 1.2.0", "--cni-version" },
		{ "--cni-version 0.2.0", "--cni-version" },
		{ "--cni-version 1.1", "--cni-version" },
		{ "--clean-up=yes", "--clean-up" },
		{ "--resync-period 30", "--resync-period" },
		{ "--resync-period 10ms", "--resync-period" },
		{ "--resync-period 2d", "--resync-period" },
		{ "--listen 1107", "--listen" },
		{ "--listen localhost:1107", "--listen" },
		{ "--listen :0", "--listen" },
		{ "--listen [10.0.0.1]:80", "--listen" },
		{ "--internal-ip 10.0.0", "--internal-ip" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct agent_options o;
		struct error err;

		assert_int_equal(parse(&o, &err, rows[i].args), -1);
		if (!strstr(err.msg, rows[i].flag))
			fail_msg("%s: message \"%s\" does not name %s", rows[i].args, err.msg, rows[i].flag);
	}
}

static void test_listen_addresses(void **state)
{
	struct listen_addr l;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(listen_addr_parse(":1107", &l), 0);
	assert_true(l.enabled && !l.has_ip && l.port == 1107);
	assert_int_equal(listen_addr_parse("127.0.0.1:8080", &l), 0);
	assert_true(l.has_ip && l.port == 8080);
	assert_string_equal(ip_format(&l.ip, buf), "127.0.0.1");
	assert_int_equal(listen_addr_parse("", &l), 0);
	assert_false(l.enabled);
	assert_int_equal(listen_addr_parse("[::1]", &l), -1);
	assert_int_equal(listen_addr_parse("::1:80", &l), -1);
}

static void test_durations(void **state)
{
	long ms;

	(void)state;
	assert_int_equal(duration_parse_ms("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(duration_parse_ms("100ms", &ms), 0);
	assert_int_equal(ms, 100);
	assert_int_equal(duration_parse_ms("1.5s", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(duration_parse_ms("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(duration_parse_ms("-1s", &ms), -1);
	assert_int_equal(duration_parse_ms("s", &ms), -1);
	assert_int_equal(duration_parse_ms("25h", &ms), -1);
}

static void test_metrics_text(void **state)
{
	struct metric_values v = {
		.nodes = 3, .peers = 2, .is_leader = true, .reconciles = 7, .applies = 4,
		.duration_sum = 0.25, .netlink_writes = 10, .wg_writes = 2, .nft_writes = 1,
		.cni_writes = 1,
	};
	char *text;

	(void)state;
	v.errors[ERR_ROUTE] = 5;
	text = metrics_render(&v);
	assert_non_null(text);
	static const char *const lines[] = {
		"# TYPE skein_nodes gauge\nskein_nodes 3\n",
		"skein_peers 2\n",
		"skein_is_leader 1\n",
		"# TYPE skein_reconciles_total counter\nskein_reconciles_total 7\n",
		"skein_reconcile_applies_total 4\n",
		"skein_reconcile_errors_total{kind=\"route\"} 5\n",
		"skein_reconcile_errors_total{kind=\"nft\"} 0\n",
		("skein_reconcile_duration_seconds_sum 0.250000000\n"
		 "skein_reconcile_duration_seconds_count 7\n"),
		"skein_node_writes_total{kind=\"netlink\"} 10\n",
		"skein_node_writes_total{kind=\"wireguard\"} 2\n",
		"skein_node_writes_total{kind=\"nft\"} 1\n",
		"skein_node_writes_total{kind=\"cni\"} 1\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!strstr(text, lines[i]))
			fail_msg("missing: %s", lines[i]);
	/* Every error kind has a line, so dashboards see zeros. */
	for (size_t i = 0; i < ERR_KINDS; i++) {
		char want[96];

		snprintf(want, sizeof(want), "skein_reconcile_errors_total{kind=\"%s\"} ",
			 error_kind_names[i]);
		assert_non_null(strstr(text, want));
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_flag),
		cmocka_unit_test(test_bad_values_name_the_flag),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_metrics_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
