/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Network namespaces through setns(2). A netlink socket stays bound to the
 * namespace it was opened in, so the usual pattern is: open the target
 * namespace, briefly enter it to open a socket there, come back, and talk
 * to both namespaces without switching again.
 */
#ifndef SKEIN_NETNS_H
#define SKEIN_NETNS_H

#include "error.h"
#include "nl.h"

/* Opens a namespace path (/proc/PID/ns/net, /var/run/netns/NAME) and
 * returns its fd (O_CLOEXEC). -ENOENT (err set) when the path is gone, so
 * callers can treat a vanished namespace as such. */
int netns_open(const char *path, struct error *err);
/* Opens an rtnetlink socket inside the namespace behind netns_fd and
 * returns to the caller's namespace before returning. */
int netns_nl_open(int netns_fd, struct nl *nl, struct error *err);

#endif
