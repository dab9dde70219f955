// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nodectl: applies or removes a node configuration (routes, rules, the
 * nftables table, a VXLAN device with its FDB, the CNI conflist) through
 * skein's modules, so shell tests can drive them inside namespaces.
 *
 *   nodectl apply FILE    make the node match FILE; prints "writes N (...)"
 *   nodectl remove FILE   remove everything skein owns that FILE names
 *   nodectl mtu [IP]      print --mtu=auto's answer ("mtu N") for the link
 *                         holding IP, or the default route's link
 *
 * FILE has one item per line ('#' starts a comment):
 *   route DST [via IP] [dev DEV] [src IP] [table N] [onlink] [mtu N]
 *   rule [-6] [from CIDR|all] [to CIDR|all] [table N] [priority N]
 *   nft pod CIDR | nft cluster CIDR | nft wireguard IP DEV | nft forward-accept
 *   vxlan NAME [vni N] [port N] [local IP] [dev DEV] [addr CIDR] [mtu N]
 *   fdb IP
 *   conflist PATH mtu N          (its pod CIDRs are the "nft pod" ones)
 * Without nft lines, apply removes the table; without route/rule lines it
 * removes skein's routes/rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "cniconf.h"
#include "encap.h"
#include "mtu.h"
#include "nft.h"
#include "route.h"

#define MAX_ITEMS 1024

struct node_conf {
	struct route routes[MAX_ITEMS];
	size_t n_routes;
	struct rule rules[MAX_ITEMS];
	size_t n_rules;
	struct cidr pods[MAX_ITEMS], cluster[MAX_ITEMS];
	struct nft_config nft;
	bool has_nft;
	struct ip_addr remotes[MAX_ITEMS];
	struct encap_config vxlan;
	bool has_vxlan;
	char conflist[256];
	uint32_t conflist_mtu;
};

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_name(const char *s, char out[IF_NAMESIZE])
{
	if (!s || !*s || strlen(s) >= IF_NAMESIZE)
		return -1;
	strcpy(out, s);
	return 0;
}

/* "all" or a prefix; all keeps prefix 0. */
static int parse_selector(const char *s, struct cidr *out)
{
	memset(out, 0, sizeof(*out));
	return s && strcmp(s, "all") ? cidr_parse(s, out) : (s ? 0 : -1);
}

static int parse_route(char **tok, struct route *r)
{
	size_t step;

	memset(r, 0, sizeof(*r));
	if (!tok[0] || cidr_parse(tok[0], &r->dst) < 0)
		return -1;
	for (size_t i = 1; tok[i]; i += step) {
		const char *v = tok[i + 1];
		int bad;

		step = 2; /* a keyword and its value */
		if (!strcmp(tok[i], "onlink")) {
			r->onlink = true;
			step = 1;
			continue;
		}
		if (!strcmp(tok[i], "via"))
			bad = !v || ip_parse(v, &r->gateway) < 0;
		else if (!strcmp(tok[i], "src"))
			bad = !v || ip_parse(v, &r->src) < 0;
		else if (!strcmp(tok[i], "dev"))
			bad = parse_name(v, r->dev);
		else if (!strcmp(tok[i], "table"))
			bad = parse_u32(v, &r->table);
		else if (!strcmp(tok[i], "mtu"))
			bad = parse_u32(v, &r->mtu);
		else
			return -1;
		if (bad)
			return -1;
	}
	return 0;
}

static int parse_rule(char **tok, struct rule *r)
{
	size_t step;

	memset(r, 0, sizeof(*r));
	r->family = AF_INET;
	for (size_t i = 0; tok[i]; i += step) {
		const char *v = tok[i + 1];
		int bad;

		step = 2; /* a keyword and its value */
		if (!strcmp(tok[i], "-6")) {
			r->family = AF_INET6;
			step = 1;
			continue;
		}
		if (!strcmp(tok[i], "from"))
			bad = parse_selector(v, &r->src);
		else if (!strcmp(tok[i], "to"))
			bad = parse_selector(v, &r->dst);
		else if (!strcmp(tok[i], "table"))
			bad = parse_u32(v, &r->table);
		else if (!strcmp(tok[i], "priority"))
			bad = parse_u32(v, &r->priority);
		else
			return -1;
		if (bad)
			return -1;
	}
	if (r->src.prefix)
		r->family = r->src.ip.family;
	else if (r->dst.prefix)
		r->family = r->dst.ip.family;
	return 0;
}

static int parse_nft(char **tok, struct node_conf *c)
{
	struct nft_config *n = &c->nft;

	c->has_nft = true;
	if (!tok[0])
		return -1;
	if (!strcmp(tok[0], "forward-accept")) {
		n->forward_accept = true;
		return 0;
	}
	if (!strcmp(tok[0], "wireguard"))
		return !tok[1] || ip_parse(tok[1], &n->wireguard_ip) < 0 || parse_name(tok[2], n->wg_ifname) ? -1 : 0;
	if (!strcmp(tok[0], "pod") && tok[1] && n->n_local_pod_cidrs < MAX_ITEMS)
		return cidr_parse(tok[1], &c->pods[n->n_local_pod_cidrs++]);
	if (!strcmp(tok[0], "cluster") && tok[1] && n->n_cluster_cidrs < MAX_ITEMS)
		return cidr_parse(tok[1], &c->cluster[n->n_cluster_cidrs++]);
	return -1;
}

static int parse_vxlan(char **tok, struct encap_config *e)
{
	uint32_t port = 0;

	if (parse_name(tok[0], e->ifname) < 0)
		return -1;
	for (size_t i = 1; tok[i]; i += 2) {
		const char *v = tok[i + 1];
		int bad;

		if (!strcmp(tok[i], "vni"))
			bad = parse_u32(v, &e->vni);
		else if (!strcmp(tok[i], "port"))
			bad = parse_u32(v, &port) || port > 65535;
		else if (!strcmp(tok[i], "local"))
			bad = !v || ip_parse(v, &e->local) < 0;
		else if (!strcmp(tok[i], "dev"))
			bad = parse_name(v, e->underlay);
		else if (!strcmp(tok[i], "addr"))
			bad = !v || cidr_parse(v, &e->address) < 0;
		else if (!strcmp(tok[i], "mtu"))
			bad = parse_u32(v, &e->mtu);
		else
			return -1;
		if (bad)
			return -1;
	}
	e->port = (uint16_t)port;
	return 0;
}

static int parse_line(char **tok, struct node_conf *c)
{
	const char *kw = tok[0];

	if (!strcmp(kw, "route") && c->n_routes < MAX_ITEMS)
		return parse_route(tok + 1, &c->routes[c->n_routes++]);
	if (!strcmp(kw, "rule") && c->n_rules < MAX_ITEMS)
		return parse_rule(tok + 1, &c->rules[c->n_rules++]);
	if (!strcmp(kw, "nft"))
		return parse_nft(tok + 1, c);
	if (!strcmp(kw, "vxlan")) {
		c->has_vxlan = true;
		return parse_vxlan(tok + 1, &c->vxlan);
	}
	if (!strcmp(kw, "fdb") && tok[1] && c->vxlan.n_remotes < MAX_ITEMS)
		return ip_parse(tok[1], &c->remotes[c->vxlan.n_remotes++]);
	if (!strcmp(kw, "conflist") && tok[1] && tok[2] && !strcmp(tok[2], "mtu") &&
	    strlen(tok[1]) < sizeof(c->conflist)) {
		strcpy(c->conflist, tok[1]);
		return parse_u32(tok[3], &c->conflist_mtu);
	}
	return -1;
}

static int load(const char *path, struct node_conf *c)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "nodectl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	c->nft.local_pod_cidrs = c->pods;
	c->nft.cluster_cidrs = c->cluster;
	c->vxlan.remotes = c->remotes;
	while (fgets(line, sizeof(line), f)) {
		char *tok[32], *save = NULL, *hash = strchr(line, '#');
		size_t n = 0;

		lineno++;
		if (hash)
			*hash = '\0';
		for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 31; t = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = t;
		tok[n] = NULL;
		if (n && parse_line(tok, c) < 0) {
			fprintf(stderr, "nodectl: %s:%d: cannot parse \"%s\"\n", path, lineno, tok[0]);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

struct writes {
	unsigned long rtnl, nft, cni;
};

static int apply(struct nl *rt, struct nl *nf, struct node_conf *c, struct writes *w, struct error *err)
{
	struct cniconf cni = { .pod_cidrs = c->pods, .n_pod_cidrs = c->nft.n_local_pod_cidrs,
			       .mtu = c->conflist_mtu };
	bool written = false;
	int ret = 0;

	if (c->has_vxlan && encap_sync(rt, &c->vxlan, err) < 0)
		return -1;
	if (route_sync(rt, c->routes, c->n_routes, err) < 0 || rule_sync(rt, c->rules, c->n_rules, err) < 0)
		ret = -1;
	if (ret == 0)
		ret = c->has_nft ? nft_sync(nf, &c->nft, err) : nft_remove(nf, err);
	if (ret == 0 && c->conflist[0])
		ret = cniconf_write(c->conflist, &cni, &written, err);
	w->cni = written;
	return ret;
}

static int remove_all(struct nl *rt, struct nl *nf, struct node_conf *c, struct error *err)
{
	if (route_remove_all(rt, err) < 0 || nft_remove(nf, err) < 0)
		return -1;
	if (c->has_vxlan && encap_remove(rt, c->vxlan.ifname, err) < 0)
		return -1;
	return c->conflist[0] ? cniconf_remove(c->conflist, err) : 0;
}

static int print_mtu(const char *ip_text)
{
	struct error err = { "" };
	struct ip_addr ip = { 0 };
	uint32_t mtu;
	struct nl rt;
	int ret;

	if (ip_text && ip_parse(ip_text, &ip) < 0) {
		fprintf(stderr, "nodectl: mtu: bad address %s\n", ip_text);
		return 2;
	}
	ret = nl_open(&rt, NETLINK_ROUTE);
	if (ret < 0) {
		fprintf(stderr, "nodectl: netlink: %s\n", strerror(-ret));
		return 1;
	}
	ret = mtu_auto(&rt, &ip, &mtu, &err);
	nl_close(&rt);
	if (ret < 0) {
		fprintf(stderr, "nodectl: %s\n", err.msg);
		return 1;
	}
	printf("mtu %u\n", mtu);
	return 0;
}

int main(int argc, char **argv)
{
	static struct node_conf conf;
	struct error err = { "" };
	struct writes w = { 0 };
	struct nl rt, nf;
	int ret, r1, r2;

	if (argc >= 2 && argc <= 3 && !strcmp(argv[1], "mtu"))
		return print_mtu(argv[2]);
	if (argc != 3 || (strcmp(argv[1], "apply") && strcmp(argv[1], "remove"))) {
		fprintf(stderr, "usage: nodectl apply|remove FILE, nodectl mtu [IP]\n");
		return 2;
	}
	if (load(argv[2], &conf) < 0)
		return 2;
	r1 = nl_open(&rt, NETLINK_ROUTE);
	r2 = r1 < 0 ? 0 : nl_open(&nf, NETLINK_NETFILTER);
	if (r1 < 0 || r2 < 0) {
		fprintf(stderr, "nodectl: netlink: %s\n", strerror(-(r1 < 0 ? r1 : r2)));
		if (r1 == 0)
			nl_close(&rt);
		return 1;
	}
	if (!strcmp(argv[1], "apply"))
		ret = apply(&rt, &nf, &conf, &w, &err);
	else
		ret = remove_all(&rt, &nf, &conf, &err);
	w.rtnl = rt.writes;
	w.nft = nf.writes;
	printf("writes %lu (rtnl %lu, nft %lu, cni %lu)\n", w.rtnl + w.nft + w.cni, w.rtnl, w.nft, w.cni);
	if (ret < 0)
		fprintf(stderr, "nodectl: %s\n", err.msg);
	nl_close(&rt);
	nl_close(&nf);
	return ret < 0 ? 1 : 0;
}
