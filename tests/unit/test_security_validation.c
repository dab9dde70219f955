// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the container runtime hands the plugin (container ID, interface
 * name, netns path, config paths) must not steer a root process to files
 * it should not touch, and state is never written through a symlink. The
 * node's private key file is 0600 and its content is never echoed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../cni-plugin/cni.h"
#include "capture_stderr.h"
#include "ipam.h"
#include "key.h"
#include "keyfile.h"
#include "netns.h"
#include "wg_internal.h"
#include "scratch_dir.h"


static const char *env_vars[8][2];

static char *lookup(const char *name)
{
	for (size_t i = 0; i < 8 && env_vars[i][0]; i++)
		if (!strcmp(env_vars[i][0], name))
			return (char *)env_vars[i][1];
	return NULL;
}

/* Container IDs and interface names become file names of the IPAM store:
 * nothing that climbs out of it or splits a record name gets in. */
static void test_attachment_names_rejected(void **state)
{
	static const struct {
		const char *id, *ifname, *var, *why;
	} cases[] = {
		{ "../../etc/passwd", "eth0", "CNI_CONTAINERID", "must start with a letter or digit" },
		{ "abc/../../x", "eth0", "CNI_CONTAINERID", "invalid character 0x2f" },
		{ "abc|eth0", "eth0", "CNI_CONTAINERID", "invalid character 0x7c" },
		{ "abc\n", "eth0", "CNI_CONTAINERID", "invalid character 0x0a" },
		{ ".hidden", "eth0", "CNI_CONTAINERID", "must start with a letter or digit" },
		{ "abc", "..", "CNI_IFNAME", "is not allowed" },
		{ "abc", "eth/0", "CNI_IFNAME", "invalid character 0x2f" },
		{ "abc", "eth:0", "CNI_IFNAME", "invalid character 0x3a" },
		{ "abc", "eth 0", "CNI_IFNAME", "invalid character 0x20" },
		{ "abc", "a23456789012345x", "CNI_IFNAME", "longer than 15" },
		{ "abc", "", "CNI_IFNAME", "" },
	};
	char long_id[IPAM_CONTAINER_ID_MAX + 2];
	struct cni_env env;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		env_vars[0][0] = "CNI_COMMAND", env_vars[0][1] = "ADD";
		env_vars[1][0] = "CNI_PATH", env_vars[1][1] = "/opt/cni/bin";
		env_vars[2][0] = "CNI_NETNS", env_vars[2][1] = "/var/run/netns/x";
		env_vars[3][0] = "CNI_CONTAINERID", env_vars[3][1] = cases[i].id;
		env_vars[4][0] = "CNI_IFNAME", env_vars[4][1] = cases[i].ifname;
		err.msg[0] = '\0';
		assert_int_equal(cni_env_parse(lookup, &env, &err), CNI_ERR_ENV);
		assert_non_null(strstr(err.msg, cases[i].var));
		assert_non_null(strstr(err.msg, cases[i].why));
	}
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(ipam_check_container_id(long_id, &err), -1);
	assert_non_null(strstr(err.msg, "longer than 128"));
	long_id[IPAM_CONTAINER_ID_MAX] = '\0';
	assert_int_equal(ipam_check_container_id(long_id, &err), 0);
}

/* dataDir and logFile must be absolute; the network name is a file name. */
static void test_config_paths_rejected(void **state)
{
	static const struct {
		const char *conf, *why;
	} cases[] = {
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"skein\",\"dataDir\":\"var/lib\"}",
		  "dataDir var/lib is not an absolute path" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"skein\",\"logFile\":\"../log\"}",
		  "logFile ../log is not an absolute path" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"../etc\",\"type\":\"skein\"}",
		  "network name ../etc must start with a letter or digit" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\",\"type\":\"skein\"}",
		  "network name a/b has invalid character 0x2f" },
	};
	struct cni_conf conf;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cni_conf_parse(cases[i].conf, &conf, &err), CNI_ERR_CONFIG);
		assert_non_null(strstr(err.msg, cases[i].why));
		cni_conf_free(&conf);
	}
}

/* A netns path must be a namespace file: the runtime's typo or a planted
 * path gets a clear error before setns(2). */
static void test_netns_path_checked(void **state)
{
	char path[128];
	struct error err;
	int fd;

	(void)state;
	assert_int_equal(netns_open("proc/self/ns/net", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not an absolute path"));
	scratch_path(path, sizeof(path), "plain-file");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(netns_open(path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a namespace file"));
	assert_int_equal(netns_open(scratch_dir, &err), -EINVAL);
	scratch_path(path, sizeof(path), "gone");
	assert_int_equal(netns_open(path, &err), -ENOENT);
	fd = netns_open("/proc/self/ns/net", &err);
	assert_true(fd >= 0);
	close(fd);
}

/* DATA_DIR/NETWORK and the lock are never opened through a symlink, so a
 * planted link cannot make the plugin create or lock files elsewhere. */
static void test_state_not_written_through_symlinks(void **state)
{
	char data[96], target[96], link[160], path[160];
	struct ipam_store s;
	struct error err;
	struct stat st;

	(void)state;
	scratch_path(data, sizeof(data), "data");
	scratch_path(target, sizeof(target), "elsewhere");
	assert_int_equal(mkdir(data, 0700), 0);
	assert_int_equal(mkdir(target, 0700), 0);
	snprintf(link, sizeof(link), "%s/net", data);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(ipam_store_open(&s, data, "net", &err), -1);
	assert_non_null(strstr(err.msg, "net"));
	snprintf(path, sizeof(path), "%s/lock", target);
	assert_int_equal(lstat(path, &st), -1);

	/* A lock planted as a symlink is refused too, and not created. */
	assert_int_equal(ipam_store_open(&s, data, "net2", &err), 0);
	ipam_store_close(&s);
	snprintf(path, sizeof(path), "%s/net2/lock", data);
	assert_int_equal(unlink(path), 0);
	snprintf(link, sizeof(link), "%s/victim", target);
	assert_int_equal(symlink(link, path), 0);
	assert_int_equal(ipam_store_open(&s, data, "net2", &err), -1);
	assert_non_null(strstr(err.msg, "lock"));
	assert_int_equal(lstat(link, &st), -1);
}

struct load {
	const char *path;
	struct wg_key key;
	int rc;
};

static void load_key(void *arg)
{
	struct load *l = arg;
	struct error err;
	bool created;

	l->rc = keyfile_load_or_create(l->path, &l->key, &created, &err);
}

/* Even with umask 0 the key is never readable by others, from its first
 * byte on; a world-readable key is fixed with a warning that does not
 * carry the key. */
static void test_key_file_private(void **state)
{
	static const char key_text[] = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
	char path[128], out[2048], b64[WG_KEY_B64_LEN];
	struct load l = { .path = path };
	struct stat st;
	mode_t old = umask(0);
	int fd;

	(void)state;
	scratch_path(path, sizeof(path), "keys/private.key");
	capture_stderr(load_key, &l, out, sizeof(out));
	umask(old);
	assert_int_equal(l.rc, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	scratch_path(path, sizeof(path), "keys");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_null(strstr(out, key_to_base64(&l.key, b64)));

	scratch_path(path, sizeof(path), "keys/loose.key");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, key_text, strlen(key_text)), (ssize_t)strlen(key_text));
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	capture_stderr(load_key, &l, out, sizeof(out));
	assert_int_equal(l.rc, 0);
	assert_non_null(strstr(out, "warn"));
	assert_null(strstr(out, key_text));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* A malformed secret in a UAPI reply is named, not echoed: a near-miss
 * is most of the key. */
static void test_uapi_error_hides_secrets(void **state)
{
	static const char *const lines[] = {
		"private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027\n",
		"public_key=0101010101010101010101010101010101010101010101010101010101010101\n"
		"preshared_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba5202zz\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct wg_device dev = { .n_peers = 0 };
		struct wg_uapi_parser p;
		struct error err;

		wg_uapi_parser_init(&p, &dev);
		assert_int_equal(wg_uapi_parser_feed(&p, lines[i], strlen(lines[i]), &err), -1);
		assert_non_null(strstr(err.msg, "_key"));
		assert_null(strstr(err.msg, "e84b5a6d"));
		wg_device_free(&dev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attachment_names_rejected),
		cmocka_unit_test(test_config_paths_rejected),
		cmocka_unit_test(test_netns_path_checked),
		cmocka_unit_test(test_state_not_written_through_symlinks),
		cmocka_unit_test(test_key_file_private),
		cmocka_unit_test(test_uapi_error_hides_secrets),
	};

	return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
