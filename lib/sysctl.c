// SPDX-License-Identifier: GPL-2.0-or-later
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sysctl_ensure(const char *path, const char *value, struct error *err)
{
	char file[256], have[64];
	size_t len = strlen(value);
	ssize_t n;
	int fd;

	snprintf(file, sizeof(file), "/proc/sys/%s", path);
	fd = open(file, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, "sysctl %s: %s", path, strerror(errno));
	n = read(fd, have, sizeof(have) - 1);
	if (n >= 0) {
		have[n] = '\0';
		have[strcspn(have, "\n")] = '\0';
		if (strcmp(have, value) == 0) {
			close(fd);
			return 0;
		}
	}
	if (pwrite(fd, value, len, 0) != (ssize_t)len) {
		error_set(err, "sysctl %s = %s: %s", path, value, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
