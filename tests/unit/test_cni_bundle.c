// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cni_bundle.h"
#include "../../cni-plugin/cni.h"

static void test_exe_dir(void **state)
{
	static const struct { const char *exe, *dir; } cases[] = {
		{ "/opt/cni/bin/skein", "/opt/cni/bin" },
		{ "/opt/cni/bin/skein (deleted)", "/opt/cni/bin" },
		{ "/skein", "/" },
		{ "bin/skein", "bin" },
		{ "skein", "." },
	};
	char dir[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cni_exe_dir(dir, sizeof(dir), cases[i].exe), 0);
		assert_string_equal(dir, cases[i].dir);
	}
	assert_int_equal(cni_exe_dir(dir, 8, "/opt/cni/bin/skein"), -1);
}

static void test_bundle_paths(void **state)
{
	char name[16], path[32];

	(void)state;
	assert_int_equal(cni_bundle_name(name, sizeof(name), "0.1.0"), 0);
	assert_string_equal(name, "skein-0.1.0");
	assert_int_equal(cni_path_join(path, sizeof(path), "/opt/cni/bin", name), 0);
	assert_string_equal(path, "/opt/cni/bin/skein-0.1.0");
	/* Exactly full (the terminator included) fits; one byte less does not. */
	assert_int_equal(cni_path_join(path, strlen("/opt/cni/bin/skein-0.1.0") + 1, "/opt/cni/bin", name), 0);
	assert_int_equal(cni_path_join(path, strlen("/opt/cni/bin/skein-0.1.0"), "/opt/cni/bin", name), -1);
	assert_int_equal(cni_bundle_name(name, sizeof(name), "0.1.0-rc.1234567"), -1);
}

static void test_other_versions(void **state)
{
	(void)state;
	assert_true(cni_bundle_is_other_version("skein-0.0.9", "0.1.0"));
	assert_true(cni_bundle_is_other_version("skein-0.1.0-rc1", "0.1.0"));
	assert_false(cni_bundle_is_other_version("skein-0.1.0", "0.1.0"));
	assert_false(cni_bundle_is_other_version("skein", "0.1.0"));
	assert_false(cni_bundle_is_other_version("skein-", "0.1.0"));
	assert_false(cni_bundle_is_other_version("skein-tools", "0.1.0"));
	assert_false(cni_bundle_is_other_version(".skein-0.0.9.new", "0.1.0"));
	assert_false(cni_bundle_is_other_version("bridge", "0.1.0"));
}

static void test_loader_argv(void **state)
{
	char *argv[] = { "/opt/cni/bin/skein", "x", "y", NULL };
	const char *out[CNI_LOADER_ARGC(3)];
	const char *want[] = { "L", "--library-path", "B", "--argv0", "/opt/cni/bin/skein", "P",
			       "x", "y", NULL };

	(void)state;
	assert_int_equal(cni_loader_argv(out, CNI_LOADER_ARGC(3), "L", "B", "P", 3, argv), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (want[i])
			assert_string_equal(out[i], want[i]);
		else
			assert_null(out[i]);
	}
	/* No argv[0] at all (execve allows it): the plugin gets a name. */
	assert_int_equal(cni_loader_argv(out, CNI_LOADER_ARGC(0), "L", "B", "P", 0, argv), 0);
	assert_string_equal(out[4], "skein");
	assert_string_equal(out[5], "P");
	assert_null(out[6]);
	assert_int_equal(cni_loader_argv(out, CNI_LOADER_ARGC(3) - 1, "L", "B", "P", 3, argv), -1);
}

static void test_error_json(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(cni_error_json(out, sizeof(out), 999, "no \"x\\y\"\n"), 0);
	assert_string_equal(out, "{\"cniVersion\":\"1.1.0\",\"code\":999,"
				 "\"msg\":\"no \\\"x\\\\y\\\"\\u000a\",\"details\":\"\"}\n");
	assert_int_equal(cni_error_json(out, 40, 999, "a message that does not fit"), -1);
}

/* The launcher answers in the plugin's latest version without linking it. */
static void test_error_version_is_the_plugins_latest(void **state)
{
	(void)state;
	assert_string_equal(CNI_BUNDLE_CNI_VERSION, cni_versions[CNI_VERSION_LATEST]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exe_dir),
		cmocka_unit_test(test_bundle_paths),
		cmocka_unit_test(test_other_versions),
		cmocka_unit_test(test_loader_argv),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_error_version_is_the_plugins_latest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
