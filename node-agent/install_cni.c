// SPDX-License-Identifier: GPL-2.0-or-later
#include "install_cni.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni_bundle.h"
#include "fileio.h"
#include "log.h"

/* An open directory and its path, for messages. */
struct dir {
	int fd;
	const char *path;
};

/* Opens at/name as d, known in messages as path. */
static int open_dir(struct dir *d, int at, const char *name, const char *path, struct error *err)
{
	d->path = path;
	d->fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0)
		return error_set(err, "%s: %s", path, strerror(errno));
	return 0;
}

static int copy_data(int in, int out)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		if (write_all(out, buf, (size_t)n) < 0)
			return -1;
	}
}

/* Copies the regular file from/name to to/to_name with its permissions,
 * and fsyncs it: it is renamed into place next. */
static int copy_file(const struct dir *from, const char *name, const struct dir *to,
		     const char *to_name, struct error *err)
{
	int in = openat(from->fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, rc = -1;
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0) {
		error_set(err, "%s/%s: %s", from->path, name, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, "%s/%s: not a regular file", from->path, name);
		goto done;
	}
	out = openat(to->fd, to_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0 || copy_data(in, out) < 0 || fchmod(out, st.st_mode & 0777) < 0 ||
	    fsync(out) < 0) {
		error_set(err, "%s/%s: %s", to->path, to_name, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = error_set(err, "%s/%s: %s", to->path, to_name, strerror(errno));
	return rc;
}

static int sync_dir(const struct dir *d, struct error *err)
{
	return fsync(d->fd) < 0 ? error_set(err, "%s: fsync: %s", d->path, strerror(errno)) : 0;
}

/* Calls fn for every entry of d but "." and "..", until one fails. */
typedef int (*entry_fn)(const struct dir *d, const char *name, void *ctx, struct error *err);
static int for_each_entry(const struct dir *d, entry_fn fn, void *ctx, struct error *err)
{
	int fd = dup(d->fd), rc = 0;
	DIR *list = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!list) {
		if (fd >= 0)
			close(fd);
		return error_set(err, "%s: %s", d->path, strerror(errno));
	}
	rewinddir(list); /* the duplicate shares d's offset */
	while (rc == 0 && (e = readdir(list))) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			rc = fn(d, e->d_name, ctx, err);
	}
	closedir(list);
	return rc;
}

static int unlink_entry(const struct dir *d, const char *name, void *ctx, struct error *err)
{
	(void)ctx;
	if (unlinkat(d->fd, name, 0) < 0)
		return error_set(err, "%s/%s: %s", d->path, name, strerror(errno));
	return 0;
}

/* Removes parent/name, a directory of files (a bundle), if it exists. */
static int remove_bundle_dir(const struct dir *parent, const char *name, struct error *err)
{
	char path[PATH_MAX];
	struct dir d;
	int rc;

	if (cni_path_join(path, sizeof(path), parent->path, name) < 0)
		return error_set(err, "%s: path too long", parent->path);
	d.path = path;
	d.fd = openat(parent->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d.fd < 0)
		return errno == ENOENT ? 0 : error_set(err, "%s: %s", path, strerror(errno));
	rc = for_each_entry(&d, unlink_entry, NULL, err);
	close(d.fd);
	if (rc == 0 && unlinkat(parent->fd, name, AT_REMOVEDIR) < 0)
		rc = error_set(err, "%s: %s", path, strerror(errno));
	return rc;
}

static int copy_entry(const struct dir *src, const char *name, void *dst, struct error *err)
{
	return copy_file(src, name, dst, name, err);
}

/* Copies every file of from/name into a new to/tmp, fsynced. */
static int copy_bundle(const struct dir *from, const char *name, const struct dir *to,
		       const char *tmp, struct error *err)
{
	char src_path[PATH_MAX], dst_path[PATH_MAX];
	struct dir src, dst = { -1, dst_path };
	int rc = -1;

	if (cni_path_join(src_path, sizeof(src_path), from->path, name) < 0 ||
	    cni_path_join(dst_path, sizeof(dst_path), to->path, tmp) < 0)
		return error_set(err, "%s: path too long", to->path);
	if (open_dir(&src, from->fd, name, src_path, err) < 0)
		return error_prefix(err, "the bundle to install");
	if (remove_bundle_dir(to, tmp, err) < 0)
		goto done;
	if (mkdirat(to->fd, tmp, 0755) < 0) {
		error_set(err, "%s: %s", dst_path, strerror(errno));
		goto done;
	}
	if (open_dir(&dst, to->fd, tmp, dst_path, err) == 0 &&
	    for_each_entry(&src, copy_entry, &dst, err) == 0)
		rc = sync_dir(&dst, err);
done:
	close(src.fd);
	if (dst.fd >= 0)
		close(dst.fd);
	return rc;
}

/* Renames to/tmp to to/name; an existing to/name (the same version, an
 * earlier install) is swapped out in the same step, then removed. */
static int place_bundle(const struct dir *to, const char *tmp, const char *name,
			struct error *err)
{
	if (renameat2(to->fd, tmp, to->fd, name, RENAME_EXCHANGE) == 0)
		return remove_bundle_dir(to, tmp, err);
	if (errno != ENOENT || renameat(to->fd, tmp, to->fd, name) < 0)
		return error_set(err, "%s: renaming %s to %s: %s", to->path, tmp, name,
				 strerror(errno));
	return 0;
}

static int install_launcher(const struct dir *from, const struct dir *to, struct error *err)
{
	static const char tmp[] = "." CNI_BUNDLE_PLUGIN ".new";

	if (unlinkat(to->fd, tmp, 0) < 0 && errno != ENOENT)
		return error_set(err, "%s/%s: %s", to->path, tmp, strerror(errno));
	if (copy_file(from, CNI_BUNDLE_PLUGIN, to, tmp, err) < 0)
		return error_prefix(err, "the launcher");
	if (renameat(to->fd, tmp, to->fd, CNI_BUNDLE_PLUGIN) < 0)
		return error_set(err, "%s: renaming %s to %s: %s", to->path, tmp,
				 CNI_BUNDLE_PLUGIN, strerror(errno));
	return sync_dir(to, err);
}

/* The launcher no longer runs them; one that started before it was
 * replaced and has not reached its exec yet is the (tiny) exception. */
static int remove_if_other_bundle(const struct dir *to, const char *name, void *version,
				  struct error *err)
{
	struct stat st;

	if (!cni_bundle_is_other_version(name, version) ||
	    fstatat(to->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (remove_bundle_dir(to, name, err) < 0)
		log_warn("cannot remove the old bundle: %s", err->msg);
	else
		log_info("removed the old bundle %s/%s", to->path, name);
	return 0;
}

int cni_install(const char *from_path, const char *to_path, const char *version, struct error *err)
{
	char name[NAME_MAX + 1], tmp[NAME_MAX + 1];
	struct dir from, to = { -1, to_path };
	int rc = -1;

	if (cni_bundle_name(name, sizeof(name), version) < 0 ||
	    snprintf(tmp, sizeof(tmp), ".%s.new", name) >= (int)sizeof(tmp))
		return error_set(err, "version \"%s\" is too long", version);
	if (open_dir(&from, AT_FDCWD, from_path, from_path, err) < 0)
		return error_prefix(err, "the plugin to install");
	if (open_dir(&to, AT_FDCWD, to_path, to_path, err) == 0 &&
	    copy_bundle(&from, name, &to, tmp, err) == 0 &&
	    place_bundle(&to, tmp, name, err) == 0 && sync_dir(&to, err) == 0 &&
	    install_launcher(&from, &to, err) == 0) {
		log_info("installed %s/%s and %s/%s", to_path, CNI_BUNDLE_PLUGIN, to_path, name);
		if (for_each_entry(&to, remove_if_other_bundle, (void *)version, err) < 0)
			log_warn("cannot list old bundles: %s", err->msg);
		rc = 0;
	}
	close(from.fd);
	if (to.fd >= 0)
		close(to.fd);
	return rc;
}
