// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The backend dispatch and the pure diff between two device states.
 */
#include "wg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "wg_internal.h"

#define WG_DEFAULT_UAPI_DIR "/var/run/wireguard"

int wg_backend_auto(struct wg_backend *b, const char *uapi_dir, struct error *err)
{
	const char *dir = uapi_dir ? uapi_dir : WG_DEFAULT_UAPI_DIR;

	memset(b, 0, sizeof(*b));
	if (strlen(dir) >= sizeof(b->uapi_dir))
		return error_set(err, "UAPI socket directory %s: too long", dir);
	strcpy(b->uapi_dir, dir);
	b->kind = wg_kernel_available() ? WG_BACKEND_KERNEL : WG_BACKEND_USERSPACE;
	return 0;
}

static int check_ifname(const char *ifname, struct error *err)
{
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return error_set(err, "bad interface name \"%s\"", ifname ? ifname : "");
	return 0;
}

int wg_device_ensure(struct wg_backend *b, const char *ifname, int timeout_ms, struct error *err)
{
	if (check_ifname(ifname, err) < 0)
		return -1;
	if (b->kind == WG_BACKEND_KERNEL)
		return wg_kernel_create(ifname, err);
	return wg_uapi_wait(b->uapi_dir, ifname, timeout_ms, err);
}

int wg_device_remove(struct wg_backend *b, const char *ifname, struct error *err)
{
	(void)b; /* wireguard-go exits when its TUN link is deleted, too */
	if (check_ifname(ifname, err) < 0)
		return -1;
	return wg_link_delete(ifname, err);
}

int wg_device_get(struct wg_backend *b, const char *ifname, struct wg_device *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_ifname(ifname, err) < 0)
		return -1;
	strcpy(out->name, ifname);
	if (b->kind == WG_BACKEND_KERNEL)
		return wg_kernel_get(ifname, out, err);
	return wg_uapi_get(b->uapi_dir, ifname, out, err);
}

int wg_device_set(struct wg_backend *b, const struct wg_device *dev, struct error *err)
{
	if (check_ifname(dev->name, err) < 0)
		return -1;
	if (b->kind == WG_BACKEND_KERNEL)
		return wg_kernel_set(dev, &b->writes, err);
	if (wg_uapi_set(b->uapi_dir, dev, err) < 0)
		return -1;
	b->writes++;
	return 0;
}

void wg_device_free(struct wg_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		free(dev->peers[i].allowed_ips);
	free(dev->peers);
	dev->peers = NULL;
	dev->n_peers = 0;
}

static bool is_zero_or_power_of_two(size_t n)
{
	return (n & (n - 1)) == 0;
}

struct wg_peer *wg_device_add_peer(struct wg_device *dev)
{
	struct wg_peer *peers = dev->peers;

	if (is_zero_or_power_of_two(dev->n_peers)) {
		size_t cap = dev->n_peers ? dev->n_peers * 2 : 4;

		peers = realloc(dev->peers, cap * sizeof(*peers));
		if (!peers)
			return NULL;
		dev->peers = peers;
	}
	memset(&peers[dev->n_peers], 0, sizeof(*peers));
	return &peers[dev->n_peers++];
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct cidr *ip)
{
	struct cidr *ips = peer->allowed_ips;

	if (is_zero_or_power_of_two(peer->n_allowed_ips)) {
		size_t cap = peer->n_allowed_ips ? peer->n_allowed_ips * 2 : 4;

		ips = realloc(peer->allowed_ips, cap * sizeof(*ips));
		if (!ips)
			return -1;
		peer->allowed_ips = ips;
	}
	ips[peer->n_allowed_ips++] = *ip;
	return 0;
}

/* --- the diff --- */

static int cmp_peer_ptr(const void *a, const void *b)
{
	const struct wg_peer *const *pa = a, *const *pb = b;

	return memcmp((*pa)->public_key.bytes, (*pb)->public_key.bytes, WG_KEY_LEN);
}

static int cmp_cidr(const void *a, const void *b)
{
	return cidr_cmp(a, b);
}

const struct wg_peer **wg_peers_by_key(const struct wg_device *dev)
{
	const struct wg_peer **v = malloc((dev->n_peers ? dev->n_peers : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < dev->n_peers; i++)
		v[i] = &dev->peers[i];
	qsort(v, dev->n_peers, sizeof(*v), cmp_peer_ptr);
	return v;
}

const struct wg_peer *wg_peers_find(const struct wg_peer **sorted, size_t n, const struct wg_key *key)
{
	const struct wg_peer probe = { .public_key = *key }, *p = &probe;
	const struct wg_peer *const *hit = bsearch(&p, sorted, n, sizeof(*sorted), cmp_peer_ptr);

	return hit ? *hit : NULL;
}

/* The peer's allowed IPs as networks, sorted and without duplicates, as a
 * device stores them. */
static struct cidr *normalized_ips(const struct wg_peer *p, size_t *n)
{
	struct cidr *v = malloc((p->n_allowed_ips ? p->n_allowed_ips : 1) * sizeof(*v));
	size_t k = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		v[i] = cidr_network(&p->allowed_ips[i]);
	qsort(v, p->n_allowed_ips, sizeof(*v), cmp_cidr);
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (k == 0 || !cidr_equal(&v[k - 1], &v[i]))
			v[k++] = v[i];
	*n = k;
	return v;
}

static bool contains_ip(const struct cidr *sorted, size_t n, const struct cidr *c)
{
	return bsearch(c, sorted, n, sizeof(*sorted), cmp_cidr) != NULL;
}

/* Allowed IPs of the delta peer d: only the missing ones while the set
 * grows, or the whole new list with REPLACE when something must go. */
static int diff_allowed_ips(const struct wg_peer *have, const struct wg_peer *want,
			    struct wg_peer *d)
{
	size_t nh, nw, missing = 0, extra = 0;
	struct cidr *h = normalized_ips(have, &nh), *w = normalized_ips(want, &nw);
	int ret = -1;

	if (!h || !w)
		goto out;
	for (size_t i = 0; i < nh; i++)
		extra += !contains_ip(w, nw, &h[i]);
	for (size_t i = 0; i < nw; i++)
		missing += !contains_ip(h, nh, &w[i]);
	ret = 0;
	if (extra) {
		d->flags |= WG_PEER_REPLACE_ALLOWED_IPS;
		d->allowed_ips = w;
		d->n_allowed_ips = nw;
		w = NULL;
	} else if (missing) {
		for (size_t i = 0; i < nw && ret == 0; i++)
			if (!contains_ip(h, nh, &w[i]))
				ret = wg_peer_add_allowed_ip(d, &w[i]);
	}
out:
	free(h);
	free(w);
	return ret;
}

static const struct wg_key zero_key;

static const struct wg_key *preshared_key_of(const struct wg_peer *p)
{
	return (p->flags & WG_PEER_HAS_PRESHARED_KEY) ? &p->preshared_key : &zero_key;
}

static uint16_t keepalive_of(const struct wg_peer *p)
{
	return (p->flags & WG_PEER_HAS_KEEPALIVE) ? p->persistent_keepalive : 0;
}

static bool endpoint_differs(const struct wg_peer *have, const struct wg_peer *want)
{
	if (!(want->flags & WG_PEER_HAS_ENDPOINT))
		return false; /* keep what the device learned from a roaming peer */
	return !(have->flags & WG_PEER_HAS_ENDPOINT) ||
	       !ip_equal(&have->endpoint_ip, &want->endpoint_ip) ||
	       have->endpoint_port != want->endpoint_port;
}

/* Fills d with what differs between have and want; d->flags stays 0 and d
 * has no allowed IPs when the peer is already right. */
static int diff_peer(const struct wg_peer *have, const struct wg_peer *want, struct wg_peer *d)
{
	memset(d, 0, sizeof(*d));
	d->public_key = want->public_key;
	if (!key_equal(preshared_key_of(have), preshared_key_of(want))) {
		d->flags |= WG_PEER_HAS_PRESHARED_KEY;
		d->preshared_key = *preshared_key_of(want);
	}
	if (keepalive_of(have) != keepalive_of(want)) {
		d->flags |= WG_PEER_HAS_KEEPALIVE;
		d->persistent_keepalive = keepalive_of(want);
	}
	if (endpoint_differs(have, want)) {
		d->flags |= WG_PEER_HAS_ENDPOINT;
		d->endpoint_ip = want->endpoint_ip;
		d->endpoint_port = want->endpoint_port;
	}
	return diff_allowed_ips(have, want, d);
}

static bool peer_changes(const struct wg_peer *d)
{
	return d->flags || d->n_allowed_ips;
}

static int append_peer(struct wg_device *delta, const struct wg_peer *d)
{
	struct wg_peer *slot = wg_device_add_peer(delta);

	if (!slot)
		return -1;
	*slot = *d;
	return 0;
}

static int add_new_peer(struct wg_device *delta, const struct wg_peer *want)
{
	static const struct wg_peer none;
	struct wg_peer d;

	if (diff_peer(&none, want, &d) < 0)
		return -1;
	if (append_peer(delta, &d) < 0) {
		free(d.allowed_ips);
		return -1;
	}
	return 0;
}

static int add_changed_peer(struct wg_device *delta, const struct wg_peer *have,
			    const struct wg_peer *want)
{
	struct wg_peer d;

	if (diff_peer(have, want, &d) < 0)
		return -1;
	if (!peer_changes(&d))
		return 0;
	if (append_peer(delta, &d) < 0) {
		free(d.allowed_ips);
		return -1;
	}
	return 0;
}

static int add_removed_peer(struct wg_device *delta, const struct wg_peer *have)
{
	struct wg_peer d = { .flags = WG_PEER_REMOVE, .public_key = have->public_key };

	return append_peer(delta, &d);
}

static unsigned diff_device_fields(const struct wg_device *have, const struct wg_device *want,
				   struct wg_device *delta)
{
	unsigned f = want->flags;

	if ((f & WG_DEVICE_HAS_PRIVATE_KEY) && (!(have->flags & WG_DEVICE_HAS_PRIVATE_KEY) ||
						!key_equal(&have->private_key, &want->private_key))) {
		delta->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
		delta->private_key = want->private_key;
	}
	if ((f & WG_DEVICE_HAS_LISTEN_PORT) && have->listen_port != want->listen_port) {
		delta->flags |= WG_DEVICE_HAS_LISTEN_PORT;
		delta->listen_port = want->listen_port;
	}
	if ((f & WG_DEVICE_HAS_FWMARK) && have->fwmark != want->fwmark) {
		delta->flags |= WG_DEVICE_HAS_FWMARK;
		delta->fwmark = want->fwmark;
	}
	return delta->flags;
}

static int diff_peers(const struct wg_device *have, const struct wg_device *want,
		      struct wg_device *delta)
{
	const struct wg_peer **h = wg_peers_by_key(have), **w = wg_peers_by_key(want);
	int ret = -1;

	if (!h || !w)
		goto out;
	for (size_t i = 0; i < want->n_peers; i++) {
		const struct wg_peer *old = wg_peers_find(h, have->n_peers, &want->peers[i].public_key);

		if ((old ? add_changed_peer(delta, old, &want->peers[i])
			 : add_new_peer(delta, &want->peers[i])) < 0)
			goto out;
	}
	for (size_t i = 0; i < have->n_peers; i++)
		if (!wg_peers_find(w, want->n_peers, &have->peers[i].public_key) &&
		    add_removed_peer(delta, &have->peers[i]) < 0)
			goto out;
	ret = 0;
out:
	free(h);
	free(w);
	return ret;
}

int wg_device_diff(const struct wg_device *have, const struct wg_device *want,
		   struct wg_device *delta)
{
	memset(delta, 0, sizeof(*delta));
	memcpy(delta->name, want->name, sizeof(delta->name));
	if (diff_peers(have, want, delta) < 0) {
		wg_device_free(delta);
		return -1;
	}
	return (int)delta->n_peers + (diff_device_fields(have, want, delta) ? 1 : 0);
}
