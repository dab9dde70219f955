/* SPDX-License-Identifier: GPL-2.0-or-later */
/* For unit tests (after cmocka.h): what fn(arg) writes to stderr, as a
 * NUL-terminated string of at most len - 1 bytes. */
#ifndef SKEIN_TEST_CAPTURE_STDERR_H
#define SKEIN_TEST_CAPTURE_STDERR_H

#include <stdio.h>
#include <unistd.h>

static inline void capture_stderr(void (*fn)(void *), void *arg, char *out, size_t len)
{
	FILE *capture = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(capture);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
	fn(arg);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(capture);
	n = fread(out, 1, len - 1, capture);
	out[n] = '\0';
	fclose(capture);
}

#endif
