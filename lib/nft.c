// SPDX-License-Identifier: GPL-2.0-or-later
#include "nft.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

enum { CHAIN_POSTROUTING, CHAIN_FORWARD, CHAIN_PRERAW, N_CHAINS };

static const struct chain_spec {
	const char *name, *type;
	uint32_t hook;
	int32_t priority;
} chain_specs[N_CHAINS] = {
	[CHAIN_POSTROUTING] = { "postrouting", "nat", NF_INET_POST_ROUTING, 100 }, /* srcnat */
	[CHAIN_FORWARD] = { "forward", "filter", NF_INET_FORWARD, 0 },            /* filter */
	[CHAIN_PRERAW] = { "preraw", "filter", NF_INET_PRE_ROUTING, -300 },       /* raw */
};

/* The cluster sets, one per family; ids name them inside the batch. */
static const struct set_spec {
	const char *name;
	int family;
	uint32_t key_type; /* nft's datatype numbers: ipv4_addr, ipv6_addr */
} set_specs[2] = {
	{ "cluster4", AF_INET, 7 },
	{ "cluster6", AF_INET6, 8 },
};

#define MSG_ROOM 65536        /* every message built here fits */
#define ELEMS_PER_MSG 256     /* keeps a set-element message far below 64 KiB */

/* ---- pure: intervals and hash ---- */

static int interval_cmp(const void *a, const void *b)
{
	const struct nft_interval *x = a, *y = b;

	return memcmp(x->first, y->first, 16);
}

/* Adds one to a big-endian number; false when it wraps around. */
static bool increment(uint8_t *n, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++n[i])
			return true;
	return false;
}

/* a + 1 == b, on big-endian numbers of len bytes. */
static bool is_successor(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t next[16];

	memcpy(next, a, len);
	return increment(next, len) && !memcmp(next, b, len);
}

static struct nft_interval cidr_interval(const struct cidr *c)
{
	struct nft_interval iv = { .family = c->ip.family };
	struct cidr net = cidr_network(c);
	size_t len = ip_len(&c->ip);

	memcpy(iv.first, net.ip.bytes, len);
	memcpy(iv.last, net.ip.bytes, len);
	for (size_t i = 0; i < len; i++) {
		unsigned fixed = c->prefix > i * 8 ? c->prefix - (unsigned)i * 8 : 0;

		if (fixed < 8)
			iv.last[i] |= (uint8_t)(0xffu >> fixed);
	}
	return iv;
}

int nft_intervals(const struct cidr *cidrs, size_t n, int family, struct nft_interval **out,
		  size_t *n_out)
{
	struct nft_interval *iv = malloc((n ? n : 1) * sizeof(*iv));
	size_t len = family == AF_INET6 ? 16 : 4, k = 0;

	*out = iv;
	*n_out = 0;
	if (!iv)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (cidrs[i].ip.family == family)
			iv[k++] = cidr_interval(&cidrs[i]);
	qsort(iv, k, sizeof(*iv), interval_cmp);
	for (size_t i = 0; i < k; i++) {
		struct nft_interval *last = *n_out ? &iv[*n_out - 1] : NULL;

		if (last && (memcmp(iv[i].first, last->last, len) <= 0 ||
			     is_successor(last->last, iv[i].first, len))) {
			if (memcmp(iv[i].last, last->last, len) > 0)
				memcpy(last->last, iv[i].last, len);
			continue;
		}
		iv[(*n_out)++] = iv[i];
	}
	return 0;
}

static void fnv(uint64_t *h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ULL;
	}
}

uint64_t nft_config_hash(const struct nft_config *cfg)
{
	static const char version[] = "skein-nft-1"; /* bump when the layout changes */
	uint64_t h = 0xcbf29ce484222325ULL;

	fnv(&h, version, sizeof(version));
	for (size_t i = 0; i < cfg->n_local_pod_cidrs; i++) {
		struct cidr c = cidr_network(&cfg->local_pod_cidrs[i]);

		fnv(&h, &c.ip.family, sizeof(c.ip.family));
		fnv(&h, c.ip.bytes, ip_len(&c.ip));
		fnv(&h, &c.prefix, 1);
	}
	for (size_t f = 0; f < 2; f++) {
		struct nft_interval *iv;
		size_t n;

		if (nft_intervals(cfg->cluster_cidrs, cfg->n_cluster_cidrs, set_specs[f].family, &iv, &n) == 0)
			fnv(&h, iv, n * sizeof(*iv));
		free(iv);
		fnv(&h, "|", 1);
	}
	fnv(&h, &cfg->wireguard_ip.family, sizeof(int));
	fnv(&h, cfg->wireguard_ip.bytes, ip_len(&cfg->wireguard_ip));
	fnv(&h, cfg->wg_ifname, strnlen(cfg->wg_ifname, IF_NAMESIZE));
	fnv(&h, &cfg->forward_accept, sizeof(cfg->forward_accept));
	return h;
}

/* ---- pure: building the batch ---- */

/* Room for one more message at the end of the batch, or NULL. */
static char *batch_room(struct nft_batch *b)
{
	if (b->cap - b->len < MSG_ROOM) {
		size_t cap = b->cap * 2 + MSG_ROOM;
		char *p = realloc(b->buf, cap);

		if (!p)
			return NULL;
		memset(p + b->len, 0, cap - b->len);
		b->buf = p;
		b->cap = cap;
	}
	return b->buf + b->len;
}

static struct nlmsghdr *batch_hdr(struct nft_batch *b, uint16_t type, uint16_t flags)
{
	char *room = batch_room(b);

	return room ? nftnl_nlmsg_build_hdr(room, type, NFPROTO_INET, flags, b->seq++) : NULL;
}

static void batch_commit(struct nft_batch *b, const struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* BATCH_BEGIN/END are not nf_tables messages: libnftnl writes them itself. */
static int batch_mark(struct nft_batch *b, bool begin)
{
	char *room = batch_room(b);

	if (!room)
		return -1;
	batch_commit(b, begin ? nftnl_batch_begin(room, b->seq++) : nftnl_batch_end(room, b->seq++));
	return 0;
}

static struct nftnl_table *table_new(const struct nftnl_udata_buf *comment)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME) < 0 ||
	    (comment && nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(comment),
					     nftnl_udata_buf_len(comment)) < 0)) {
		nftnl_table_free(t);
		return NULL;
	}
	return t;
}

static int put_table(struct nft_batch *b, uint16_t type, const struct nftnl_udata_buf *comment)
{
	struct nftnl_table *t = table_new(comment);
	struct nlmsghdr *nlh = t ? batch_hdr(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0) : NULL;

	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_commit(b, nlh);
	}
	nftnl_table_free(t);
	return nlh ? 0 : -1;
}

static struct nftnl_udata_buf *table_comment(uint64_t hash)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN);
	char text[64];

	if (!u)
		return NULL;
	snprintf(text, sizeof(text), "skein config %016llx", (unsigned long long)hash);
	if (!nftnl_udata_put_strz(u, NFTNL_UDATA_TABLE_COMMENT, text)) {
		nftnl_udata_buf_free(u);
		return NULL;
	}
	return u;
}

static int put_chain(struct nft_batch *b, const struct chain_spec *spec)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh = NULL;

	if (!c)
		return -1;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, spec->hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, spec->priority);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME) == 0 &&
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, spec->name) == 0 &&
	    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, spec->type) == 0)
		nlh = batch_hdr(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_commit(b, nlh);
		b->n_chains++;
	}
	nftnl_chain_free(c);
	return nlh ? 0 : -1;
}

static struct nftnl_set *set_new(size_t idx)
{
	const struct set_spec *spec = &set_specs[idx];
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)idx + 1);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, spec->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, spec->family == AF_INET6 ? 16 : 4);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, spec->name) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

static int set_elem_add(struct nftnl_set *s, const uint8_t *key, size_t len, bool end)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -1;
	if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)len) < 0) {
		nftnl_set_elem_free(e);
		return -1;
	}
	if (end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
	return 0;
}

/* One NEWSETELEM message for intervals [from, to). */
static int put_elems(struct nft_batch *b, size_t set_idx, const struct nft_interval *iv,
		     size_t from, size_t to)
{
	struct nftnl_set *s = set_new(set_idx);
	size_t len = set_specs[set_idx].family == AF_INET6 ? 16 : 4;
	struct nlmsghdr *nlh;
	int ret = s ? 0 : -1;

	for (size_t i = from; i < to && ret == 0; i++) {
		uint8_t end[16];

		ret = set_elem_add(s, iv[i].first, len, false);
		b->n_elems[set_idx]++;
		memcpy(end, iv[i].last, len);
		/* The range's end marker is the next address; a range reaching
		 * the top of the address space has none. */
		if (ret == 0 && increment(end, len)) {
			ret = set_elem_add(s, end, len, true);
			b->n_elems[set_idx]++;
		}
	}
	nlh = ret == 0 ? batch_hdr(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE) : NULL;
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_commit(b, nlh);
	}
	if (s)
		nftnl_set_free(s);
	return nlh ? 0 : -1;
}

static int put_set(struct nft_batch *b, size_t idx, const struct nft_config *cfg)
{
	struct nftnl_set *s = set_new(idx);
	struct nft_interval *iv = NULL;
	struct nlmsghdr *nlh = s ? batch_hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE) : NULL;
	size_t n = 0;
	int ret = nlh ? 0 : -1;

	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		batch_commit(b, nlh);
	}
	if (s)
		nftnl_set_free(s);
	if (ret == 0)
		ret = nft_intervals(cfg->cluster_cidrs, cfg->n_cluster_cidrs, set_specs[idx].family, &iv, &n);
	for (size_t i = 0; i < n && ret == 0; i += ELEMS_PER_MSG)
		ret = put_elems(b, idx, iv, i, i + ELEMS_PER_MSG < n ? i + ELEMS_PER_MSG : n);
	free(iv);
	return ret;
}

/* A rule under construction; any allocation failure marks it failed. */
struct rule_builder {
	struct nftnl_rule *r;
	bool failed;
};

static struct nftnl_expr *expr(struct rule_builder *rb, const char *name)
{
	struct nftnl_expr *e = rb->failed ? NULL : nftnl_expr_alloc(name);

	if (!e) {
		rb->failed = true;
		return NULL;
	}
	nftnl_rule_add_expr(rb->r, e);
	return e;
}

static void load_meta(struct rule_builder *rb, uint32_t key)
{
	struct nftnl_expr *e = expr(rb, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void load_payload(struct rule_builder *rb, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = expr(rb, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
}

static void compare(struct rule_builder *rb, enum nft_cmp_ops op, const void *data, size_t len)
{
	struct nftnl_expr *e = expr(rb, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, (uint32_t)len);
}

static void mask(struct rule_builder *rb, const uint8_t *bits, size_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = expr(rb, "bitwise");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, (uint32_t)len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, bits, (uint32_t)len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, (uint32_t)len);
}

static void lookup_not_in(struct rule_builder *rb, size_t set_idx)
{
	struct nftnl_expr *e = expr(rb, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set_specs[set_idx].name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)set_idx + 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

static void fib_saddr_type(struct rule_builder *rb)
{
	struct nftnl_expr *e = expr(rb, "fib");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR);
}

static void verdict(struct rule_builder *rb, uint32_t v)
{
	struct nftnl_expr *e = expr(rb, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, v);
}

/* Header offsets of the addresses, by family. */
static uint32_t saddr_offset(int family) { return family == AF_INET6 ? 8 : 12; }
static uint32_t daddr_offset(int family) { return family == AF_INET6 ? 24 : 16; }

static void match_family(struct rule_builder *rb, int family)
{
	uint8_t proto = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	load_meta(rb, NFT_META_NFPROTO);
	compare(rb, NFT_CMP_EQ, &proto, 1);
}

/* "ip saddr 10.244.1.0/24" (offset: saddr or daddr). */
static void match_prefix(struct rule_builder *rb, uint32_t offset, const struct cidr *c)
{
	struct cidr net = cidr_network(c);
	size_t len = ip_len(&c->ip);
	uint8_t bits[16] = { 0 };

	if (!c->prefix)
		return;
	load_payload(rb, offset, (uint32_t)len);
	if (c->prefix < ip_family_bits(c->ip.family)) {
		for (size_t i = 0; i < len; i++) {
			unsigned n = c->prefix > i * 8 ? c->prefix - (unsigned)i * 8 : 0;

			bits[i] = n >= 8 ? 0xff : (uint8_t)(0xff00u >> n);
		}
		mask(rb, bits, len);
	}
	compare(rb, NFT_CMP_EQ, net.ip.bytes, len);
}

static struct rule_builder rule_start(size_t chain)
{
	struct rule_builder rb = { nftnl_rule_alloc(), false };

	if (!rb.r || nftnl_rule_set_str(rb.r, NFTNL_RULE_TABLE, NFT_TABLE_NAME) < 0 ||
	    nftnl_rule_set_str(rb.r, NFTNL_RULE_CHAIN, chain_specs[chain].name) < 0)
		rb.failed = true;
	else
		nftnl_rule_set_u32(rb.r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return rb;
}

static int rule_finish(struct nft_batch *b, size_t chain, struct rule_builder *rb)
{
	struct nlmsghdr *nlh = rb->failed ? NULL : batch_hdr(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);

	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, rb->r);
		batch_commit(b, nlh);
		b->n_rules[chain]++;
	}
	if (rb->r)
		nftnl_rule_free(rb->r);
	return nlh ? 0 : -1;
}

/* ip saddr POD ip daddr != @clusterN masquerade */
static int put_masquerade(struct nft_batch *b, const struct cidr *pod)
{
	struct rule_builder rb = rule_start(CHAIN_POSTROUTING);
	int family = pod->ip.family;

	match_family(&rb, family);
	match_prefix(&rb, saddr_offset(family), pod);
	load_payload(&rb, daddr_offset(family), (uint32_t)ip_len(&pod->ip));
	lookup_not_in(&rb, family == AF_INET6);
	expr(&rb, "masq");
	return rule_finish(b, CHAIN_POSTROUTING, &rb);
}

/* ip saddr|daddr POD accept */
static int put_forward_accept(struct nft_batch *b, const struct cidr *pod, uint32_t offset)
{
	struct rule_builder rb = rule_start(CHAIN_FORWARD);

	match_family(&rb, pod->ip.family);
	match_prefix(&rb, offset, pod);
	verdict(&rb, NF_ACCEPT);
	return rule_finish(b, CHAIN_FORWARD, &rb);
}

/* iifname != WG ip daddr WGIP fib saddr type != local counter drop */
static int put_antispoof(struct nft_batch *b, const struct nft_config *cfg)
{
	struct rule_builder rb = rule_start(CHAIN_PRERAW);
	char ifname[IFNAMSIZ] = { 0 };
	uint32_t local = RTN_LOCAL;
	int family = cfg->wireguard_ip.family;

	memcpy(ifname, cfg->wg_ifname, strnlen(cfg->wg_ifname, IFNAMSIZ - 1));
	load_meta(&rb, NFT_META_IIFNAME);
	compare(&rb, NFT_CMP_NEQ, ifname, sizeof(ifname));
	match_family(&rb, family);
	load_payload(&rb, daddr_offset(family), (uint32_t)ip_len(&cfg->wireguard_ip));
	compare(&rb, NFT_CMP_EQ, cfg->wireguard_ip.bytes, ip_len(&cfg->wireguard_ip));
	fib_saddr_type(&rb);
	compare(&rb, NFT_CMP_NEQ, &local, sizeof(local));
	expr(&rb, "counter");
	verdict(&rb, NF_DROP);
	return rule_finish(b, CHAIN_PRERAW, &rb);
}

static int check_config(const struct nft_config *cfg, struct error *err)
{
	char buf[CIDR_STRLEN];

	for (size_t i = 0; i < cfg->n_local_pod_cidrs; i++) {
		const struct cidr *c = &cfg->local_pod_cidrs[i];

		if (c->ip.family != AF_INET && c->ip.family != AF_INET6)
			return error_set(err, "nftables: local pod CIDR #%zu has no address family", i);
		if (!c->prefix)
			return error_set(err, "nftables: local pod CIDR %s would masquerade every source",
					 cidr_format(c, buf));
	}
	for (size_t i = 0; i < cfg->n_cluster_cidrs; i++)
		if (cfg->cluster_cidrs[i].ip.family != AF_INET && cfg->cluster_cidrs[i].ip.family != AF_INET6)
			return error_set(err, "nftables: cluster CIDR #%zu has no address family", i);
	if (cfg->wireguard_ip.family && !cfg->wg_ifname[0])
		return error_set(err, "nftables: anti-spoofing rule needs the WireGuard device name");
	return 0;
}

static int build_body(const struct nft_config *cfg, struct nft_batch *b)
{
	struct nftnl_udata_buf *comment = table_comment(b->hash);
	int ret = comment ? 0 : -1;

	/* Add first so the delete succeeds whether or not the table exists. */
	if (ret == 0)
		ret = put_table(b, NFT_MSG_NEWTABLE, NULL);
	if (ret == 0)
		ret = put_table(b, NFT_MSG_DELTABLE, NULL);
	if (ret == 0)
		ret = put_table(b, NFT_MSG_NEWTABLE, comment);
	if (comment)
		nftnl_udata_buf_free(comment);
	for (size_t i = 0; i < 2 && ret == 0; i++)
		ret = put_set(b, i, cfg);
	if (ret == 0)
		ret = put_chain(b, &chain_specs[CHAIN_POSTROUTING]);
	for (size_t i = 0; i < cfg->n_local_pod_cidrs && ret == 0; i++)
		ret = put_masquerade(b, &cfg->local_pod_cidrs[i]);
	if (ret == 0 && cfg->forward_accept)
		ret = put_chain(b, &chain_specs[CHAIN_FORWARD]);
	for (size_t i = 0; cfg->forward_accept && i < cfg->n_local_pod_cidrs && ret == 0; i++) {
		int family = cfg->local_pod_cidrs[i].ip.family;

		ret = put_forward_accept(b, &cfg->local_pod_cidrs[i], saddr_offset(family));
		if (ret == 0)
			ret = put_forward_accept(b, &cfg->local_pod_cidrs[i], daddr_offset(family));
	}
	if (ret == 0 && cfg->wireguard_ip.family) {
		ret = put_chain(b, &chain_specs[CHAIN_PRERAW]);
		if (ret == 0)
			ret = put_antispoof(b, cfg);
	}
	return ret;
}

int nft_batch_build(const struct nft_config *cfg, uint32_t seq, struct nft_batch *out,
		    struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_config(cfg, err) < 0)
		return -1;
	out->seq = seq;
	out->hash = nft_config_hash(cfg);
	if (batch_mark(out, true) < 0 || build_body(cfg, out) < 0 || batch_mark(out, false) < 0) {
		nft_batch_free(out);
		return error_set(err, "nftables: out of memory building the batch");
	}
	return 0;
}

void nft_batch_free(struct nft_batch *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

/* ---- netlink shell ---- */

/* What reading table inet skein back found. */
struct observed {
	bool table;
	bool comment_matches;
	const struct nftnl_udata_buf *want_comment;
	size_t n_chains, n_rules[N_CHAINS], n_elems[2];
	bool foreign_chain;
};

static int chain_index(const char *name)
{
	for (int i = 0; i < N_CHAINS; i++)
		if (!strcmp(chain_specs[i].name, name))
			return i;
	return -1;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct observed *o = data;

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    !strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), NFT_TABLE_NAME)) {
		uint32_t len = 0;
		const void *ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);

		o->table = true;
		o->comment_matches = ud && o->want_comment &&
				     len == nftnl_udata_buf_len(o->want_comment) &&
				     !memcmp(ud, nftnl_udata_buf_data(o->want_comment), len);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct observed *o = data;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    !strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), NFT_TABLE_NAME)) {
		o->n_chains++;
		if (chain_index(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)) < 0)
			o->foreign_chain = true;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct observed *o = data;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    !strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), NFT_TABLE_NAME)) {
		int i = chain_index(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));

		if (i >= 0)
			o->n_rules[i]++;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int elem_count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();
	size_t *count = data;
	struct nftnl_set_elems_iter *it;

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0 && (it = nftnl_set_elems_iter_create(s))) {
		while (nftnl_set_elems_iter_next(it))
			(*count)++;
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static struct nlmsghdr *dump_request(struct nl *nl, uint16_t type)
{
	return nftnl_nlmsg_build_hdr(nl->buf, type, NFPROTO_INET, NLM_F_DUMP, ++nl->seq);
}

static int dump_elems(struct nl *nl, size_t idx, size_t *count)
{
	struct nftnl_set *s = set_new(idx);
	struct nlmsghdr *nlh;
	int ret;

	if (!s)
		return -ENOMEM;
	nlh = dump_request(nl, NFT_MSG_GETSETELEM);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	ret = nl_talk(nl, nlh, elem_count_cb, count);
	return ret == -ENOENT ? 0 : ret; /* a missing set counts as empty */
}

static int observe(struct nl *nl, struct observed *o)
{
	struct nftnl_rule *filter;
	struct nlmsghdr *nlh;
	int ret = nl_talk(nl, dump_request(nl, NFT_MSG_GETTABLE), table_cb, o);

	if (ret < 0 || !o->table || !o->comment_matches)
		return ret;
	ret = nl_talk(nl, dump_request(nl, NFT_MSG_GETCHAIN), chain_cb, o);
	if (ret < 0)
		return ret;
	filter = nftnl_rule_alloc();
	if (!filter || nftnl_rule_set_str(filter, NFTNL_RULE_TABLE, NFT_TABLE_NAME) < 0) {
		if (filter)
			nftnl_rule_free(filter);
		return -ENOMEM;
	}
	nlh = dump_request(nl, NFT_MSG_GETRULE);
	nftnl_rule_nlmsg_build_payload(nlh, filter);
	nftnl_rule_free(filter);
	ret = nl_talk(nl, nlh, rule_cb, o);
	for (size_t i = 0; i < 2 && ret == 0; i++)
		ret = dump_elems(nl, i, &o->n_elems[i]);
	return ret;
}

static bool observed_matches(const struct observed *o, const struct nft_batch *b)
{
	return o->table && o->comment_matches && !o->foreign_chain && o->n_chains == b->n_chains &&
	       !memcmp(o->n_rules, b->n_rules, sizeof(o->n_rules)) &&
	       !memcmp(o->n_elems, b->n_elems, sizeof(o->n_elems));
}

/* Sends a whole batch at once. The kernel handles it inside sendmsg, so
 * every error it reports is queued by the time sendmsg returns; messages
 * carry no ACK flag, so an empty socket means success. */
static int batch_send(struct nl *nl, const char *buf, size_t len)
{
	int fd = mnl_socket_get_fd(nl->sock), sndbuf = (int)len + 4096;
	ssize_t n;

	if (len > 128 * 1024 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		return -errno;
	nl->writes++;
	if (mnl_socket_sendto(nl->sock, buf, len) < 0)
		return -errno;
	while ((n = recv(fd, nl->buf, nl->buf_len, MSG_DONTWAIT)) > 0)
		if (mnl_cb_run(nl->buf, (size_t)n, 0, nl->portid, NULL, NULL) < 0)
			return errno ? -errno : -EIO;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? -errno : 0;
}

int nft_sync(struct nl *nl, const struct nft_config *cfg, struct error *err)
{
	struct observed o = { 0 };
	struct nft_batch b;
	int ret;

	if (nft_batch_build(cfg, nl->seq + 1, &b, err) < 0)
		return -1;
	nl->seq = b.seq;
	o.want_comment = table_comment(b.hash);
	ret = o.want_comment ? observe(nl, &o) : -ENOMEM;
	if (o.want_comment)
		nftnl_udata_buf_free(o.want_comment);
	if (ret < 0) {
		nft_batch_free(&b);
		return error_set(err, "nftables: read table inet %s: %s", NFT_TABLE_NAME, strerror(-ret));
	}
	if (!observed_matches(&o, &b))
		ret = batch_send(nl, b.buf, b.len);
	nft_batch_free(&b);
	if (ret < 0)
		return error_set(err, "nftables: load table inet %s: %s", NFT_TABLE_NAME, strerror(-ret));
	return 0;
}

int nft_remove(struct nl *nl, struct error *err)
{
	struct observed o = { 0 };
	struct nft_batch b = { .seq = nl->seq + 1 };
	int ret = nl_talk(nl, dump_request(nl, NFT_MSG_GETTABLE), table_cb, &o);

	if (ret < 0)
		return error_set(err, "nftables: read table inet %s: %s", NFT_TABLE_NAME, strerror(-ret));
	if (!o.table)
		return 0;
	b.seq = nl->seq + 1;
	if (batch_mark(&b, true) < 0 || put_table(&b, NFT_MSG_DELTABLE, NULL) < 0 ||
	    batch_mark(&b, false) < 0) {
		nft_batch_free(&b);
		return error_set(err, "nftables: out of memory");
	}
	nl->seq = b.seq;
	ret = batch_send(nl, b.buf, b.len);
	nft_batch_free(&b);
	if (ret < 0)
		return error_set(err, "nftables: delete table inet %s: %s", NFT_TABLE_NAME, strerror(-ret));
	return 0;
}
