// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft.h"

static void parse_all(const char *const *in, struct cidr *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cidr_parse(in[i], &out[i]), 0);
}

static void format_range(const struct nft_interval *iv, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	inet_ntop(iv->family, iv->first, a, sizeof(a));
	inet_ntop(iv->family, iv->last, b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}

static void test_intervals_table(void **state)
{
	const struct {
		const char *name;
		const char *in[4];
		size_t n;
		int family;
		const char *want; /* ranges joined by spaces */
	} cases[] = {
		{ "adjacent merge", { "10.245.0.0/16", "10.244.0.0/16" }, 2, AF_INET,
		  "10.244.0.0-10.245.255.255" },
		{ "contained merge", { "10.1.0.0/16", "10.0.0.0/8" }, 2, AF_INET, "10.0.0.0-10.255.255.255" },
		{ "disjoint, sorted", { "192.168.0.0/24", "10.0.0.5/32" }, 2, AF_INET,
		  "10.0.0.5-10.0.0.5 192.168.0.0-192.168.0.255" },
		{ "host bits ignored", { "10.4.0.9/16" }, 1, AF_INET, "10.4.0.0-10.4.255.255" },
		{ "other family skipped", { "fd00::/8", "10.0.0.0/8" }, 2, AF_INET6, "fd00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
		{ "everything", { "0.0.0.0/0", "10.0.0.0/8" }, 2, AF_INET, "0.0.0.0-255.255.255.255" },
		{ "none", { NULL }, 0, AF_INET, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c[4];
		struct nft_interval *iv;
		char got[256] = "", one[128];
		size_t n;

		parse_all(cases[i].in, c, cases[i].n);
		assert_int_equal(nft_intervals(c, cases[i].n, cases[i].family, &iv, &n), 0);
		for (size_t k = 0; k < n; k++) {
			format_range(&iv[k], one, sizeof(one));
			strcat(got, k ? " " : "");
			strcat(got, one);
		}
		free(iv);
		if (strcmp(got, cases[i].want))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name, got, cases[i].want);
	}
}

static const char *const pods_in[] = { "10.244.1.0/24", "fd00:244:1::/64" };
static const char *const cluster_in[] = { "10.244.0.0/16", "10.4.0.0/16", "fd00::/8" };

struct fixture {
	struct cidr pods[2], cluster[4];
	struct nft_config cfg;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	parse_all(pods_in, f->pods, 2);
	parse_all(cluster_in, f->cluster, 3);
	f->cfg.local_pod_cidrs = f->pods;
	f->cfg.n_local_pod_cidrs = 2;
	f->cfg.cluster_cidrs = f->cluster;
	f->cfg.n_cluster_cidrs = 3;
	assert_int_equal(ip_parse("10.4.0.1", &f->cfg.wireguard_ip), 0);
	strcpy(f->cfg.wg_ifname, "skein0");
}

/* One message of the batch, described for comparison. */
static void describe(const struct nlmsghdr *nlh, char *out, size_t len)
{
	uint16_t type = nlh->nlmsg_type;

	if (type == NFNL_MSG_BATCH_BEGIN || type == NFNL_MSG_BATCH_END) {
		snprintf(out, len, type == NFNL_MSG_BATCH_BEGIN ? "begin" : "end");
		return;
	}
	assert_int_equal(type >> 8, NFNL_SUBSYS_NFTABLES);
	switch (type & 0xff) {
	case NFT_MSG_NEWTABLE: snprintf(out, len, "+table"); break;
	case NFT_MSG_DELTABLE: snprintf(out, len, "-table"); break;
	case NFT_MSG_NEWSET: snprintf(out, len, "+set"); break;
	case NFT_MSG_NEWSETELEM: snprintf(out, len, "+elems"); break;
	case NFT_MSG_NEWCHAIN: snprintf(out, len, "+chain"); break;
	case NFT_MSG_NEWRULE: snprintf(out, len, "+rule"); break;
	default: snprintf(out, len, "?%u", type & 0xff);
	}
}

static void batch_layout(const struct nft_batch *b, char *out, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
	int left = (int)b->len;

	out[0] = '\0';
	while (mnl_nlmsg_ok(nlh, left)) {
		char one[16];

		describe(nlh, one, sizeof(one));
		if (out[0])
			strncat(out, " ", len - strlen(out) - 1);
		strncat(out, one, len - strlen(out) - 1);
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	assert_int_equal(left, 0);
}

static void test_batch_layout(void **state)
{
	struct fixture f;
	struct nft_batch b;
	struct error err;
	char layout[512];

	(void)state;
	fixture_init(&f);
	assert_int_equal(nft_batch_build(&f.cfg, 100, &b, &err), 0);
	batch_layout(&b, layout, sizeof(layout));
	assert_string_equal(layout, "begin +table -table +table +set +elems +set +elems +chain +rule +rule "
				    "+chain +rule end");
	assert_int_equal(b.n_chains, 2);
	assert_int_equal(b.n_rules[0], 2);
	assert_int_equal(b.n_rules[2], 1);
	assert_int_equal(b.n_elems[0], 4); /* two ranges, each with its end */
	assert_int_equal(b.n_elems[1], 2);
	nft_batch_free(&b);

	f.cfg.forward_accept = true;
	memset(&f.cfg.wireguard_ip, 0, sizeof(f.cfg.wireguard_ip));
	assert_int_equal(nft_batch_build(&f.cfg, 100, &b, &err), 0);
	batch_layout(&b, layout, sizeof(layout));
	assert_string_equal(layout, "begin +table -table +table +set +elems +set +elems +chain +rule +rule "
				    "+chain +rule +rule +rule +rule end");
	nft_batch_free(&b);
}

/* The n-th message of type `type` in the batch. */
static const struct nlmsghdr *nth_msg(const struct nft_batch *b, uint16_t type, int n)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
	int left = (int)b->len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
		if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | type) && n-- == 0)
			return nlh;
	fail_msg("no message %u #%d", type, n);
	return NULL;
}

static int add_name(struct nftnl_expr *e, void *data)
{
	char *names = data;

	strcat(names, names[0] ? " " : "");
	strcat(names, nftnl_expr_get_str(e, NFTNL_EXPR_NAME));
	return 0;
}

static void rule_exprs(const struct nlmsghdr *nlh, char *chain, char *names)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	assert_non_null(r);
	assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
	strcpy(chain, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "skein");
	names[0] = '\0';
	assert_int_equal(nftnl_expr_foreach(r, add_name, names), 0);
	nftnl_rule_free(r);
}

static void test_rules_expressions(void **state)
{
	struct fixture f;
	struct nft_batch b;
	struct error err;
	char chain[64], names[256];

	(void)state;
	fixture_init(&f);
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), 0);
	rule_exprs(nth_msg(&b, NFT_MSG_NEWRULE, 0), chain, names);
	assert_string_equal(chain, "postrouting");
	/* nfproto, saddr & mask == pod, daddr not in @cluster4, masquerade */
	assert_string_equal(names, "meta cmp payload bitwise cmp payload lookup masq");
	rule_exprs(nth_msg(&b, NFT_MSG_NEWRULE, 2), chain, names);
	assert_string_equal(chain, "preraw");
	/* iifname != wg, nfproto, daddr == wg IP, fib saddr type != local, counter, drop */
	assert_string_equal(names, "meta cmp meta cmp payload cmp fib cmp counter immediate");
	nft_batch_free(&b);
}

static int find_lookup(struct nftnl_expr *e, void *data)
{
	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "lookup"))
		*(struct nftnl_expr **)data = e;
	return 0;
}

static void test_masquerade_excludes_cluster_set(void **state)
{
	struct fixture f;
	struct nft_batch b;
	struct error err;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *lookup = NULL;

	(void)state;
	fixture_init(&f);
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), 0);
	assert_int_equal(nftnl_rule_nlmsg_parse(nth_msg(&b, NFT_MSG_NEWRULE, 1), r), 0);
	nftnl_expr_foreach(r, find_lookup, &lookup);
	assert_non_null(lookup);
	assert_string_equal(nftnl_expr_get_str(lookup, NFTNL_EXPR_LOOKUP_SET), "cluster6");
	assert_int_equal(nftnl_expr_get_u32(lookup, NFTNL_EXPR_LOOKUP_FLAGS), NFT_LOOKUP_F_INV);
	nftnl_rule_free(r);
	nft_batch_free(&b);
}

static int get_comment(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT)
		*(const char **)data = nftnl_udata_get(attr);
	return 0;
}

static void test_table_comment_carries_hash(void **state)
{
	struct fixture f;
	struct nft_batch b;
	struct error err;
	struct nftnl_table *t = nftnl_table_alloc();
	const char *comment = NULL;
	const void *ud;
	uint32_t len = 0;
	char want[64];

	(void)state;
	fixture_init(&f);
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), 0);
	assert_int_equal(nftnl_table_nlmsg_parse(nth_msg(&b, NFT_MSG_NEWTABLE, 1), t), 0);
	ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
	assert_non_null(ud);
	assert_int_equal(nftnl_udata_parse(ud, len, get_comment, &comment), 0);
	snprintf(want, sizeof(want), "skein config %016llx", (unsigned long long)nft_config_hash(&f.cfg));
	assert_string_equal(comment, want);
	nftnl_table_free(t);
	nft_batch_free(&b);
}

static void test_hash_follows_meaning(void **state)
{
	struct fixture f, g;
	uint64_t h;

	(void)state;
	fixture_init(&f);
	fixture_init(&g);
	h = nft_config_hash(&f.cfg);
	/* The same cluster written differently: reversed, with a contained prefix. */
	g.cluster[0] = f.cluster[2];
	g.cluster[2] = f.cluster[0];
	assert_int_equal(cidr_parse("10.244.7.0/24", &g.cluster[3]), 0);
	g.cfg.n_cluster_cidrs = 4;
	assert_true(nft_config_hash(&g.cfg) == h);
	g.cfg.forward_accept = true;
	assert_true(nft_config_hash(&g.cfg) != h);
	fixture_init(&g);
	strcpy(g.cfg.wg_ifname, "wg0");
	assert_true(nft_config_hash(&g.cfg) != h);
	fixture_init(&g);
	assert_int_equal(cidr_parse("10.244.2.0/24", &g.pods[0]), 0);
	assert_true(nft_config_hash(&g.cfg) != h);
}

static void test_set_reaching_the_top_has_no_end(void **state)
{
	struct fixture f;
	struct nft_batch b;
	struct error err;

	(void)state;
	fixture_init(&f);
	assert_int_equal(cidr_parse("0.0.0.0/0", &f.cluster[0]), 0);
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), 0);
	assert_int_equal(b.n_elems[0], 1);
	nft_batch_free(&b);
}

static void test_large_set_is_split(void **state)
{
	enum { N = 3000 };
	struct cidr *cluster = calloc(N, sizeof(*cluster));
	struct fixture f;
	struct nft_batch b;
	struct error err;
	char layout[4096];
	const struct nlmsghdr *nlh;
	int left, elem_msgs = 0;

	(void)state;
	assert_non_null(cluster);
	fixture_init(&f);
	for (size_t i = 0; i < N; i++) { /* disjoint /32s: 10.x.y.1 */
		char s[32];

		snprintf(s, sizeof(s), "10.%zu.%zu.1/32", i / 256, i % 256);
		assert_int_equal(cidr_parse(s, &cluster[i]), 0);
	}
	f.cfg.cluster_cidrs = cluster;
	f.cfg.n_cluster_cidrs = N;
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), 0);
	assert_int_equal(b.n_elems[0], 2 * N);
	batch_layout(&b, layout, sizeof(layout));
	nlh = (const struct nlmsghdr *)b.buf;
	left = (int)b.len;
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		assert_true(nlh->nlmsg_len < 65536);
		elem_msgs += nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM);
	}
	assert_true(elem_msgs > 2);
	nft_batch_free(&b);
	free(cluster);
}

static void test_bad_config_is_named(void **state)
{
	struct fixture f;
	struct nft_batch b;
	struct error err;

	(void)state;
	fixture_init(&f);
	assert_int_equal(cidr_parse("0.0.0.0/0", &f.pods[0]), 0);
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "0.0.0.0/0 would masquerade every source"));
	fixture_init(&f);
	f.cfg.wg_ifname[0] = '\0';
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "WireGuard device name"));
	fixture_init(&f);
	f.cluster[1].ip.family = 0;
	assert_int_equal(nft_batch_build(&f.cfg, 1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "cluster CIDR #1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intervals_table),
		cmocka_unit_test(test_batch_layout),
		cmocka_unit_test(test_rules_expressions),
		cmocka_unit_test(test_masquerade_excludes_cluster_set),
		cmocka_unit_test(test_table_comment_carries_hash),
		cmocka_unit_test(test_hash_follows_meaning),
		cmocka_unit_test(test_set_reaching_the_top_has_no_end),
		cmocka_unit_test(test_large_set_is_split),
		cmocka_unit_test(test_bad_config_is_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
