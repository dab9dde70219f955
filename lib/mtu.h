/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --mtu=auto: the MTU of the underlay link minus WireGuard's worst-case
 * overhead (80 bytes: outer IPv6 40 + UDP 8 + WireGuard 32), so tunnelled
 * packets never fragment. The underlay link is the one holding the node's
 * internal IP, or else the one carrying the default route (IPv4 first).
 */
#ifndef SKEIN_MTU_H
#define SKEIN_MTU_H

#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"

#define MTU_WIREGUARD_OVERHEAD 80
#define MTU_MIN 576 /* below this an IPv4 host need not accept packets */

/* Pure: the overlay MTU for an underlay MTU; fails when it would be too small. */
int mtu_for_underlay(uint32_t underlay, uint32_t *out, struct error *err);
/* internal_ip family 0: use the default route's link. */
int mtu_auto(struct nl *nl, const struct ip_addr *internal_ip, uint32_t *out, struct error *err);

#endif
