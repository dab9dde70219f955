/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A netlink conversation over libmnl: open a socket on a bus, build a
 * request in the socket's buffer, send it and read replies until the
 * kernel's ACK (or NLMSG_DONE for dumps). Errors come back as -errno.
 * Every request that is not a read is counted in `writes`, so callers and
 * tests can prove that a no-op reconcile wrote nothing.
 */
#ifndef SKEIN_NL_H
#define SKEIN_NL_H

#include <libmnl/libmnl.h>
#include <stdint.h>

struct nl {
	struct mnl_socket *sock;
	int bus;
	uint32_t portid;
	uint32_t seq;
	char *buf;
	size_t buf_len;
	unsigned long writes;
};

/* bus: NETLINK_ROUTE, NETLINK_GENERIC or NETLINK_NETFILTER. */
int nl_open(struct nl *nl, int bus);
void nl_close(struct nl *nl);
/* Starts a message in nl->buf with the next sequence number; NLM_F_REQUEST
 * is always set, NLM_F_ACK is added for requests that are not dumps. */
struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags);
/* Sends nlh and runs cb on each reply until the ACK or the end of a dump.
 * cb may be NULL. Returns 0, or -errno from the kernel or the socket. */
int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif
