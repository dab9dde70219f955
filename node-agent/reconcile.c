// SPDX-License-Identifier: GPL-2.0-or-later
#include "reconcile.h"

#include <errno.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cniconf.h"
#include "encap.h"
#include "key.h"
#include "keyfile.h"
#include "link.h"
#include "log.h"
#include "mtu.h"
#include "nft.h"
#include "plan_device.h"
#include "probe.h"
#include "publish.h"
#include "route.h"
#include "sysctl.h"

/* Without a detected underlay, assume Ethernet's. */
#define FALLBACK_UNDERLAY_MTU 1500

/* ---- start ---- */

static int load_key(struct node_state *s, struct error *err)
{
	char path[PATH_MAX], pub[WG_KEY_B64_LEN];
	bool created;

	if (snprintf(path, sizeof(path), "%s/private.key", s->opts->key_dir) >= (int)sizeof(path))
		return error_set(err, "--key-dir %s: too long", s->opts->key_dir);
	if (keyfile_load_or_create(path, &s->private_key, &created, err) < 0 ||
	    key_public(&s->private_key, &s->public_key) < 0)
		return error_prefix(err, "private key");
	log_info("%s private key %s; public key %s", created ? "created" : "loaded", path,
		 key_to_base64(&s->public_key, pub));
	return 0;
}

static int pick_backend(struct node_state *s, struct error *err)
{
	if (wg_backend_auto(&s->wg, s->opts->uapi_dir, err) < 0)
		return -1;
	if (s->opts->wireguard == WG_MODE_KERNEL)
		s->wg.kind = WG_BACKEND_KERNEL;
	else if (s->opts->wireguard == WG_MODE_USERSPACE)
		s->wg.kind = WG_BACKEND_USERSPACE;
	log_info("WireGuard: %s backend%s%s", s->wg.kind == WG_BACKEND_KERNEL ? "kernel" : "userspace",
		 s->wg.kind == WG_BACKEND_USERSPACE ? ", sockets in " : "",
		 s->wg.kind == WG_BACKEND_USERSPACE ? s->wg.uapi_dir : "");
	return 0;
}

int node_start(struct node_state *s, const struct node_options *o, struct error *err)
{
	memset(s, 0, sizeof(*s));
	s->opts = o;
	pthread_mutex_init(&s->metrics.lock, NULL);
	if (load_key(s, err) < 0 || pick_backend(s, err) < 0)
		return -1;
	if (nl_open(&s->rt, NETLINK_ROUTE) < 0 || nl_open(&s->nf, NETLINK_NETFILTER) < 0)
		return error_set(err, "cannot open netlink sockets: %s", strerror(errno));
	if (wg_device_ensure(&s->wg, o->topo.wg_ifname, NODE_DEVICE_WAIT_MS, err) < 0)
		return -1;
	if (!(s->topo = topology_cache_new()))
		return error_set(err, "topology cache: out of memory");
	if (o->listen.enabled && !(s->http = http_start(&o->listen, &s->metrics, err)))
		return -1;
	return 0;
}

void node_state_free(struct node_state *s)
{
	http_stop(s->http);
	s->http = NULL;
	topology_cache_free(s->topo);
	s->topo = NULL;
	free(s->probes);
	s->probes = NULL;
	s->n_probes = 0;
	free(s->rejections);
	s->rejections = NULL;
	nl_close(&s->rt);
	nl_close(&s->nf);
	pthread_mutex_destroy(&s->metrics.lock);
}

/* ---- one step each ---- */

/* --mtu, else the underlay's MTU minus WireGuard's overhead (lib/mtu.h). */
static int set_mtu(struct node_state *s, struct error *err)
{
	if (s->opts->mtu) {
		s->mtu = s->opts->mtu;
		return 0;
	}
	return mtu_for_underlay(s->underlay.mtu ? s->underlay.mtu : FALLBACK_UNDERLAY_MTU, &s->mtu, err);
}

int node_sync_device_address(struct node_state *s, int index, const struct cidr *keep,
			     struct error *err)
{
	struct cidr *addrs = NULL;
	bool found = false;
	size_t n = 0;
	int rc = link_addr_list(&s->rt, index, 0, &addrs, &n, err);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (ip_is_link_local(&addrs[i].ip))
			continue;
		if (keep && cidr_equal(&addrs[i], keep))
			found = true;
		else
			rc = link_addr_del(&s->rt, index, &addrs[i], err);
	}
	free(addrs);
	if (rc == 0 && keep && keep->ip.family && !found)
		rc = link_addr_add(&s->rt, index, keep, keep->ip.family == AF_INET6 ? IFA_F_NODAD : 0, err);
	return rc < 0 ? error_prefix(err, "%s address", s->opts->topo.wg_ifname) : 0;
}

/* The device exists (a kernel one is made again if someone deleted it),
 * carries the plan's address and the MTU, and is up. */
static int sync_device_link(struct node_state *s, const struct plan *plan, struct error *err)
{
	const char *ifname = s->opts->topo.wg_ifname;
	struct link_info link;
	int rc = link_get(&s->rt, ifname, &link, err);

	if (rc == -ENODEV && s->wg.kind == WG_BACKEND_KERNEL) {
		if (wg_device_ensure(&s->wg, ifname, 0, err) < 0)
			return -1;
		s->link_writes++;
		rc = link_get(&s->rt, ifname, &link, err);
	}
	if (rc < 0)
		return -1;
	if (node_sync_device_address(s, link.index, &plan->wireguard_ip, err) < 0)
		return -1;
	if (link.mtu != s->mtu && link_set_mtu(&s->rt, link.index, s->mtu, err) < 0)
		return -1;
	if (!link.up && link_set_up(&s->rt, link.index, err) < 0)
		return -1;
	return 0;
}

/* Peers changed in place: the delta from what the device has. *have is
 * what the device had before (for the discovered endpoints), *delta what
 * was applied (empty when nothing was). */
static int sync_wireguard(struct node_state *s, const struct plan *plan, struct wg_device *have,
			  struct wg_device *delta, struct error *err)
{
	struct wg_device want;
	struct ip_addr *endpoints;
	int changes, rc = -1;

	if (wg_device_get(&s->wg, s->opts->topo.wg_ifname, have, err) < 0)
		return -1;
	if (plan_resolve_endpoints(plan, &endpoints, err) < 0)
		return -1;
	rc = plan_device(plan, s->opts->topo.wg_ifname, &s->private_key, s->opts->topo.listen_port,
			 endpoints, &want, err);
	free(endpoints);
	if (rc < 0)
		return -1;
	changes = wg_device_diff(have, &want, delta);
	wg_device_free(&want);
	if (changes < 0)
		return error_set(err, "%s: diff: out of memory", s->opts->topo.wg_ifname);
	rc = changes ? wg_device_set(&s->wg, delta, err) : 0;
	if (changes)
		log_info("%s: %d change%s to the device", s->opts->topo.wg_ifname, changes,
			 changes == 1 ? "" : "s");
	if (rc < 0)
		wg_device_free(delta);
	return rc;
}

/* ---- probes ----
 *
 * A peer an apply added or moved gets a probe (lib/probe.h) to start the
 * handshake, so that the side configured second starts it: the first
 * side's initiation may have arrived before this side knew its key, and
 * WireGuard would retry only after REKEY_TIMEOUT (5 s). Not at once: if
 * both sides initiate at the same moment (the other one has traffic, or
 * probes too), each takes the other's initiation, rejects the other's
 * response, and both wait those 5 s. So a probe waits PROBE_DELAY_MS, twice
 * that on the side with the higher public key (two idle sides configured
 * together do not both initiate), and goes only if the peer still had no
 * handshake since the apply. A side that answered the peer's initiation
 * meanwhile cannot collide: WireGuard sends one handshake message per peer
 * in 5 s at most. */
#define PROBE_DELAY_MS 250

struct pending_probe {
	struct wg_key key;
	struct ip_addr dst;
	struct timespec scheduled; /* CLOCK_MONOTONIC */
	long delay_ms;
	time_t applied;            /* wall clock, as handshake times */
};

static double seconds_between(const struct timespec *from, const struct timespec *to)
{
	return (double)(to->tv_sec - from->tv_sec) + (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

/* Milliseconds until q is due; 0 or less: due. */
static long ms_until_due(const struct pending_probe *q, const struct timespec *now)
{
	return q->delay_ms - (long)(seconds_between(&q->scheduled, now) * 1000);
}

/* Whether the delta adds peer d (a new key is a new peer) or moves its
 * endpoint, with an endpoint to dial. */
static bool redialled(const struct wg_peer *d)
{
	return (d->flags & (WG_PEER_REMOVE | WG_PEER_HAS_ENDPOINT)) == WG_PEER_HAS_ENDPOINT;
}

static void schedule_probe(struct node_state *s, const struct plan_peer *p, const struct timespec *now)
{
	long delay = PROBE_DELAY_MS;
	struct pending_probe *v, *q;
	struct ip_addr dst;

	if (probe_address(p, &s->opts->topo.subnet, &dst) < 0) {
		log_debug("%s: not probed: no host address among its allowed IPs", p->name);
		return;
	}
	if (!(v = realloc(s->probes, (s->n_probes + 1) * sizeof(*v)))) {
		log_warn("%s: not probed: out of memory", p->name);
		return;
	}
	s->probes = v;
	if (memcmp(s->public_key.bytes, p->public_key.bytes, WG_KEY_LEN) > 0)
		delay *= 2;
	q = &s->probes[s->n_probes++];
	*q = (struct pending_probe){ .key = p->public_key, .dst = dst, .scheduled = *now,
				     .delay_ms = delay, .applied = time(NULL) };
}

/* The peers the applied delta added or moved. The delta lists peers in
 * plan order (plan_device, wg_device_diff), so one walk pairs them. */
static void schedule_probes(struct node_state *s, const struct plan *plan, const struct wg_device *delta)
{
	struct timespec now;
	size_t i = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t d = 0; d < delta->n_peers; d++) {
		if (!redialled(&delta->peers[d]))
			continue;
		while (i < plan->n_peers && !key_equal(&plan->peers[i].public_key, &delta->peers[d].public_key))
			i++;
		if (i < plan->n_peers)
			schedule_probe(s, &plan->peers[i], &now);
	}
}

/* Sends probe q unless its peer is gone or had a handshake since the apply
 * (then there is nothing to start); returns whether it sent. */
static bool probe_if_silent(struct node_state *s, const struct pending_probe *q,
			    const struct wg_peer **sorted, size_t n)
{
	const struct wg_peer *p = wg_peers_find(sorted, n, &q->key);
	struct error err;

	if (!p || p->last_handshake_sec >= q->applied)
		return false;
	if (probe_send(s->opts->topo.wg_ifname, &q->dst, &err) < 0) {
		log_warn("%s", err.msg);
		return false;
	}
	return true;
}

/* Sends the probes that are due (one read of the device for all) and
 * keeps the others. */
static size_t send_due_probes(struct node_state *s, const struct timespec *now,
			      const struct wg_device *dev, const struct wg_peer **sorted)
{
	size_t kept = 0, probed = 0;

	for (size_t i = 0; i < s->n_probes; i++) {
		if (ms_until_due(&s->probes[i], now) > 0)
			s->probes[kept++] = s->probes[i];
		else
			probed += probe_if_silent(s, &s->probes[i], sorted, dev->n_peers);
	}
	s->n_probes = kept;
	return probed;
}

static bool probe_due(const struct node_state *s, const struct timespec *now)
{
	for (size_t i = 0; i < s->n_probes; i++)
		if (ms_until_due(&s->probes[i], now) <= 0)
			return true;
	return false;
}

static void run_due_probes(struct node_state *s, const struct timespec *now)
{
	const char *ifname = s->opts->topo.wg_ifname;
	const struct wg_peer **sorted = NULL;
	struct wg_device dev = { 0 };
	struct error err;
	size_t probed;

	if (!probe_due(s, now))
		return;
	if (wg_device_get(&s->wg, ifname, &dev, &err) < 0 ||
	    (!(sorted = wg_peers_by_key(&dev)) && error_set(&err, "out of memory"))) {
		log_warn("%s: probes dropped: %s", ifname, err.msg);
		s->n_probes = 0;
	} else if ((probed = send_due_probes(s, now, &dev, sorted))) {
		log_info("%s: probed %zu new or moved peer%s that had no handshake yet", ifname, probed,
			 probed == 1 ? "" : "s");
	}
	free(sorted);
	wg_device_free(&dev);
}

/* Milliseconds until the next pending probe; 0 when none. */
static long next_probe_ms(const struct node_state *s, const struct timespec *now)
{
	long next = 0;

	for (size_t i = 0; i < s->n_probes; i++) {
		long ms = ms_until_due(&s->probes[i], now);

		ms = ms < 1 ? 1 : ms;
		if (!next || ms < next)
			next = ms;
	}
	return next;
}

static bool link_exists(struct node_state *s, const char *name, struct error *err, int *rc)
{
	struct link_info link;

	*rc = link_get(&s->rt, name, &link, err);
	if (*rc == -ENODEV)
		*rc = 0;
	return *rc == 0 && link.index > 0;
}

/* The VXLAN device when some route needs it; gone otherwise. */
static int sync_encap(struct node_state *s, const struct plan *plan, struct error *err)
{
	const char *ifname = s->opts->topo.encap_ifname;
	struct encap_config c = { .remotes = plan->encap_remotes, .n_remotes = plan->n_encap_remotes };
	int rc;

	if (!plan->n_encap_remotes && !plan->encap_ip6.family) {
		if (link_exists(s, ifname, err, &rc))
			rc = encap_remove(&s->rt, ifname, err);
		return rc;
	}
	snprintf(c.ifname, sizeof(c.ifname), "%s", ifname);
	snprintf(c.underlay, sizeof(c.underlay), "%s", s->underlay.ifname);
	c.local = s->underlay.address.ip;
	if (plan->encap_ip6.family)
		c.address = (struct cidr){ .ip = plan->encap_ip6, .prefix = 64 };
	return encap_sync(&s->rt, &c, err);
}

static int sync_nft(struct node_state *s, const struct plan *plan, struct error *err)
{
	struct nft_config c = {
		.local_pod_cidrs = plan->local_pod_cidrs,
		.n_local_pod_cidrs = plan->n_local_pod_cidrs,
		.cluster_cidrs = plan->cluster_cidrs,
		.n_cluster_cidrs = plan->n_cluster_cidrs,
		.wireguard_ip = plan->wireguard_ip.ip,
	};

	snprintf(c.wg_ifname, sizeof(c.wg_ifname), "%s", s->opts->topo.wg_ifname);
	return nft_sync(&s->nf, &c, err);
}

/* A node that routes for others forwards; sysctl_ensure writes only when
 * the value differs. */
static int sync_forwarding(const struct plan *plan, struct error *err)
{
	bool v4 = false, v6 = false;

	for (size_t i = 0; i < plan->n_routes; i++) {
		v4 |= plan->routes[i].dst.ip.family == AF_INET;
		v6 |= plan->routes[i].dst.ip.family == AF_INET6;
	}
	if (v4 && sysctl_ensure("net/ipv4/ip_forward", "1", err) < 0)
		return -1;
	if (v6 && sysctl_ensure("net/ipv6/conf/all/forwarding", "1", err) < 0)
		return -1;
	return 0;
}

static const struct node *find_node(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			return &c->nodes[i];
	return NULL;
}

/* Written once the node's pod CIDRs are known; until then the plugin's
 * STATUS says the network is not ready. */
static int sync_cni(struct node_state *s, const struct node *self, struct error *err)
{
	struct cniconf c = { .mtu = s->mtu, .cni_version = s->opts->cni_version };
	bool written = false;

	if (!self || !self->n_pod_cidrs)
		return 0;
	c.pod_cidrs = self->pod_cidrs;
	c.n_pod_cidrs = self->n_pod_cidrs;
	if (cniconf_write(s->opts->cni_conf, &c, &written, err) < 0)
		return -1;
	if (written) {
		s->cni_writes++;
		log_info("wrote %s", s->opts->cni_conf);
	}
	return 0;
}

/* ---- publishing ---- */

/* The own Node as the informer last saw it (digest), or NULL. */
static json_t *own_node(struct agent *a)
{
	json_t *node;

	pthread_mutex_lock(&a->hub.lock);
	node = informer_get(&a->nodes, a->opts.hostname);
	pthread_mutex_unlock(&a->hub.lock);
	return node;
}

/* Logs the values that differ from what the Node carries (self). */
static void log_changes(const json_t *self, const struct annotations *an)
{
	const json_t *now = json_object_get(json_object_get(self, "metadata"), "annotations");

	for (size_t i = 0; i < an->n; i++) {
		const char *cur = json_string_value(json_object_get(now, an->keys[i]));

		if (an->values[i] ? !cur || strcmp(cur, an->values[i]) : cur != NULL)
			log_info("annotation %s: %s", an->keys[i], an->values[i] ? an->values[i] : "(removed)");
	}
}

static int publish(struct agent *a, const json_t *self, struct annotations *an, struct error *err)
{
	int rc = agent_publish_annotations(a, an->keys, an->values, an->n, err);

	if (rc > 0)
		log_changes(self, an);
	annotations_free(an);
	return rc < 0 ? error_prefix(err, "publishing annotations") : 0;
}

static int publish_identity(struct node_state *s, struct agent *a, const json_t *self,
			    struct error *err)
{
	struct annotations an;

	annotations_init(&an);
	if (annotations_identity(&an, self, &s->public_key, s->opts->topo.listen_port,
				 &s->underlay.address, err) < 0)
		return error_prefix(err, "node %s", a->opts.hostname);
	return publish(a, self, &an, err);
}

static int publish_plan(struct agent *a, const json_t *self, const struct cluster *model,
			const struct plan *plan, const struct wg_device *have, struct error *err)
{
	struct annotations an;

	annotations_init(&an);
	annotations_wireguard_ip(&an, &plan->wireguard_ip);
	if (have && annotations_discovered(&an, model, have, time(NULL), err) < 0) {
		annotations_free(&an);
		return -1;
	}
	return publish(a, self, &an, err);
}

/* ---- the reconcile ---- */

struct run {
	struct node_state *s;
	int failures;
	struct error first;
};

/* Counts a failed step; the first message is the reconcile's error, the
 * others are logged here. */
static void step(struct run *r, enum error_kind kind, int rc, const struct error *err)
{
	if (rc >= 0)
		return;
	pthread_mutex_lock(&r->s->metrics.lock);
	r->s->metrics.v.errors[kind]++;
	pthread_mutex_unlock(&r->s->metrics.lock);
	if (r->failures++)
		log_error("%s", err->msg);
	else
		r->first = *err;
}

static void detect(struct run *r, const json_t *self)
{
	const struct node_options *o = r->s->opts;
	struct cidr wanted = o->internal_ip;
	struct ip_addr prefer = { 0 };
	struct error err;

	if (self) {
		node_forced_internal_ip(self, &wanted); /* the per-node annotation wins */
		node_status_address(self, "InternalIP", &prefer);
	}
	step(r, ERR_DETECT, underlay_detect(&r->s->rt, &wanted, &prefer, &r->s->underlay, &err), &err);
	step(r, ERR_DETECT, set_mtu(r->s, &err), &err);
}

static void apply(struct run *r, struct agent *a, const json_t *self, const struct cluster *model,
		  const struct plan *plan)
{
	struct node_state *s = r->s;
	struct wg_device have = { 0 }, delta = { 0 };
	struct error err;
	int rc;

	step(r, ERR_LINK, sync_device_link(s, plan, &err), &err);
	rc = sync_wireguard(s, plan, &have, &delta, &err);
	step(r, ERR_WIREGUARD, rc, &err);
	step(r, ERR_ENCAP, sync_encap(s, plan, &err), &err);
	step(r, ERR_ROUTE, route_sync(&s->rt, plan->routes, plan->n_routes, &err), &err);
	step(r, ERR_RULE, rule_sync(&s->rt, plan->rules, plan->n_rules, &err), &err);
	if (rc == 0)
		schedule_probes(s, plan, &delta);
	wg_device_free(&delta);
	step(r, ERR_NFT, sync_nft(s, plan, &err), &err);
	step(r, ERR_SYSCTL, sync_forwarding(plan, &err), &err);
	step(r, ERR_CNI, sync_cni(s, find_node(model, a->opts.hostname), &err), &err);
	step(r, ERR_PUBLISH, publish_plan(a, self, model, plan, rc < 0 ? NULL : &have, &err), &err);
	wg_device_free(&have);
}

struct writes {
	unsigned long netlink, wg, nft, cni;
};

static struct writes writes_now(const struct node_state *s)
{
	return (struct writes){ s->rt.writes + s->link_writes, s->wg.writes, s->nf.writes, s->cni_writes };
}

static void record(struct node_state *s, const struct cluster *model, const struct plan *plan,
		   bool applied, double seconds)
{
	struct writes w = writes_now(s);
	struct metric_values *v = &s->metrics.v;

	pthread_mutex_lock(&s->metrics.lock);
	v->nodes = model->n_nodes;
	v->peers = plan ? plan->n_peers : 0;
	v->is_leader = plan && plan->is_leader;
	v->reconciles++;
	v->applies += applied;
	v->duration_sum += seconds;
	v->netlink_writes = w.netlink;
	v->wg_writes = w.wg;
	v->nft_writes = w.nft;
	v->cni_writes = w.cni;
	pthread_mutex_unlock(&s->metrics.lock);
}

/* Logs each rejection once, when it appears. */
static void log_new_rejections(struct node_state *s, const struct plan *next)
{
	struct plan seen = { .rejections = s->rejections, .n_rejections = s->n_rejections };
	struct plan_rejection *copy = malloc((next->n_rejections ? next->n_rejections : 1) *
					     sizeof(*copy));

	plan_log_rejections(&seen, next);
	if (!copy)
		return; /* logged again next time: no harm */
	if (next->n_rejections) /* rejections is NULL when there are none */
		memcpy(copy, next->rejections, next->n_rejections * sizeof(*copy));
	free(s->rejections);
	s->rejections = copy;
	s->n_rejections = next->n_rejections;
}

/* A failure that repeats the previous one is logged at debug level only,
 * so a node without pod CIDR does not fill the log every resync. */
static int finish(struct node_state *s, struct run *r, struct error *err)
{
	if (!r->failures) {
		s->last_error[0] = '\0';
		return 0;
	}
	if (!strcmp(s->last_error, r->first.msg)) {
		log_debug("reconcile: still failing: %s", r->first.msg);
		return 0;
	}
	strcpy(s->last_error, r->first.msg);
	*err = r->first;
	return -1;
}

/* Updates the plan and applies it when it changed or a resync is due;
 * returns whether it applied. A resync also recomputes the plan from
 * scratch, which bounds any wrong incremental patch to one period. */
static bool plan_and_apply(struct run *r, struct agent *a, const json_t *self,
			   const struct cluster *model, bool due)
{
	struct node_state *s = r->s;
	struct topology_options topo = s->opts->topo;
	const struct plan *plan;
	bool changed;
	struct error e;

	snprintf(topo.underlay_ifname, sizeof(topo.underlay_ifname), "%s", s->underlay.ifname);
	if (due)
		topology_cache_invalidate(s->topo);
	if (topology_cache_update(s->topo, model, a->opts.hostname, &topo, &changed, &e) < 0) {
		step(r, ERR_TOPOLOGY, -1, &e);
		return false;
	}
	plan = topology_cache_plan(s->topo);
	log_new_rejections(s, plan);
	if (!due && !changed)
		return false;
	apply(r, a, self, model, plan);
	s->applied_once = true;
	s->dirty = r->failures > 0;
	return true;
}

int node_reconcile(struct agent *a, const struct cluster *model, void *ctx, struct error *err)
{
	struct node_state *s = ctx;
	struct run r = { .s = s };
	struct writes before = writes_now(s), after;
	struct timespec t0, t1;
	json_t *self = own_node(a);
	bool due, applied;
	struct error e;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	due = !s->applied_once || s->dirty ||
	      seconds_between(&s->last_apply, &t0) * 1000 >= (double)a->opts.resync_ms;
	if (due || !s->underlay.mtu)
		detect(&r, self);
	if (self)
		step(&r, ERR_PUBLISH, publish_identity(s, a, self, &e), &e);
	applied = plan_and_apply(&r, a, self, model, due);
	if (applied)
		s->last_apply = t0;
	json_decref(self);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	run_due_probes(s, &t1);
	a->wake_ms = next_probe_ms(s, &t1);
	record(s, model, topology_cache_plan(s->topo), applied, seconds_between(&t0, &t1));
	after = writes_now(s);
	log_debug("reconcile: %s; writes: netlink %lu, wireguard %lu, nft %lu, cni %lu (%.1f ms)",
		  applied ? "applied" : "plan unchanged, nothing to do", after.netlink - before.netlink,
		  after.wg - before.wg, after.nft - before.nft, after.cni - before.cni,
		  seconds_between(&t0, &t1) * 1000);
	return finish(s, &r, err);
}
