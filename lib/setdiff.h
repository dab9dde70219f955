/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The difference between what the kernel has and what skein wants, for
 * any list of plain structs with an identity (key) and attributes: which
 * entries to delete, add, or replace in place. Pure; routes, rules and
 * VXLAN FDB entries all reconcile through it.
 */
#ifndef SKEIN_SETDIFF_H
#define SKEIN_SETDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum change_op { CHANGE_ADD, CHANGE_REPLACE, CHANGE_DELETE };

struct change {
	enum change_op op;
	size_t index;           /* into want (add, replace) or have (delete) */
};

struct setdiff_list {
	const void *items;
	size_t n, size;         /* count and element size */
};

struct setdiff_ops {
	const char *what;       /* "route", for messages */
	int (*key_cmp)(const void *a, const void *b);
	bool (*same)(const void *a, const void *b); /* attributes equal; NULL: all key */
};

/* Fills *changes (malloc'ed, free() it) with deletions first (in have's
 * order), then additions and replacements (in want's order). An entry of
 * have that matches a wanted key but differs is replaced. Fails (ENOMEM,
 * or two wanted entries with one key) with err set and *changes NULL. */
int setdiff(const struct setdiff_list *have, const struct setdiff_list *want,
	    const struct setdiff_ops *ops, struct change **changes, size_t *n_changes,
	    struct error *err);

/* Writes one change: delete `item` (from have) or add/replace it (from want). */
typedef int (*setdiff_write_fn)(void *ctx, enum change_op op, const void *item, struct error *err);

/* Runs write for every change; a failure does not stop the others (so one
 * bad entry never blocks the rest), and the first failure's message is
 * kept in err. Returns 0 or -1. */
int setdiff_apply(const struct change *changes, size_t n, const struct setdiff_list *have,
		  const struct setdiff_list *want, setdiff_write_fn write, void *ctx,
		  struct error *err);

#endif
