/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small file helpers shared by the plugin and the agent. */
#ifndef SKEIN_FILEIO_H
#define SKEIN_FILEIO_H

#include <stddef.h>

/* Writes all len bytes, retrying short writes and EINTR; -1 with errno set. */
int write_all(int fd, const void *buf, size_t len);

#endif
