// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

int cni_print_json(const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	int ret;

	if (!text)
		return -1;
	ret = write_all(STDOUT_FILENO, text, strlen(text));
	if (ret == 0)
		ret = write_all(STDOUT_FILENO, "\n", 1);
	free(text);
	return ret;
}

void cni_print_error(enum cni_version v, int code, const char *msg)
{
	json_t *j = json_pack("{s:s, s:i, s:s, s:s}", "cniVersion", cni_versions[v],
			      "code", code, "msg", msg, "details", "");

	if (j)
		cni_print_json(j);
	json_decref(j);
}

char *cni_read_stdin(struct error *err)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n = read(STDIN_FILENO, buf + len, cap - len - 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(err, "reading network config from stdin: %s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (n == 0) {
			buf[len] = '\0';
			return buf;
		}
		len += (size_t)n;
		if (len + 1 == cap) {
			char *p = cap < (1u << 24) ? realloc(buf, cap *= 2) : NULL;

			if (!p)
				free(buf);
			buf = p;
		}
	}
	error_set(err, "reading network config from stdin: too large or out of memory");
	return NULL;
}

int cni_log_to(const char *path, struct error *err)
{
	int fd;

	if (!path[0])
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, "logFile %s: %s", path, strerror(errno));
	if (dup2(fd, STDERR_FILENO) < 0) {
		error_set(err, "logFile %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
