// SPDX-License-Identifier: GPL-2.0-or-later
/* The private key file: created 0600 once, reloaded, permissions fixed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "keyfile.h"
#include "scratch_dir.h"

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_create_then_load(void **state)
{
	char path[128], text[128], b64[WG_KEY_B64_LEN];
	struct wg_key k1, k2, parsed;
	struct stat st;
	struct error err;
	bool created;
	FILE *f;

	(void)state;
	scratch_path(path, sizeof(path), "sub/dir/private.key");
	assert_int_equal(keyfile_load_or_create(path, &k1, &created, &err), 0);
	assert_true(created);
	assert_false(key_is_zero(&k1));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	scratch_path(text, sizeof(text), "sub/dir");
	assert_int_equal(stat(text, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The file holds the key as wg genkey prints it, and nothing else. */
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_int_equal(strlen(text), WG_KEY_B64_LEN);
	text[WG_KEY_B64_LEN - 1] = '\0';
	assert_int_equal(key_from_base64(text, &parsed), 0);
	assert_true(key_equal(&parsed, &k1));
	assert_string_equal(key_to_base64(&k1, b64), text);
	/* The second start loads the same key. */
	assert_int_equal(keyfile_load_or_create(path, &k2, &created, &err), 0);
	assert_false(created);
	assert_true(key_equal(&k1, &k2));
}

static void test_readable_file_fixed(void **state)
{
	char path[128];
	struct wg_key k;
	struct stat st;
	struct error err;
	bool created;

	(void)state;
	scratch_path(path, sizeof(path), "loose.key");
	write_file(path, "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n", 0644);
	assert_int_equal(keyfile_load_or_create(path, &k, &created, &err), 0);
	assert_false(created);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_bad_files(void **state)
{
	char path[128], target[128];
	struct wg_key k;
	struct error err = { { 0 } };
	bool created;

	(void)state;
	scratch_path(path, sizeof(path), "garbage.key");
	write_file(path, "this is not a key, it is a secret\n", 0600);
	assert_int_equal(keyfile_load_or_create(path, &k, &created, &err), -1);
	assert_non_null(strstr(err.msg, "not a base64 WireGuard key"));
	assert_null(strstr(err.msg, "secret")); /* the content is never echoed */

	scratch_path(target, sizeof(target), "real.key");
	write_file(target, "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n", 0600);
	scratch_path(path, sizeof(path), "link.key");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(keyfile_load_or_create(path, &k, &created, &err), -1);
	assert_non_null(strstr(err.msg, "symbolic link"));

	scratch_path(path, sizeof(path), "adir.key");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(keyfile_load_or_create(path, &k, &created, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_then_load),
		cmocka_unit_test(test_readable_file_fixed),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
