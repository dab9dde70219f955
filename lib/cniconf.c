// SPDX-License-Identifier: GPL-2.0-or-later
#include "cniconf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

static json_t *pod_cidr_array(const struct cniconf *conf)
{
	json_t *a = json_array();
	char buf[CIDR_STRLEN];

	for (size_t i = 0; a && i < conf->n_pod_cidrs; i++) {
		struct cidr net = cidr_network(&conf->pod_cidrs[i]);

		if (json_array_append_new(a, json_string(cidr_format(&net, buf))) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *cniconf_render(const struct cniconf *conf, struct error *err)
{
	const char *version = conf->cni_version ? conf->cni_version : CNICONF_CNI_VERSION;
	json_t *root, *cidrs;
	char *text;

	if (!conf->n_pod_cidrs) {
		error_set(err, "CNI config: no pod CIDRs yet");
		return NULL;
	}
	if (!conf->mtu) {
		error_set(err, "CNI config: MTU must be set");
		return NULL;
	}
	cidrs = pod_cidr_array(conf);
	/* "o" hands cidrs to the new object, or frees it if packing fails.
	 * cniVersion 1.0.0 by default, not 1.1.0: every plugin in a chain must
	 * accept the list's version, and portmap builds still in use (Debian
	 * 12's 1.1.1, older kind images) stop at 1.0.0 and fail every ADD
	 * otherwise. Where portmap is newer, 1.1.0 lets runtimes call STATUS
	 * and GC. */
	root = cidrs ? json_pack("{s:s, s:s, s:[{s:s, s:o, s:I, s:s}, {s:s, s:{s:b}, s:b}]}",
				 "cniVersion", version, "name", "skein", "plugins",
				 "type", "skein", "podCIDRs", cidrs, "mtu", (json_int_t)conf->mtu,
				 "dataDir", conf->data_dir ? conf->data_dir : CNICONF_DEFAULT_DATA_DIR,
				 "type", "portmap", "capabilities", "portMappings", 1, "snat", 1)
		     : NULL;
	if (!root) {
		error_set(err, "CNI config: out of memory");
		return NULL;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text) {
		error_set(err, "CNI config: out of memory");
		return NULL;
	}
	return text;
}

/* True when path holds exactly `text`. */
static bool file_holds(const char *path, const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 2);
	FILE *f = fopen(path, "rb");
	bool same = false;

	if (buf && f)
		same = fread(buf, 1, len + 1, f) == len && !memcmp(buf, text, len);
	if (f)
		fclose(f);
	free(buf);
	return same;
}

static int make_dirs(char *dir)
{
	char *slash = strrchr(dir, '/');

	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT || !slash || slash == dir)
		return -1;
	*slash = '\0';
	if (make_dirs(dir) < 0)
		return -1;
	*slash = '/';
	return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* Temp file in the same directory, so rename() replaces path atomically. */
static int replace_file(const char *path, const char *dir, const char *text, struct error *err)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return error_set(err, "CNI config %s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_set(err, "CNI config %s: create temporary file: %s", path, strerror(errno));
	if (fchmod(fd, 0644) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		int e = errno;

		close(fd);
		unlink(tmp);
		return error_set(err, "CNI config %s: write %s: %s", path, tmp, strerror(e));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return error_set(err, "CNI config %s: replace: %s", path, strerror(e));
	}
	if (fsync_dir(dir) < 0)
		return error_set(err, "CNI config %s: sync directory %s: %s", path, dir, strerror(errno));
	return 0;
}

int cniconf_write(const char *path, const struct cniconf *conf, bool *written, struct error *err)
{
	char dir[PATH_MAX], *slash, *json = cniconf_render(conf, err), *text = NULL;
	int ret = -1;

	if (written)
		*written = false;
	if (!json)
		return -1;
	if (asprintf(&text, "%s\n", json) < 0) {
		text = NULL;
		error_set(err, "CNI config: out of memory");
		goto out;
	}
	if (file_holds(path, text)) {
		ret = 0;
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
		if (make_dirs(dir) < 0) {
			error_set(err, "CNI config %s: create directory %s: %s", path, dir, strerror(errno));
			goto out;
		}
	}
	ret = replace_file(path, dir, text, err);
	if (ret == 0 && written)
		*written = true;
out:
	free(json);
	free(text);
	return ret;
}

int cniconf_remove(const char *path, struct error *err)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return error_set(err, "CNI config %s: remove: %s", path, strerror(errno));
	return 0;
}
