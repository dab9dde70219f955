// SPDX-License-Identifier: GPL-2.0-or-later
/* skein-agent --install-cni's copy (node-agent/install_cni.c) on files in a
 * scratch directory, under ASan: the layout it leaves and what it removes.
 * tests/integration/test_cni_bundle.sh runs the real launcher and bundle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../node-agent/install_cni.h"
#include "scratch_dir.h"

static void make_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	int fd = open(scratch_path(path, sizeof(path), name), O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void make_dir(const char *name)
{
	char path[256];

	assert_int_equal(mkdir(scratch_path(path, sizeof(path), name), 0755), 0);
}

static bool exists(const char *name)
{
	char path[256];
	struct stat st;

	return lstat(scratch_path(path, sizeof(path), name), &st) == 0;
}

/* The file's text and mode. */
static void assert_file(const char *name, const char *text, mode_t mode)
{
	char path[256], buf[64] = "";
	struct stat st;
	FILE *f = fopen(scratch_path(path, sizeof(path), name), "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, mode);
}

static int make_trees(void **state)
{
	if (scratch_dir_make(state) < 0)
		return -1;
	make_dir("from");
	make_file("from/skein", "launcher 2", 0755);
	make_dir("from/skein-2.0");
	make_file("from/skein-2.0/skein", "plugin 2", 0755);
	make_file("from/skein-2.0/libc.so.6", "libc 2", 0644);
	make_dir("to");
	make_file("to/skein", "launcher 1", 0755);
	make_dir("to/skein-1.0");
	make_file("to/skein-1.0/skein", "plugin 1", 0755);
	make_dir("to/.skein-2.0.new");           /* a crashed install's */
	make_file("to/.skein-2.0.new/skein", "half", 0600);
	make_file("to/skein-1.0-notes", "not a bundle", 0644);
	make_file("to/bridge", "another plugin", 0755);
	return 0;
}

static void test_upgrade(void **state)
{
	char from[256], to[256];
	struct error err = { "" };

	(void)state;
	scratch_path(from, sizeof(from), "from");
	scratch_path(to, sizeof(to), "to");
	assert_int_equal(cni_install(from, to, "2.0", &err), 0);
	assert_file("to/skein", "launcher 2", 0755);
	assert_file("to/skein-2.0/skein", "plugin 2", 0755);
	assert_file("to/skein-2.0/libc.so.6", "libc 2", 0644);
	assert_false(exists("to/skein-1.0"));
	assert_false(exists("to/.skein-2.0.new"));
	assert_false(exists("to/.skein.new"));
	assert_file("to/skein-1.0-notes", "not a bundle", 0644);
	assert_file("to/bridge", "another plugin", 0755);

	/* Again, over the same version: the bundle is swapped, not doubled. */
	make_file("from/skein-2.0/skein", "plugin 2 rebuilt", 0755);
	assert_int_equal(cni_install(from, to, "2.0", &err), 0);
	assert_file("to/skein-2.0/skein", "plugin 2 rebuilt", 0755);
	assert_false(exists("to/.skein-2.0.new"));
}

static void test_errors_name_the_path(void **state)
{
	char from[256], to[256];
	struct error err = { "" };

	(void)state;
	scratch_path(from, sizeof(from), "from");
	scratch_path(to, sizeof(to), "nowhere");
	assert_int_equal(cni_install(from, to, "2.0", &err), -1);
	assert_non_null(strstr(err.msg, "nowhere: No such file"));
	/* No bundle of this version to copy: nothing is written. */
	scratch_path(to, sizeof(to), "to");
	assert_int_equal(cni_install(from, to, "3.0", &err), -1);
	assert_non_null(strstr(err.msg, "from/skein-3.0"));
	assert_false(exists("to/.skein-3.0.new"));
	assert_false(exists("to/skein-3.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_errors_name_the_path),
	};

	return cmocka_run_group_tests(tests, make_trees, scratch_dir_remove);
}
