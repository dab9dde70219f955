// SPDX-License-Identifier: GPL-2.0-or-later
#include "nl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>

int nl_open(struct nl *nl, int bus)
{
	memset(nl, 0, sizeof(*nl));
	nl->buf_len = MNL_SOCKET_BUFFER_SIZE; /* a runtime value in libmnl 1.0.4 */
	if (nl->buf_len < 32768)
		nl->buf_len = 32768;
	/* libmnl 1.0.4's mnl_attr_put() leaves attribute padding unwritten:
	 * a zeroed buffer keeps heap garbage out of messages to the kernel. */
	nl->buf = calloc(1, nl->buf_len);
	if (!nl->buf)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		nl_close(nl);
		return err ? err : -EIO;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->bus = bus;
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	nl->sock = NULL;
	nl->buf = NULL;
}

/* NLM_F_DUMP is two bits, and NLM_F_EXCL is one of them (NLM_F_MATCH):
 * a create request with NLM_F_EXCL is not a dump. */
static int is_dump(uint16_t flags)
{
	return (flags & NLM_F_DUMP) == NLM_F_DUMP;
}

struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	if (!is_dump(flags))
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

static int is_read_request(const struct nl *nl, const struct nlmsghdr *nlh)
{
	if (is_dump(nlh->nlmsg_flags))
		return 1;
	switch (nl->bus) {
	case NETLINK_ROUTE: /* RTM_GET* are the third of each group of four */
		return nlh->nlmsg_type >= RTM_BASE && (nlh->nlmsg_type & 3) == 2;
	case NETLINK_GENERIC: /* family lookups */
		return nlh->nlmsg_type == GENL_ID_CTRL;
	default:
		return 0;
	}
}

int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (!is_read_request(nl, nlh))
		nl->writes++;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, nl->buf_len);
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
	} while (ret == MNL_CB_OK);
	return ret < 0 ? -errno : 0;
}
