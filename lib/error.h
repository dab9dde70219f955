/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An error message buffer passed down the call chain. The function that
 * fails says what failed; each caller on the way up may prefix context, so
 * the final message reads "node a: pod CIDR: bad prefix length 33".
 */
#ifndef SKEIN_ERROR_H
#define SKEIN_ERROR_H

struct error {
	char msg[512];
};

/* Sets the message and returns -1, so callers can `return error_set(...)`. */
int error_set(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prepends "context: " to the message; returns -1. */
int error_prefix(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
