// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "skeinctl.h"

#define DEFAULT_MAX_AGE 180
#define EXIT_STALE 1
#define EXIT_ERROR 2

/* As wireguard-tools' pretty_time(). */
const char *format_duration(unsigned long long secs, char *buf, size_t len)
{
	static const struct { const char *unit; unsigned long long secs; } units[] = {
		{ "year", 365ULL * 24 * 3600 }, { "day", 24 * 3600 }, { "hour", 3600 },
		{ "minute", 60 }, { "second", 1 },
	};
	size_t off = 0;

	buf[0] = '\0';
	if (!secs) {
		snprintf(buf, len, "Now");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; i++) {
		unsigned long long n = secs / units[i].secs;

		secs %= units[i].secs;
		if (n)
			off += (size_t)snprintf(buf + off, len - off, "%s%llu %s%s", off ? ", " : "", n,
						units[i].unit, n == 1 ? "" : "s");
	}
	return buf;
}

/* As wireguard-tools' bytes(). */
const char *format_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;

	if (b < 1024) {
		snprintf(buf, len, "%u B", (unsigned)b);
		return buf;
	}
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); u++)
		v /= 1024;
	snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

static const struct plan_peer *plan_peer_by_key(const struct plan *plan, const struct wg_key *key)
{
	for (size_t i = 0; plan && i < plan->n_peers; i++)
		if (key_equal(&plan->peers[i].public_key, key))
			return &plan->peers[i];
	return NULL;
}

static const struct wg_peer *device_peer_by_key(const struct wg_device *dev, const struct wg_key *key)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (key_equal(&dev->peers[i].public_key, key))
			return &dev->peers[i];
	return NULL;
}

static void write_allowed_ips(FILE *f, const struct cidr *c, size_t n)
{
	char buf[CIDR_STRLEN];

	fputs("  allowed ips: ", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", cidr_format(&c[i], buf));
	fputs(n ? "\n" : "(none)\n", f);
}

static void write_endpoint(FILE *f, const struct wg_peer *p)
{
	char ip[INET6_ADDRSTRLEN];
	bool v6 = p->endpoint_ip.family == AF_INET6;

	if (p->endpoint_ip.family)
		fprintf(f, "  endpoint: %s%s%s:%u\n", v6 ? "[" : "", ip_format(&p->endpoint_ip, ip),
			v6 ? "]" : "", p->endpoint_port);
}

/* true when the peer had a handshake in the last max_age seconds. */
static bool write_handshake(FILE *f, const struct wg_peer *p, time_t now, long max_age)
{
	char buf[128];

	if (!p->last_handshake_sec) {
		fputs("  latest handshake: (none)\n", f);
		return false;
	}
	if (now < p->last_handshake_sec) {
		fputs("  latest handshake: (in the future: the system clock went backwards)\n", f);
		return true;
	}
	format_duration((unsigned long long)(now - p->last_handshake_sec), buf, sizeof(buf));
	fprintf(f, "  latest handshake: %s%s\n", buf, strcmp(buf, "Now") ? " ago" : "");
	return now - p->last_handshake_sec <= max_age;
}

static void write_transfer(FILE *f, const struct wg_peer *p)
{
	char rx[32], tx[32];

	if (p->rx_bytes || p->tx_bytes)
		fprintf(f, "  transfer: %s received, %s sent\n", format_bytes(p->rx_bytes, rx, sizeof(rx)),
			format_bytes(p->tx_bytes, tx, sizeof(tx)));
}

static void write_keepalive(FILE *f, const struct wg_peer *p)
{
	char buf[128];

	if (p->persistent_keepalive)
		fprintf(f, "  persistent keepalive: every %s\n",
			format_duration(p->persistent_keepalive, buf, sizeof(buf)));
}

/* One device peer; returns whether it is healthy (for expected peers). */
static bool write_peer(FILE *f, const struct wg_peer *p, const struct plan_peer *pp, time_t now,
		       long max_age)
{
	char key[WG_KEY_B64_LEN];
	bool fresh;

	fprintf(f, "\npeer: %s (%s)\n", key_to_base64(&p->public_key, key),
		pp ? pp->name : "not in the topology");
	write_endpoint(f, p);
	write_allowed_ips(f, p->allowed_ips, p->n_allowed_ips);
	fresh = write_handshake(f, p, now, max_age);
	write_transfer(f, p);
	write_keepalive(f, p);
	return fresh;
}

size_t status_write(FILE *f, const struct wg_device *dev, const struct plan *plan, time_t now,
		    long max_age)
{
	char key[WG_KEY_B64_LEN];
	size_t stale = 0;

	fprintf(f, "interface: %s\n", dev->name);
	if (!key_is_zero(&dev->public_key))
		fprintf(f, "  public key: %s\n  private key: (hidden)\n", key_to_base64(&dev->public_key, key));
	if (dev->listen_port)
		fprintf(f, "  listening port: %u\n", dev->listen_port);
	/* The topology's peers in its (name) order, then the device's others. */
	for (size_t i = 0; plan && i < plan->n_peers; i++) {
		const struct plan_peer *pp = &plan->peers[i];
		const struct wg_peer *p = device_peer_by_key(dev, &pp->public_key);

		if (!p) {
			fprintf(f, "\npeer: %s (%s)\n  missing from the device\n",
				key_to_base64(&pp->public_key, key), pp->name);
			write_allowed_ips(f, pp->allowed_ips, pp->n_allowed_ips);
			stale++;
		} else if (!write_peer(f, p, pp, now, max_age)) {
			stale++;
		}
	}
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!plan_peer_by_key(plan, &dev->peers[i].public_key))
			write_peer(f, &dev->peers[i], NULL, now, max_age);
	if (stale)
		fprintf(f, "\n%zu of %zu peers the topology expects had no handshake in the last %ld seconds\n",
			stale, plan->n_peers, max_age);
	return stale;
}

struct status_args {
	char hostname[MODEL_NAME_MAX + 1];
	long max_age;
};

enum { OPT_HOSTNAME = 1, OPT_MAX_AGE };

static int status_flag(void *ctx, int id, const char *arg, struct error *err)
{
	struct status_args *a = ctx;
	char *end;

	if (id == OPT_HOSTNAME) {
		if (!*arg || strlen(arg) > MODEL_NAME_MAX)
			return error_set(err, "--hostname: \"%s\" is not a Node name", arg);
		snprintf(a->hostname, sizeof(a->hostname), "%s", arg);
		return 0;
	}
	if (id == OPT_MAX_AGE) {
		a->max_age = strtol(arg, &end, 10);
		if (!*arg || *end || a->max_age < 1 || a->max_age > 86400)
			return error_set(err, "--handshake-timeout: \"%s\" is not a number of seconds in 1-86400", arg);
		return 0;
	}
	return error_set(err, "unknown flag (see skeinctl status --help)");
}

/* Like the agent: --hostname, else $NODE_NAME, else the host name. */
static int default_hostname(struct status_args *a, struct error *err)
{
	const char *env = getenv("NODE_NAME");

	if (a->hostname[0])
		return 0;
	if (env && *env) {
		snprintf(a->hostname, sizeof(a->hostname), "%s", env);
		return 0;
	}
	if (gethostname(a->hostname, sizeof(a->hostname) - 1) < 0)
		return error_set(err, "cannot read the host name; pass --hostname");
	return 0;
}

/* The agent's choice: --wireguard, else the kernel if it has WireGuard. */
int ctl_backend(const struct ctl *ctl, struct wg_backend *b, struct error *err)
{
	if (wg_backend_auto(b, ctl->node.uapi_dir, err) < 0)
		return -1;
	if (ctl->node.wireguard == WG_MODE_KERNEL)
		b->kind = WG_BACKEND_KERNEL;
	else if (ctl->node.wireguard == WG_MODE_USERSPACE)
		b->kind = WG_BACKEND_USERSPACE;
	return 0;
}

static const char status_usage[] =
	"Usage: skeinctl status [options]\n"
	"Shows this node's WireGuard device like `wg show`, each peer named by the\n"
	"topology (location/NAME, node/NAME, peer/NAME). Exits 1 when a peer the\n"
	"topology expects is missing or had no handshake within --handshake-timeout,\n"
	"2 on errors, else 0.\n"
	"\n"
	"  --hostname NAME        this node's Node name (default: $NODE_NAME, else the host name)\n"
	"  --handshake-timeout S  a handshake older than S seconds is missing (default 180)\n";

static int run_status(const struct ctl *ctl, const struct status_args *a, struct error *err)
{
	struct cluster cluster = { 0 };
	struct plan plan = { 0 };
	struct wg_device dev = { 0 };
	struct wg_backend b;
	int rc = EXIT_ERROR;

	if (ctl_load_cluster(ctl, &cluster, err) < 0)
		goto out;
	if (topology_compute(&cluster, a->hostname, &ctl->node.topo, &plan, err) < 0) {
		error_prefix(err, "node %s", a->hostname);
		goto out;
	}
	if (ctl_backend(ctl, &b, err) < 0 || wg_device_get(&b, ctl->node.topo.wg_ifname, &dev, err) < 0) {
		error_prefix(err, "device %s", ctl->node.topo.wg_ifname);
		goto out;
	}
	rc = status_write(stdout, &dev, &plan, time(NULL), a->max_age) ? EXIT_STALE : 0;
out:
	wg_device_free(&dev);
	plan_free(&plan);
	cluster_free(&cluster);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "handshake-timeout", required_argument, NULL, OPT_MAX_AGE },
	};
	struct status_args a = { .max_age = DEFAULT_MAX_AGE };
	struct ctl ctl;
	struct error err;
	int first, rc;

	rc = ctl_parse(&ctl, argc, argv, opts, 2, status_flag, &a, status_usage, &first, &err);
	if (rc > 0)
		return 0;
	if (rc == 0 && first < argc)
		rc = error_set(&err, "unexpected argument \"%s\" (see skeinctl status --help)", argv[first]);
	if (rc == 0)
		rc = default_hostname(&a, &err);
	if (rc == 0 && (rc = run_status(&ctl, &a, &err)) != EXIT_ERROR)
		return rc;
	fprintf(stderr, "skeinctl status: %s\n", err.msg);
	return EXIT_ERROR;
}
