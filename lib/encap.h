/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Encapsulation between nodes of one location that do not share a subnet:
 * a VXLAN device (these kernels have VXLAN but no IPIP) with learning off
 * and head-end replication: one static all-zero-MAC FDB entry per remote
 * node's private IP, so broadcast and unknown unicast go to every remote
 * node and nothing is learned from packets. encap_sync creates the device
 * if needed and afterwards writes only differences (MTU, up state, the
 * address, FDB entries); a sync with nothing to change writes nothing.
 * A device whose VNI, port, local address or underlay differ (these cannot
 * change in place) is recreated; a device of that name of another kind is
 * an error and left alone.
 */
#ifndef SKEIN_ENCAP_H
#define SKEIN_ENCAP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"
#include "nl.h"
#include "setdiff.h"

#define ENCAP_DEFAULT_VNI 1107
#define ENCAP_DEFAULT_PORT 4789

struct encap_config {
	char ifname[IF_NAMESIZE];
	uint32_t vni;                 /* 0: ENCAP_DEFAULT_VNI */
	uint16_t port;                /* UDP destination port; 0: ENCAP_DEFAULT_PORT */
	struct ip_addr local;         /* underlay source address; family 0: any */
	char underlay[IF_NAMESIZE];   /* device to send on; "": by routing */
	struct cidr address;          /* family 0: none */
	uint32_t mtu;                 /* 0: the kernel's choice */
	const struct ip_addr *remotes;/* other nodes' private IPs */
	size_t n_remotes;
};

int encap_sync(struct nl *nl, const struct encap_config *conf, struct error *err);
/* Deletes the device (and with it its FDB); a missing device is fine. */
int encap_remove(struct nl *nl, const char *ifname, struct error *err);

/* Pure: which FDB destinations to add and delete. */
int encap_fdb_diff(const struct ip_addr *have, size_t n_have, const struct ip_addr *want,
		   size_t n_want, struct change **changes, size_t *n_changes, struct error *err);

#endif
