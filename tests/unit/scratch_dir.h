/* SPDX-License-Identifier: GPL-2.0-or-later */
/* For unit tests (after cmocka.h): one scratch directory per test group,
 * made by scratch_dir_make (a group setup) and removed with everything in
 * it by scratch_dir_remove (a group teardown). */
#ifndef SKEIN_TEST_SCRATCH_DIR_H
#define SKEIN_TEST_SCRATCH_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char scratch_dir[64];

static inline int scratch_dir_make(void **state)
{
	(void)state;
	snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/skein-test-XXXXXX");
	return mkdtemp(scratch_dir) ? 0 : -1;
}

static inline int scratch_unlink(const char *path, const struct stat *st, int type,
				 struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static inline int scratch_dir_remove(void **state)
{
	(void)state;
	return nftw(scratch_dir, scratch_unlink, 16, FTW_DEPTH | FTW_PHYS);
}

/* scratch_dir/name in buf, which it returns. */
static inline const char *scratch_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", scratch_dir, name);
	return buf;
}

#endif
