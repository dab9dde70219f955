// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_device.h"
#include "key.h"
#include "keyfile.h"
#include "link.h"
#include "nl.h"
#include "route.h"
#include "skeinctl.h"

#define DEFAULT_RESYNC_MS 30000
#define DEVICE_WAIT_MS 10000

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

struct connect_args {
	const char *private_key;  /* NULL: <key-dir>/peer-NAME.key */
};

enum { OPT_PRIVATE_KEY = 1 };

static int connect_flag(void *ctx, int id, const char *arg, struct error *err)
{
	struct connect_args *a = ctx;

	if (id != OPT_PRIVATE_KEY)
		return error_set(err, "unknown flag (see skeinctl connect --help)");
	a->private_key = arg;
	return 0;
}

/* Everything the peer's host needs while connected. */
struct session {
	const struct ctl *ctl;
	const char *peer;
	struct wg_key private_key;
	struct wg_backend wg;
	struct nl nl;
	bool nl_open;
	unsigned long syncs;
};

static int load_key(struct session *s, const struct connect_args *a, struct error *err)
{
	char path[4096];
	bool created;

	if (a->private_key)
		snprintf(path, sizeof(path), "%s", a->private_key);
	else if (snprintf(path, sizeof(path), "%s/peer-%s.key", s->ctl->node.key_dir, s->peer) >=
		 (int)sizeof(path))
		return error_set(err, "--key-dir %s: too long", s->ctl->node.key_dir);
	if (keyfile_load_or_create(path, &s->private_key, &created, err) < 0)
		return -1;
	if (created)
		fprintf(stderr, "skeinctl connect: new private key in %s\n", path);
	return 0;
}

/* The Peer object must name our key, or no leader would accept us. */
static int check_key(const struct session *s, const struct peer *p, struct error *err)
{
	char want[WG_KEY_B64_LEN], have[WG_KEY_B64_LEN];
	struct wg_key pub;

	if (key_public(&s->private_key, &pub) < 0)
		return error_set(err, "cannot derive the public key");
	if (key_equal(&pub, &p->public_key))
		return 0;
	return error_set(err, "peer %s: spec.publicKey is %s, but this host's key is %s: "
			 "set the Peer's publicKey to %s", p->name, key_to_base64(&p->public_key, have),
			 key_to_base64(&pub, want), want);
}

/* A route into the tunnel must not swallow a tunnel endpoint, or
 * WireGuard's own packets would loop into it. */
static bool holds_endpoint(const struct cidr *dst, const struct ip_addr *ips, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ips[i].family && cidr_contains(dst, &ips[i]))
			return true;
	return false;
}

static int sync_routes(struct session *s, const struct plan *plan, const struct ip_addr *endpoints,
		       struct error *err)
{
	struct route *want;
	size_t n = 0, cap = 1;
	int rc;

	for (size_t i = 0; i < plan->n_peers; i++)
		cap += plan->peers[i].n_allowed_ips;
	if (!(want = calloc(cap, sizeof(*want))))
		return error_set(err, "routes: out of memory");
	for (size_t i = 0; i < plan->n_peers; i++) {
		for (size_t k = 0; k < plan->peers[i].n_allowed_ips; k++) {
			const struct cidr *dst = &plan->peers[i].allowed_ips[k];

			if (holds_endpoint(dst, endpoints, plan->n_peers))
				continue;
			want[n].dst = cidr_network(dst);
			snprintf(want[n].dev, sizeof(want[n].dev), "%s", s->ctl->node.topo.wg_ifname);
			n++;
		}
	}
	rc = route_sync(&s->nl, want, n, err);
	free(want);
	return rc;
}

static int sync_link(struct session *s, const struct conf *conf, struct error *err)
{
	struct link_info link;
	int rc;

	if ((rc = link_get(&s->nl, s->ctl->node.topo.wg_ifname, &link, err)) < 0)
		return -1;
	for (size_t i = 0; i < conf->n_addresses; i++) {
		rc = link_addr_add(&s->nl, link.index, &conf->addresses[i], 0, err);
		if (rc < 0 && rc != -EEXIST)
			return -1;
	}
	return link.up ? 0 : link_set_up(&s->nl, link.index, err);
}

static int sync_device(struct session *s, const struct plan *plan, const struct conf *conf,
		       const struct ip_addr *endpoints, struct error *err)
{
	struct wg_device want, have, delta = { 0 };
	int rc;

	if (plan_device(plan, s->ctl->node.topo.wg_ifname, &s->private_key, conf->listen_port, endpoints,
			&want, err) < 0)
		return -1;
	if (!conf->listen_port)
		want.flags &= ~(unsigned)WG_DEVICE_HAS_LISTEN_PORT;
	rc = wg_device_get(&s->wg, want.name, &have, err);
	if (rc == 0 && (rc = wg_device_diff(&have, &want, &delta)) < 0)
		error_set(err, "WireGuard diff: out of memory");
	else if (rc > 0)
		rc = wg_device_set(&s->wg, &delta, err);
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
	return rc < 0 ? -1 : 0;
}

/* One pass: the model now, the peer's view of it, the host made to match. */
static int sync_once(struct session *s, struct error *err)
{
	struct cluster cluster = { 0 };
	struct plan plan = { 0 };
	struct ip_addr *endpoints = NULL;
	struct conf conf;
	long i;
	int rc = -1;

	if (ctl_load_cluster(s->ctl, &cluster, err) < 0)
		goto out;
	if ((i = ctl_find_peer(&cluster, s->peer)) < 0) {
		error_set(err, "peer %s: not found (create the Peer object first)", s->peer);
		goto out;
	}
	if (check_key(s, &cluster.peers[i], err) < 0 ||
	    showconf_peer_conf(&cluster, &cluster.peers[i], &s->ctl->node.topo, &plan, &conf, err) < 0 ||
	    plan_resolve_endpoints(&plan, &endpoints, err) < 0)
		goto out;
	if (sync_device(s, &plan, &conf, endpoints, err) == 0 && sync_link(s, &conf, err) == 0 &&
	    sync_routes(s, &plan, endpoints, err) == 0) {
		rc = 0;
		if (!s->syncs++)
			fprintf(stderr, "skeinctl connect: %s is up as peer %s with %zu cluster peers\n",
				s->ctl->node.topo.wg_ifname, s->peer, plan.n_peers);
	}
out:
	free(endpoints);
	plan_free(&plan);
	cluster_free(&cluster);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	if (!stopping)
		nanosleep(&ts, NULL); /* a signal cuts it short */
}

static void clean_up(struct session *s)
{
	struct error err;

	if (s->nl_open && route_remove_all(&s->nl, &err) < 0)
		fprintf(stderr, "skeinctl connect: clean-up: %s\n", err.msg);
	if (wg_device_remove(&s->wg, s->ctl->node.topo.wg_ifname, &err) < 0)
		fprintf(stderr, "skeinctl connect: clean-up: %s\n", err.msg);
}

static int run(struct session *s, const struct connect_args *a, struct error *err)
{
	long period = s->ctl->node.resync_ms ? s->ctl->node.resync_ms : DEFAULT_RESYNC_MS;
	struct sigaction sa = { .sa_handler = on_signal };

	if (load_key(s, a, err) < 0 || ctl_backend(s->ctl, &s->wg, err) < 0)
		return -1;
	if (nl_open(&s->nl, NETLINK_ROUTE) < 0)
		return error_set(err, "rtnetlink: %s", strerror(errno));
	s->nl_open = true;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (wg_device_ensure(&s->wg, s->ctl->node.topo.wg_ifname, DEVICE_WAIT_MS, err) < 0)
		return -1;
	while (!stopping) {
		if (sync_once(s, err) < 0)
			fprintf(stderr, "skeinctl connect: %s (retrying)\n", err->msg);
		sleep_ms(period);
	}
	clean_up(s);
	return 0;
}

static const char connect_usage[] =
	"Usage: skeinctl connect PEER [options]\n"
	"Makes this host external peer PEER (a skein.dev Peer object): creates the\n"
	"WireGuard device (--interface, kernel or userspace as --wireguard says), gives\n"
	"it the Peer's host addresses, routes the cluster's networks into it and keeps\n"
	"it in line with the cluster every --resync-period (default 30s) until SIGTERM or\n"
	"SIGINT, then removes the device and its routes. The Peer's publicKey must be\n"
	"this host's key; a new key is made on first use and the error says what to set.\n"
	"\n"
	"  --private-key FILE     the peer's key (default: <key-dir>/peer-PEER.key,\n"
	"                         created when missing)\n";

int cmd_connect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "private-key", required_argument, NULL, OPT_PRIVATE_KEY },
	};
	struct connect_args a = { 0 };
	struct session s = { 0 };
	struct ctl ctl;
	struct error err;
	int first, rc;

	rc = ctl_parse(&ctl, argc, argv, opts, 1, connect_flag, &a, connect_usage, &first, &err);
	if (rc > 0)
		return 0;
	if (rc == 0 && argc - first != 1)
		rc = error_set(&err, "expected one PEER name (see skeinctl connect --help)");
	if (rc == 0) {
		s.ctl = &ctl;
		s.peer = argv[first];
		rc = run(&s, &a, &err);
	}
	if (s.nl_open)
		nl_close(&s.nl);
	if (rc < 0) {
		fprintf(stderr, "skeinctl connect: %s\n", err.msg);
		return 1;
	}
	return 0;
}
