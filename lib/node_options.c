// SPDX-License-Identifier: GPL-2.0-or-later
#include "node_options.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_version.h"
#include "cniconf.h"

enum {
	OPT_GRANULARITY, OPT_SUBNET, OPT_SERVICE_CIDR, OPT_ENCAPSULATE, OPT_MTU, OPT_WIREGUARD,
	OPT_UAPI_DIR, OPT_INTERFACE, OPT_PORT, OPT_KEY_DIR, OPT_CNI_CONF, OPT_CNI_VERSION, OPT_CLEAN_UP,
	OPT_RESYNC_PERIOD, OPT_LISTEN, OPT_INTERNAL_IP,
};

#define ENTRY(name, has_arg, id) { name, has_arg, NULL, NODE_OPT_BASE + (id) }
const struct option node_long_options[NODE_N_OPTIONS] = {
	ENTRY("mesh-granularity", required_argument, OPT_GRANULARITY),
	ENTRY("subnet", required_argument, OPT_SUBNET),
	ENTRY("service-cidr", required_argument, OPT_SERVICE_CIDR),
	ENTRY("encapsulate", required_argument, OPT_ENCAPSULATE),
	ENTRY("mtu", required_argument, OPT_MTU),
	ENTRY("wireguard", required_argument, OPT_WIREGUARD),
	ENTRY("uapi-dir", required_argument, OPT_UAPI_DIR),
	ENTRY("interface", required_argument, OPT_INTERFACE),
	ENTRY("port", required_argument, OPT_PORT),
	ENTRY("key-dir", required_argument, OPT_KEY_DIR),
	ENTRY("cni-conf", required_argument, OPT_CNI_CONF),
	ENTRY("cni-version", required_argument, OPT_CNI_VERSION),
	ENTRY("clean-up", optional_argument, OPT_CLEAN_UP),
	ENTRY("resync-period", required_argument, OPT_RESYNC_PERIOD),
	ENTRY("listen", required_argument, OPT_LISTEN),
	ENTRY("internal-ip", required_argument, OPT_INTERNAL_IP),
};

const char node_options_usage[] =
	"\n"
	"Programming the node:\n"
	"  --mesh-granularity G  location, full or cross (default location)\n"
	"  --subnet CIDR         WireGuard IPs come from here (default 10.4.0.0/16)\n"
	"  --service-cidr CIDR   not masqueraded; repeatable, at most 4\n"
	"  --encapsulate MODE    never, crosssubnet or always (default crosssubnet)\n"
	"  --mtu auto|N          WireGuard and pod MTU; auto: underlay MTU - 80 (default auto)\n"
	"  --wireguard MODE      auto, kernel or userspace (default auto)\n"
	"  --uapi-dir DIR        userspace WireGuard sockets (default /var/run/wireguard)\n"
	"  --interface NAME      the WireGuard device (default skein0)\n"
	"  --port N              WireGuard listen port (default 51820)\n"
	"  --key-dir DIR         holds private.key (default /var/lib/skein)\n"
	"  --cni-conf FILE       CNI config list (default /etc/cni/net.d/10-skein.conflist)\n"
	"  --cni-version V       its cniVersion: 0.3.0, 0.3.1, 0.4.0, 1.0.0 (default) or 1.1.0;\n"
	"                        1.1.0 gives runtimes STATUS and GC, if the node's portmap accepts it\n"
	"  --clean-up[=BOOL]     undo everything on SIGTERM/SIGINT (default true)\n"
	"  --resync-period D     repair drift at least this often: 30s, 500ms, 2m (default 30s)\n"
	"  --listen ADDR         /healthz and /metrics on [IP]:PORT; empty disables (default :1107)\n"
	"  --internal-ip IP      auto (the default route's interface address) or IP[/PREFIX]\n";

int node_options_default(struct node_options *o)
{
	memset(o, 0, sizeof(*o));
	if (topology_options_default(&o->topo) < 0)
		return -1;
	o->uapi_dir = NODE_DEFAULT_UAPI_DIR;
	o->key_dir = NODE_DEFAULT_KEY_DIR;
	o->cni_conf = CNICONF_DEFAULT_PATH;
	o->cni_version = CNICONF_CNI_VERSION;
	o->clean_up = true;
	return listen_addr_parse(NODE_DEFAULT_LISTEN, &o->listen);
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int listen_addr_parse(const char *s, struct listen_addr *out)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t len;
	unsigned long port;

	memset(out, 0, sizeof(*out));
	if (!*s)
		return 0;
	if (!colon || parse_uint(colon + 1, 1, 65535, &port) < 0)
		return -1;
	out->enabled = true;
	out->port = (uint16_t)port;
	len = (size_t)(colon - s);
	if (len == 0)
		return 0;
	if (len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	if (host[0] == '[') {
		if (len < 3 || host[len - 1] != ']')
			return -1;
		host[len - 1] = '\0';
		if (ip_parse(host + 1, &out->ip) < 0 || out->ip.family != AF_INET6)
			return -1;
	} else if (ip_parse(host, &out->ip) < 0 || out->ip.family != AF_INET) {
		return -1;
	}
	out->has_ip = true;
	return 0;
}

int duration_parse_ms(const char *s, long *ms)
{
	static const struct { const char *suffix; long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtod(s, &end);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		v *= (double)units[i].ms;
		if (v < 100 || v > 86400000)
			return -1;
		*ms = (long)v;
		return 0;
	}
	return -1;
}

static int parse_bool(const char *s, bool *out)
{
	if (!s || !strcmp(s, "true"))
		*out = true;
	else if (!strcmp(s, "false"))
		*out = false;
	else
		return -1;
	return 0;
}

/* Maps one of names[] to its index. */
static int parse_enum(const char *s, const char *const names[], size_t n, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(s, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return -1;
}

static int set_service_cidr(struct topology_options *t, const char *s)
{
	struct cidr c;

	if (t->n_service_cidrs == TOPOLOGY_MAX_SERVICE_CIDRS || cidr_parse(s, &c) < 0)
		return -1;
	t->service_cidrs[t->n_service_cidrs++] = cidr_network(&c);
	return 0;
}

static int set_ifname(char out[IF_NAMESIZE], const char *s)
{
	if (!*s || strlen(s) >= IF_NAMESIZE || strpbrk(s, "/: \t") || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return -1;
	strcpy(out, s);
	return 0;
}

static int set_mtu(struct node_options *o, const char *s)
{
	unsigned long v;

	if (!strcmp(s, "auto")) {
		o->mtu = 0;
		return 0;
	}
	if (parse_uint(s, 576, 65535, &v) < 0)
		return -1;
	o->mtu = (uint32_t)v;
	return 0;
}

static int set_internal_ip(struct node_options *o, const char *s)
{
	if (!strcmp(s, "auto")) {
		o->internal_ip.ip.family = 0;
		return 0;
	}
	return cidr_parse_host(s, &o->internal_ip); /* with or without a prefix */
}

/* Points at the library's copy of the string, not into argv. */
static int set_cni_version(struct node_options *o, const char *s)
{
	enum cni_version v;

	if (cni_version_parse(s, &v) < 0)
		return -1;
	o->cni_version = cni_versions[v];
	return 0;
}

static int set_one(struct node_options *o, int id, const char *arg)
{
	static const char *const granularities[] = { "location", "full", "cross" };
	static const char *const encaps[] = { "never", "crosssubnet", "always" };
	static const char *const modes[] = { "auto", "kernel", "userspace" };
	unsigned long port;
	int v;

	switch (id) {
	case OPT_GRANULARITY:
		if (parse_enum(arg, granularities, 3, &v) < 0)
			return -1;
		o->topo.granularity = (enum granularity)v;
		return 0;
	case OPT_SUBNET:
		if (cidr_parse(arg, &o->topo.subnet) < 0 || cidr_size(&o->topo.subnet) < 4)
			return -1;
		o->topo.subnet = cidr_network(&o->topo.subnet);
		return 0;
	case OPT_SERVICE_CIDR: return set_service_cidr(&o->topo, arg);
	case OPT_ENCAPSULATE:
		if (parse_enum(arg, encaps, 3, &v) < 0)
			return -1;
		o->topo.encapsulation = (enum encapsulation)v;
		return 0;
	case OPT_MTU: return set_mtu(o, arg);
	case OPT_WIREGUARD:
		if (parse_enum(arg, modes, 3, &v) < 0)
			return -1;
		o->wireguard = (enum wg_mode)v;
		return 0;
	case OPT_UAPI_DIR: o->uapi_dir = arg; return *arg && strlen(arg) < 100 ? 0 : -1;
	case OPT_INTERFACE: return set_ifname(o->topo.wg_ifname, arg);
	case OPT_PORT:
		if (parse_uint(arg, 1, 65535, &port) < 0)
			return -1;
		o->topo.listen_port = (uint16_t)port;
		return 0;
	case OPT_KEY_DIR: o->key_dir = arg; return *arg ? 0 : -1;
	case OPT_CNI_CONF: o->cni_conf = arg; return *arg ? 0 : -1;
	case OPT_CNI_VERSION: return set_cni_version(o, arg);
	case OPT_CLEAN_UP: return parse_bool(arg, &o->clean_up);
	case OPT_RESYNC_PERIOD: return duration_parse_ms(arg, &o->resync_ms);
	case OPT_LISTEN: return listen_addr_parse(arg, &o->listen);
	case OPT_INTERNAL_IP: return set_internal_ip(o, arg);
	}
	return -1;
}

int node_option_set(struct node_options *o, int id, const char *arg, struct error *err)
{
	int i = id - NODE_OPT_BASE;

	if (i < 0 || i >= NODE_N_OPTIONS)
		return error_set(err, "unknown option id %d", id);
	if (set_one(o, i, arg) < 0)
		return error_set(err, "--%s: bad value \"%s\" (see --help)", node_long_options[i].name,
				 arg ? arg : "");
	return 0;
}
