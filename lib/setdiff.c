// SPDX-License-Identifier: GPL-2.0-or-later
#include "setdiff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One list with the key order it is sorted by. */
struct keyed {
	const struct setdiff_list *l;
	const struct setdiff_ops *ops;
};

static const void *item(const struct setdiff_list *l, size_t i)
{
	return (const char *)l->items + i * l->size;
}

static int index_cmp(const void *a, const void *b, void *ctx)
{
	const struct keyed *k = ctx;

	return k->ops->key_cmp(item(k->l, *(const size_t *)a), item(k->l, *(const size_t *)b));
}

static size_t *sorted_indexes(const struct setdiff_list *l, const struct setdiff_ops *ops)
{
	struct keyed k = { l, ops };
	size_t *idx = malloc((l->n ? l->n : 1) * sizeof(*idx));

	if (!idx)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		idx[i] = i;
	qsort_r(idx, l->n, sizeof(*idx), index_cmp, &k);
	return idx;
}

/* Index into have of an entry with key's identity, or -1. */
static long find_key(const struct setdiff_list *have, const struct setdiff_ops *ops,
		     const size_t *sorted, const void *key)
{
	size_t lo = 0, hi = have->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ops->key_cmp(item(have, sorted[mid]), key);

		if (!c)
			return (long)sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static long first_duplicate(const struct setdiff_list *l, const struct setdiff_ops *ops,
			    const size_t *sorted)
{
	for (size_t i = 1; i < l->n; i++)
		if (!ops->key_cmp(item(l, sorted[i - 1]), item(l, sorted[i])))
			return (long)sorted[i];
	return -1;
}

/* out has room for have->n + want->n changes. A duplicate in have keeps
 * the one copy find_key matched; the others are deleted. */
static void diff_sorted(const struct setdiff_list *have, const struct setdiff_list *want,
			const struct setdiff_ops *ops, const size_t *hs, bool *matched,
			struct change *out, size_t *n_out)
{
	size_t n = 0;

	for (size_t i = 0; i < want->n; i++) {
		long h = find_key(have, ops, hs, item(want, i));

		if (h >= 0)
			matched[h] = true;
		if (h >= 0 && (!ops->same || ops->same(item(have, (size_t)h), item(want, i))))
			continue;
		out[have->n + n++] = (struct change){ h < 0 ? CHANGE_ADD : CHANGE_REPLACE, i };
	}
	*n_out = 0;
	for (size_t i = 0; i < have->n; i++)
		if (!matched[i])
			out[(*n_out)++] = (struct change){ CHANGE_DELETE, i };
	memmove(out + *n_out, out + have->n, n * sizeof(*out));
	*n_out += n;
}

int setdiff(const struct setdiff_list *have, const struct setdiff_list *want,
	    const struct setdiff_ops *ops, struct change **changes, size_t *n_changes,
	    struct error *err)
{
	struct change *out = malloc((have->n + want->n + 1) * sizeof(*out));
	size_t *hs = sorted_indexes(have, ops), *ws = sorted_indexes(want, ops);
	bool *matched = calloc(have->n ? have->n : 1, sizeof(*matched));
	long dup = -1;
	int ret = -1;

	*changes = NULL;
	*n_changes = 0;
	if (!out || !hs || !ws || !matched)
		error_set(err, "%s diff: out of memory", ops->what);
	else if ((dup = first_duplicate(want, ops, ws)) >= 0)
		error_set(err, "%s diff: wanted %s #%ld has the identity of another", ops->what,
			  ops->what, dup);
	else
		ret = 0;
	if (ret == 0) {
		diff_sorted(have, want, ops, hs, matched, out, n_changes);
		*changes = out;
	} else {
		free(out);
	}
	free(hs);
	free(ws);
	free(matched);
	return ret;
}

int setdiff_apply(const struct change *changes, size_t n, const struct setdiff_list *have,
		  const struct setdiff_list *want, setdiff_write_fn write, void *ctx,
		  struct error *err)
{
	struct error one;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		const struct setdiff_list *from = changes[i].op == CHANGE_DELETE ? have : want;

		if (write(ctx, changes[i].op, item(from, changes[i].index), &one) < 0 && !ret) {
			ret = -1;
			*err = one;
		}
	}
	return ret;
}
