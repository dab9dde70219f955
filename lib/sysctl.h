/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /proc/sys settings of the caller's network namespace (the files under
 * /proc/sys/net follow the namespace of the process that opens them).
 */
#ifndef SKEIN_SYSCTL_H
#define SKEIN_SYSCTL_H

#include "error.h"

/* Makes the setting at path ("net/ipv4/ip_forward") read `value`, writing
 * only when it differs, so the common case costs one read. */
int sysctl_ensure(const char *path, const char *value, struct error *err);

#endif
