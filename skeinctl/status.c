// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "probe.h"
#include "skeinctl.h"

#define DEFAULT_MAX_AGE 180
#define DEFAULT_PROBE_WAIT 5
#define MAX_PROBE_WAIT 300
#define PROBE_POLL_MS 50
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

/* A handshake in the last max_age seconds; one "in the future" (the clock
 * went backwards) counts as fresh. */
static bool handshake_fresh(const struct wg_peer *p, time_t now, long max_age)
{
	return p->last_handshake_sec &&
	       (now < p->last_handshake_sec || now - p->last_handshake_sec <= max_age);
}

/* Returns handshake_fresh(). */
static bool write_handshake(FILE *f, const struct wg_peer *p, time_t now, long max_age)
{
	char buf[128];

	if (!p->last_handshake_sec) {
		fputs("  latest handshake: (none)\n", f);
	} else if (now < p->last_handshake_sec) {
		fputs("  latest handshake: (in the future: the system clock went backwards)\n", f);
	} else {
		format_duration((unsigned long long)(now - p->last_handshake_sec), buf, sizeof(buf));
		fprintf(f, "  latest handshake: %s%s\n", buf, strcmp(buf, "Now") ? " ago" : "");
	}
	return handshake_fresh(p, now, max_age);
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

/* A stale peer that may just be idle, which a probe would tell: it has an
 * endpoint to dial, and WireGuard either never sent it anything (not even a
 * handshake initiation, which counts in tx) or had a handshake with it
 * before (traffic renews one every 2 minutes, so there was none lately).
 * Not one that was sent something and never answered: no probe will make
 * it answer. */
static bool maybe_idle(const struct wg_peer *p)
{
	return p->endpoint_ip.family && (!p->tx_bytes || p->last_handshake_sec);
}

size_t status_write(FILE *f, const struct wg_device *dev, const struct plan *plan, time_t now,
		    long max_age, bool hint_probe)
{
	char key[WG_KEY_B64_LEN];
	size_t stale = 0, idle_stale = 0;

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
			idle_stale += maybe_idle(p);
		}
	}
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!plan_peer_by_key(plan, &dev->peers[i].public_key))
			write_peer(f, &dev->peers[i], NULL, now, max_age);
	if (stale)
		fprintf(f, "\n%zu of %zu peers the topology expects had no handshake in the last %ld seconds\n",
			stale, plan->n_peers, max_age);
	if (hint_probe && idle_stale)
		fprintf(f, "%zu of them may just be idle (WireGuard handshakes only when it has traffic "
			"to send): `skeinctl status --probe` starts their handshakes\n", idle_stale);
	return stale;
}

struct status_args {
	char hostname[MODEL_NAME_MAX + 1];
	long max_age;
	long probe_wait; /* --probe: seconds; 0 without */
};

enum { OPT_HOSTNAME = 1, OPT_MAX_AGE, OPT_PROBE };

/* strtol of all of arg within [min, max]. */
static bool parse_seconds(const char *arg, long min, long max, long *out)
{
	char *end;

	*out = strtol(arg, &end, 10);
	return *arg && !*end && *out >= min && *out <= max;
}

static int status_flag(void *ctx, int id, const char *arg, struct error *err)
{
	struct status_args *a = ctx;

	if (id == OPT_HOSTNAME) {
		if (!*arg || strlen(arg) > MODEL_NAME_MAX)
			return error_set(err, "--hostname: \"%s\" is not a Node name", arg);
		snprintf(a->hostname, sizeof(a->hostname), "%s", arg);
		return 0;
	}
	if (id == OPT_MAX_AGE) {
		if (!parse_seconds(arg, 1, 86400, &a->max_age))
			return error_set(err, "--handshake-timeout: \"%s\" is not a number of seconds in 1-86400", arg);
		return 0;
	}
	if (id == OPT_PROBE) {
		a->probe_wait = DEFAULT_PROBE_WAIT;
		if (arg && !parse_seconds(arg, 1, MAX_PROBE_WAIT, &a->probe_wait))
			return error_set(err, "--probe: \"%s\" is not a number of seconds in 1-%d", arg,
					 MAX_PROBE_WAIT);
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
	"2 on errors, else 0. WireGuard handshakes only when it has traffic to send,\n"
	"so an idle tunnel has none: --probe starts one.\n"
	"\n"
	"  --hostname NAME        this node's Node name (default: $NODE_NAME, else the host name)\n"
	"  --handshake-timeout S  a handshake older than S seconds is missing (default 180)\n"
	"  --probe[=S]            first send one datagram through the tunnel to each expected\n"
	"                         peer without a fresh handshake, and wait up to S seconds\n"
	"                         (default 5, at most 300) for their handshakes\n";

/* What --probe can do for expected peer pp, device peer p (NULL: missing,
 * which the status names). */
enum probe_case { PROBE_NOT_NEEDED, PROBE_CANNOT, PROBE_SEND };

static enum probe_case probe_case(const struct plan_peer *pp, const struct wg_peer *p,
				  const struct cidr *subnet, time_t now, long max_age,
				  struct ip_addr *dst, const char **why)
{
	if (!p || handshake_fresh(p, now, max_age))
		return PROBE_NOT_NEEDED;
	if (!p->endpoint_ip.family) {
		*why = "no endpoint to dial (it dials in)";
		return PROBE_CANNOT;
	}
	if (probe_address(pp, subnet, dst) < 0) {
		*why = "no host address (/32, /128) among its allowed IPs";
		return PROBE_CANNOT;
	}
	return PROBE_SEND;
}

/* The expected peers a probe can bring to a fresh handshake that have
 * none yet. With send, probes each and names on stderr the stale peers a
 * probe cannot help and the probes that failed. */
static size_t probeable_stale_peers(const struct ctl *ctl, const struct plan *plan,
				    const struct wg_device *dev, long max_age, bool send)
{
	time_t now = time(NULL);
	size_t n = 0;

	for (size_t i = 0; i < plan->n_peers; i++) {
		const struct plan_peer *pp = &plan->peers[i];
		const struct wg_peer *p = device_peer_by_key(dev, &pp->public_key);
		const char *why = NULL;
		struct ip_addr dst;
		struct error err;

		switch (probe_case(pp, p, &ctl->node.topo.subnet, now, max_age, &dst, &why)) {
		case PROBE_NOT_NEEDED:
			break;
		case PROBE_CANNOT:
			if (send)
				fprintf(stderr, "skeinctl status: %s: not probed: %s\n", pp->name, why);
			break;
		case PROBE_SEND:
			n++;
			if (send && probe_send(ctl->node.topo.wg_ifname, &dst, &err) < 0)
				fprintf(stderr, "skeinctl status: %s: %s\n", pp->name, err.msg);
			break;
		}
	}
	return n;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

struct probe_result {
	size_t probed, left; /* left: of those, still without a fresh handshake */
	double seconds;      /* waited */
};

/* --probe: probes, then reads the device again every PROBE_POLL_MS until
 * every probed peer has a fresh handshake or a->probe_wait seconds passed.
 * *dev is the last read. */
static int probe_and_wait(const struct ctl *ctl, const struct status_args *a,
			  struct wg_backend *b, const struct plan *plan, struct wg_device *dev,
			  struct probe_result *res, struct error *err)
{
	const struct timespec poll = { 0, PROBE_POLL_MS * 1000000L };
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	res->probed = res->left = probeable_stale_peers(ctl, plan, dev, a->max_age, true);
	while (res->left && seconds_since(&t0) < (double)a->probe_wait) {
		nanosleep(&poll, NULL);
		wg_device_free(dev);
		if (wg_device_get(b, ctl->node.topo.wg_ifname, dev, err) < 0)
			return -1;
		res->left = probeable_stale_peers(ctl, plan, dev, a->max_age, false);
	}
	res->seconds = seconds_since(&t0);
	return 0;
}

static void write_probe_result(FILE *f, const struct probe_result *r)
{
	if (!r->probed)
		fputs("--probe: no peer to probe\n", f);
	else if (!r->left)
		fprintf(f, "--probe: %zu peer%s probed, every one had a handshake within %.2f seconds\n",
			r->probed, r->probed == 1 ? "" : "s", r->seconds);
	else
		fprintf(f, "--probe: %zu peer%s probed, %zu still without a handshake after %.0f seconds\n",
			r->probed, r->probed == 1 ? "" : "s", r->left, r->seconds);
}

static int run_status(const struct ctl *ctl, const struct status_args *a, struct error *err)
{
	struct cluster cluster = { 0 };
	struct plan plan = { 0 };
	struct wg_device dev = { 0 };
	struct probe_result probe = { 0 };
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
	if (a->probe_wait && probe_and_wait(ctl, a, &b, &plan, &dev, &probe, err) < 0) {
		error_prefix(err, "device %s", ctl->node.topo.wg_ifname);
		goto out;
	}
	rc = status_write(stdout, &dev, &plan, time(NULL), a->max_age, !a->probe_wait) ? EXIT_STALE : 0;
	if (a->probe_wait)
		write_probe_result(stdout, &probe);
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
		{ "probe", optional_argument, NULL, OPT_PROBE },
	};
	struct status_args a = { .max_age = DEFAULT_MAX_AGE };
	struct ctl ctl;
	struct error err;
	int first, rc;

	rc = ctl_parse(&ctl, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), status_flag, &a,
		       status_usage, &first, &err);
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
