/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A WireGuard device, read and changed through one of two backends behind
 * the same interface: the kernel's generic netlink family (wg_kernel.c) or
 * the cross-platform UAPI socket of userspace implementations such as
 * wireguard-go (wg_uapi.c). Changes are deltas: a peer that is not named in
 * a set is left alone, so one peer is added, changed or removed without
 * disturbing the traffic of the others.
 */
#ifndef SKEIN_WG_H
#define SKEIN_WG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "model.h"

enum wg_peer_flags {
	WG_PEER_REMOVE = 1 << 0,
	WG_PEER_REPLACE_ALLOWED_IPS = 1 << 1,
	WG_PEER_HAS_PRESHARED_KEY = 1 << 2,
	WG_PEER_HAS_ENDPOINT = 1 << 3,
	WG_PEER_HAS_KEEPALIVE = 1 << 4,
};

struct wg_peer {
	unsigned flags;
	struct wg_key public_key;
	struct wg_key preshared_key;
	struct ip_addr endpoint_ip;
	uint16_t endpoint_port;
	uint16_t persistent_keepalive;
	struct cidr *allowed_ips;
	size_t n_allowed_ips;
	/* Read back only. */
	int64_t last_handshake_sec;
	uint64_t rx_bytes, tx_bytes;
};

enum wg_device_flags {
	WG_DEVICE_HAS_PRIVATE_KEY = 1 << 0,
	WG_DEVICE_HAS_LISTEN_PORT = 1 << 1,
	WG_DEVICE_HAS_FWMARK = 1 << 2,
};

struct wg_device {
	char name[IF_NAMESIZE];
	unsigned flags;
	struct wg_key private_key;
	struct wg_key public_key;
	uint16_t listen_port;
	uint32_t fwmark;
	struct wg_peer *peers;
	size_t n_peers;
};

enum wg_backend_kind { WG_BACKEND_KERNEL, WG_BACKEND_USERSPACE };

struct wg_backend {
	enum wg_backend_kind kind;
	char uapi_dir[108];         /* userspace: where <ifname>.sock lives */
	unsigned long writes;       /* set operations sent, for no-op proofs */
};

/* Picks the kernel backend if the "wireguard" link type exists, else the
 * userspace one with socket directory uapi_dir (default /var/run/wireguard). */
int wg_backend_auto(struct wg_backend *b, const char *uapi_dir, struct error *err);
/* Kernel: creates the link. Userspace: waits up to timeout_ms for the
 * device's socket, which a separate wireguard-go process provides. */
int wg_device_ensure(struct wg_backend *b, const char *ifname, int timeout_ms, struct error *err);
int wg_device_remove(struct wg_backend *b, const char *ifname, struct error *err);
int wg_device_get(struct wg_backend *b, const char *ifname, struct wg_device *out, struct error *err);
/* Applies dev as a delta (see the flags): peers not named are left alone,
 * a named peer is created or updated, WG_PEER_REMOVE removes it. Counts one
 * write per netlink message or UAPI transaction in b->writes. */
int wg_device_set(struct wg_backend *b, const struct wg_device *dev, struct error *err);
/* Frees what a get or diff allocated (peers and their allowed IPs). */
void wg_device_free(struct wg_device *dev);

/* dev's peers sorted by public key, for wg_peers_find() in O(log n); valid
 * while dev is. NULL when out of memory; free() it. */
const struct wg_peer **wg_peers_by_key(const struct wg_device *dev);
/* The peer with that key among n sorted by wg_peers_by_key(), or NULL. */
const struct wg_peer *wg_peers_find(const struct wg_peer **sorted, size_t n, const struct wg_key *key);

/* Pure: the delta that turns `have` into `want` without touching peers that
 * are already right. Peers are matched by public key. A changed peer carries
 * only what changed; allowed IPs that only grow are added without
 * WG_PEER_REPLACE_ALLOWED_IPS (no window without a route), a list that loses
 * entries is sent whole with that flag, atomically. A wanted peer without an
 * endpoint keeps the one the device learned (roaming). A preshared key or
 * keepalive not flagged in `want` means none. The delta lists the added and
 * changed peers in want's order, then the removed ones. Returns the number
 * of changes (peers in the delta, plus one if device fields change; 0:
 * nothing to do and *delta is empty), or -1 when out of memory. */
int wg_device_diff(const struct wg_device *have, const struct wg_device *want,
		   struct wg_device *delta);

#endif
