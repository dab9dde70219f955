/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pure halves of the two WireGuard backends, shared by wg.c and the unit
 * tests: the UAPI text protocol (formatting a set, parsing a get reply fed in
 * arbitrary chunks) and the generic netlink messages (building a set split
 * across messages, merging dump replies into a device). No I/O here.
 */
#ifndef SKEIN_WG_INTERNAL_H
#define SKEIN_WG_INTERNAL_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>

#include "nl.h"
#include "wg.h"

/* --- UAPI (wg_uapi.c) --- */

/* The whole "set=1\n...\n\n" request for dev; *out is malloc'd. */
int wg_uapi_format_set(const struct wg_device *dev, char **out, size_t *len, struct error *err);

/* "1.2.3.4:51820" or "[fd00::1]:51820", as UAPI and wg(8) write endpoints
 * (a "%scope" suffix is dropped). */
int wg_endpoint_parse(const char *s, struct ip_addr *ip, uint16_t *port);

#define WG_UAPI_LINE_MAX 512

struct wg_uapi_parser {
	struct wg_device *dev;  /* filled as lines arrive */
	char line[WG_UAPI_LINE_MAX];
	size_t line_len;
	int errno_value;        /* from "errno=N"; -1 until seen */
	bool done;              /* the empty line that ends the reply was read */
};

void wg_uapi_parser_init(struct wg_uapi_parser *p, struct wg_device *dev);
/* Feeds n bytes; lines may be split anywhere. Returns 0, or -1 with err set
 * on a malformed line. Bytes after the end of the reply are an error. */
int wg_uapi_parser_feed(struct wg_uapi_parser *p, const char *buf, size_t n, struct error *err);

/* --- generic netlink (wg_kernel.c) --- */

/* Where a split set continues: the next peer, and the next allowed IP of
 * that peer when a single peer did not fit in one message. */
struct wg_nl_cursor {
	size_t peer;
	size_t ip;
	bool device_sent;
};

/* Builds the next WG_CMD_SET_DEVICE message of dev into buf (at most
 * buf_len bytes) and advances the cursor. Peers are kept whole in one
 * message whenever they fit in an empty one, so a REPLACE_ALLOWEDIPS list is
 * applied atomically. Returns the message, or NULL with err set if even an
 * empty message does not fit. wg_nl_set_done() says when to stop. */
struct nlmsghdr *wg_nl_build_set(const struct wg_device *dev, uint16_t family_id, uint32_t seq,
				 char *buf, size_t buf_len, struct wg_nl_cursor *cur,
				 struct error *err);
bool wg_nl_set_done(const struct wg_device *dev, const struct wg_nl_cursor *cur);

/* Merges one WG_CMD_GET_DEVICE reply into dev (a peer continued from the
 * previous message is appended to, not duplicated). An mnl_cb_t. */
int wg_nl_parse_device(const struct nlmsghdr *nlh, void *dev);

/* --- shared by both (wg.c) --- */

/* Append a zeroed peer / an allowed IP; arrays grow at powers of two, so
 * no capacity is stored: use them only on arrays they grew (or empty ones).
 * NULL / -1 when out of memory. */
struct wg_peer *wg_device_add_peer(struct wg_device *dev);
int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct cidr *ip);

/* --- the backends' I/O halves, called by wg.c's dispatch --- */

bool wg_kernel_available(void);
int wg_kernel_create(const char *ifname, struct error *err);
int wg_kernel_get(const char *ifname, struct wg_device *out, struct error *err);
int wg_kernel_set(const struct wg_device *dev, unsigned long *writes, struct error *err);
/* RTM_DELLINK by name; a link that is already gone is not an error. */
int wg_link_delete(const char *ifname, struct error *err);

int wg_uapi_wait(const char *dir, const char *ifname, int timeout_ms, struct error *err);
int wg_uapi_get(const char *dir, const char *ifname, struct wg_device *out, struct error *err);
int wg_uapi_set(const char *dir, const struct wg_device *dev, struct error *err);

#endif
