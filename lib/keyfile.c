// SPDX-License-Identifier: GPL-2.0-or-later
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "log.h"

#define KEYFILE_MODE 0600

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + *len, cap - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		*len += (size_t)n;
		if (*len == cap)
			return 0;
	}
}

static int fix_mode(int fd, const struct stat *st, const char *path, struct error *err)
{
	if ((st->st_mode & 077) == 0)
		return 0;
	log_warn("private key %s was readable by group or others (mode %03o); setting 0600",
		 path, (unsigned)(st->st_mode & 0777));
	if (fchmod(fd, KEYFILE_MODE) < 0)
		return error_set(err, "private key %s: chmod 0600: %s", path, strerror(errno));
	return 0;
}

static int parse_key_text(char *buf, size_t len, struct wg_key *out)
{
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	return key_from_base64(buf, out);
}

/* 1: loaded, 0: no such file, -1: error. */
static int load_key(const char *path, struct wg_key *out, struct error *err)
{
	char buf[128];
	struct stat st;
	size_t len;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ret = -1;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return error_set(err, "private key %s: %s", path,
				 errno == ELOOP ? "is a symbolic link" : strerror(errno));
	if (fstat(fd, &st) < 0) {
		error_set(err, "private key %s: stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, "private key %s: not a regular file", path);
		goto out;
	}
	if (fix_mode(fd, &st, path, err) < 0)
		goto out;
	if (read_all(fd, buf, sizeof(buf) - 1, &len) < 0) {
		error_set(err, "private key %s: read: %s", path, strerror(errno));
		goto out;
	}
	if (parse_key_text(buf, len, out) < 0) {
		error_set(err, "private key %s: not a base64 WireGuard key", path);
		goto out;
	}
	ret = 1;
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

/* mkdir -p of path's directory, the directories skein creates being 0700. */
static int make_dirs(const char *path, struct error *err)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return error_set(err, "private key path %s: too long", path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return error_set(err, "creating %s: %s", dir, strerror(errno));
		if (c == '\0')
			return 0;
		*p = c;
	}
}

/* Writes key to a private temporary file, then links it to path: link()
 * never replaces, so two agents starting at once keep one key. */
static int store_key(const char *path, const struct wg_key *key, struct error *err)
{
	char tmp[PATH_MAX], text[WG_KEY_B64_LEN];
	int fd, ret = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return error_set(err, "private key path %s: too long", path);
	unlink(tmp); /* left by a crashed run with our pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, KEYFILE_MODE);
	if (fd < 0)
		return error_set(err, "creating %s: %s", tmp, strerror(errno));
	key_to_base64(key, text);
	if (fchmod(fd, KEYFILE_MODE) < 0 || dprintf(fd, "%s\n", text) != WG_KEY_B64_LEN ||
	    fsync(fd) < 0) {
		error_set(err, "writing %s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) < 0) {
		error_set(err, "writing %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, path) < 0) {
		ret = errno == EEXIST ? 0 : error_set(err, "storing private key %s: %s", path,
						      strerror(errno));
		goto out;
	}
	ret = 1;
out:
	sodium_memzero(text, sizeof(text));
	unlink(tmp);
	return ret;
}

int keyfile_load_or_create(const char *path, struct wg_key *out, bool *created,
			   struct error *err)
{
	int ret;

	*created = false;
	ret = load_key(path, out, err);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	if (make_dirs(path, err) < 0)
		return -1;
	if (key_generate_private(out) < 0)
		return error_set(err, "generating a private key: libsodium failed");
	ret = store_key(path, out, err);
	if (ret < 0)
		return -1;
	*created = ret == 1;
	if (ret == 0 && load_key(path, out, err) != 1) /* another process won: use its key */
		return error_set(err, "private key %s: vanished while being created", path);
	return 0;
}
