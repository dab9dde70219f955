// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mtu.h"

static void test_mtu_for_underlay(void **state)
{
	static const struct { uint32_t underlay; int ret; uint32_t mtu; } cases[] = {
		{ 1500, 0, 1420 }, { 9001, 0, 8921 }, { 1460, 0, 1380 },
		{ 656, 0, 576 }, { 655, -1, 0 }, { 0, -1, 0 },
	};
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t mtu = 0;

		assert_int_equal(mtu_for_underlay(cases[i].underlay, &mtu, &err), cases[i].ret);
		if (cases[i].ret == 0)
			assert_int_equal(mtu, cases[i].mtu);
		else
			assert_non_null(strstr(err.msg, "too small"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mtu_for_underlay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
