/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the agent publishes on its own Node, as annotation values: built
 * here (pure), sent by agent_publish_annotations(), which leaves out every
 * value the Node already carries. Entries not listed are left alone.
 *
 *   skein.dev/public-key            the device's public key
 *   skein.dev/internal-ip           force-internal-ip, else --internal-ip or
 *                                   the detected address with its prefix,
 *                                   else the Node's InternalIP
 *   skein.dev/endpoint              force-endpoint, else ExternalIP:port,
 *                                   else internal IP:port
 *   skein.dev/wireguard-ip          the plan's device address (removed when
 *                                   the node holds no tunnels)
 *   skein.dev/discovered-endpoints  {"<public key>": "ip:port"} of NATed
 *                                   peers with a live session (removed when
 *                                   there are none)
 */
#ifndef SKEIN_PUBLISH_H
#define SKEIN_PUBLISH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "model.h"
#include "wg.h"

#define PUBLISH_MAX 5
#define PUBLISH_VALUE_MAX (MODEL_HOST_MAX + 16)
/* A session older than WireGuard's REJECT_AFTER_TIME is dead: its
 * endpoint is not worth publishing. */
#define PUBLISH_HANDSHAKE_MAX_AGE 180

struct annotations {
	const char *keys[PUBLISH_MAX];
	const char *values[PUBLISH_MAX];  /* NULL removes the annotation */
	size_t n;
	char text[PUBLISH_MAX][PUBLISH_VALUE_MAX];
	char *discovered;                 /* the JSON map, malloc'ed */
};

void annotations_init(struct annotations *a);
void annotations_free(struct annotations *a);

/* The Node's first status address of type ("InternalIP", "ExternalIP"). */
bool node_status_address(const json_t *node, const char *type, struct ip_addr *out);
/* The force-internal-ip annotation (or Kilo's); false when unset or bad. */
bool node_forced_internal_ip(const json_t *node, struct cidr *out);
/* The internal IP to publish (see above); false when there is none.
 * detected: family 0 when nothing was detected. */
bool node_internal_ip(const json_t *node, const struct cidr *detected, struct cidr *out);

/* public-key, internal-ip and endpoint. node: the Node (object or digest);
 * a bad force-* annotation is an error naming it. */
int annotations_identity(struct annotations *a, const json_t *node, const struct wg_key *public_key,
			 uint16_t port, const struct cidr *detected, struct error *err);
/* wireguard-ip: ip with the subnet's prefix; family 0 removes it. */
void annotations_wireguard_ip(struct annotations *a, const struct cidr *ip);
/* discovered-endpoints from the device as read back at wall-clock `now`:
 * peers whose key belongs to a node or peer with persistent keepalive. */
int annotations_discovered(struct annotations *a, const struct cluster *c,
			   const struct wg_device *dev, time_t now, struct error *err);
/* Every annotation above, removed (clean-up). */
void annotations_remove_all(struct annotations *a);

/* "host:port", "[v6]:port". */
const char *endpoint_format(const char *host, uint16_t port, char buf[PUBLISH_VALUE_MAX]);

#endif
