// SPDX-License-Identifier: GPL-2.0-or-later
/* Inputs the fuzzers (fuzz/fuzz_*.c) found to break a parser, each kept as
 * a case so the bug stays fixed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "key.h"

#define KEY_A "GOu4YmjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znjg="

/* fuzz_parse: libsodium 1.0.18 decoded "\xd9" as '/', so a second spelling
 * of a key was accepted. */
static void test_key_rejects_non_alphabet_bytes(void **state)
{
	static const char *const bad[] = {
		"GOu4\xd9mjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znjg=",
		"GOu4\xffmjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znjg=",
		"GOu4 mjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znjg=",
		"GOu4YmjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znjh=", /* unused bits set */
		"GOu4YmjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znj==",
	};
	struct wg_key key;

	(void)state;
	assert_int_equal(key_from_base64(KEY_A, &key), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(key_from_base64(bad[i], &key), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_rejects_non_alphabet_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
