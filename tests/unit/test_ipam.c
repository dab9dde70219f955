// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ipam.h"

static struct cidr net(const char *s)
{
	struct cidr c;

	assert_int_equal(cidr_parse(s, &c), 0);
	return c;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a = { 0 };

	if (s)
		assert_int_equal(ip_parse(s, &a), 0);
	return a;
}

/* ---- the pure allocator ---- */

static void test_pick_table(void **state)
{
	static const struct {
		const char *range, *last, *used[4], *want;
	} cases[] = {
		{ "10.0.0.0/24", NULL, { NULL }, "10.0.0.2" },           /* skips net + gw */
		{ "10.0.0.0/24", "10.0.0.7", { NULL }, "10.0.0.8" },     /* round robin */
		{ "10.0.0.0/24", "10.0.0.253", { NULL }, "10.0.0.254" },
		{ "10.0.0.0/24", "10.0.0.254", { NULL }, "10.0.0.2" },   /* no broadcast; wraps */
		{ "10.0.0.0/24", "10.0.0.2", { "10.0.0.3", "10.0.0.4" }, "10.0.0.5" },
		{ "10.0.0.0/24", "10.9.9.9", { NULL }, "10.0.0.2" },     /* foreign cursor */
		{ "10.0.0.0/30", NULL, { NULL }, "10.0.0.2" },           /* .0 net .1 gw .3 bcast */
		{ "10.0.0.0/30", NULL, { "10.0.0.2" }, NULL },           /* full */
		{ "10.0.0.0/29", NULL, { "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5" }, "10.0.0.6" },
		{ "10.0.0.0/29", "10.0.0.6", { "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5" }, "10.0.0.6" },
		{ "fd00::/64", NULL, { NULL }, "fd00::2" },
		{ "fd00::/126", "fd00::2", { NULL }, "fd00::3" },        /* IPv6 has no broadcast */
		{ "fd00::/126", "fd00::3", { "fd00::2" }, "fd00::3" },
		{ "fd00::/126", NULL, { "fd00::2", "fd00::3" }, NULL },  /* full */
		{ "fd00::/64", "fd00::ffff:ffff:ffff:fffd", { NULL }, "fd00::ffff:ffff:ffff:fffe" },
		/* Sizes saturate at 2^64 - 1: a /64's very last address is left out. */
		{ "fd00::/64", "fd00::ffff:ffff:ffff:fffe", { NULL }, "fd00::2" },
	};
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr r = net(cases[i].range);
		struct ip_addr last = ip(cases[i].last), used[4], out;
		size_t n = 0;
		int ret;

		while (n < 4 && cases[i].used[n]) {
			used[n] = ip(cases[i].used[n]);
			n++;
		}
		ret = ipam_pick(&r, &last, used, n, &out);
		if (!cases[i].want) {
			assert_int_equal(ret, -1);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_string_equal(ip_format(&out, buf), cases[i].want);
	}
}

static void test_pick_tiny_ranges_have_nothing(void **state)
{
	static const char *const tiny[] = { "10.0.0.0/31", "10.0.0.0/32", "fd00::/127", "fd00::/128" };
	struct ip_addr none = { 0 }, out;

	(void)state;
	for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
		struct cidr r = net(tiny[i]);

		assert_int_equal(ipam_pick(&r, &none, NULL, 0, &out), -1);
	}
}

static void test_assignable(void **state)
{
	static const struct { const char *range, *ip; bool ok; } cases[] = {
		{ "10.0.0.0/24", "10.0.0.0", false }, { "10.0.0.0/24", "10.0.0.1", false },
		{ "10.0.0.0/24", "10.0.0.2", true }, { "10.0.0.0/24", "10.0.0.254", true },
		{ "10.0.0.0/24", "10.0.0.255", false }, { "10.0.0.0/24", "10.0.1.2", false },
		{ "10.0.0.0/24", "fd00::2", false }, { "fd00::/64", "fd00::1", false },
		{ "fd00::/64", "fd00::ffff:ffff:ffff:fffe", true },
		{ "fd00::/64", "fd00::ffff:ffff:ffff:ffff", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr r = net(cases[i].range);
		struct ip_addr a = ip(cases[i].ip);

		assert_int_equal(ipam_assignable(&r, &a), cases[i].ok);
	}
}

/* ---- names ---- */

static void test_check_container_id(void **state)
{
	static const char *const good[] = { "a", "0abc", "abc_def.1-2", "ABC" };
	static const char *const bad[] = { "", "_a", ".a", "-a", "a/b", "../x", "a b", "a:b",
					   "a|b", "a\nb" };
	char longid[IPAM_CONTAINER_ID_MAX + 2];
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(ipam_check_container_id(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipam_check_container_id(bad[i], &err), -1);
		assert_non_null(strstr(err.msg, "container ID"));
	}
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(ipam_check_container_id(longid, &err), -1);
	assert_non_null(strstr(err.msg, "longer"));
}

static void test_check_ifname(void **state)
{
	static const char *const good[] = { "eth0", "a", "net1.100", "x-y_z", "123456789012345" };
	static const char *const bad[] = { "", ".", "..", "a/b", "a:b", "a b", "a\tb",
					   "1234567890123456" };
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(ipam_check_ifname(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipam_check_ifname(bad[i], &err), -1);
		assert_non_null(strstr(err.msg, "interface name"));
	}
}

static void test_record_roundtrip(void **state)
{
	struct ipam_alloc a = { .n_ips = 2 }, b;
	char name[NAME_MAX + 1];

	(void)state;
	assert_int_equal(ipam_key_set(&a.key, "c0ffee", "eth0", NULL), 0);
	a.ips[0] = ip("10.244.1.5");
	a.ips[1] = ip("fd00:10:244:1::5");
	assert_int_equal(ipam_record_name(&a, name, sizeof(name)), 0);
	assert_string_equal(name, "10.244.1.5,fd00:10:244:1::5|c0ffee|eth0");
	assert_int_equal(ipam_record_parse(name, &b), 0);
	assert_string_equal(b.key.container_id, "c0ffee");
	assert_string_equal(b.key.ifname, "eth0");
	assert_int_equal(b.n_ips, 2);
	assert_true(ip_equal(&b.ips[1], &a.ips[1]));
}

static void test_record_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"lock", "last-10.0.0.0_24", "10.0.0.2|abc", "|abc|eth0", "10.0.0.2||eth0",
		"10.0.0.2|abc|", "bogus|abc|eth0", "10.0.0.2|../x|eth0", "10.0.0.2|abc|a/b",
		"10.0.0.2,10.0.0.3,10.0.0.4|abc|eth0",
	};
	struct ipam_alloc a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ipam_record_parse(bad[i], &a), -1);
}

/* ---- the store ---- */

struct fixture {
	char dir[64];
	struct cidr ranges[2];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/skein-ipam-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->ranges[0] = net("10.244.1.0/29");
	f->ranges[1] = net("fd00:10:244:1::/64");
	*state = f;
	return 0;
}

static int rm_entry(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return unlink(path) == 0 || rmdir(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(sub, sizeof(sub), "%s/net", f->dir);
	d = opendir(sub);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_entry(sub, de->d_name);
	if (d)
		closedir(d);
	d = opendir(f->dir);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_entry(f->dir, de->d_name);
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct ipam_key key(const char *id, const char *ifname)
{
	struct ipam_key k;

	assert_int_equal(ipam_key_set(&k, id, ifname, NULL), 0);
	return k;
}

/* Returns what ipam_allocate returned: 0 new, 1 already held. */
static int alloc_one(struct fixture *f, const char *id, size_t n_ranges, struct ipam_alloc *out)
{
	struct ipam_store s;
	struct ipam_key k = key(id, "eth0");
	struct error err;
	int ret;

	assert_int_equal(ipam_store_open(&s, f->dir, "net", &err), 0);
	ret = ipam_allocate(&s, f->ranges, n_ranges, &k, out, &err);
	assert_true(ret == 0 || ret == 1);
	ipam_store_close(&s);
	return ret;
}

static void release_one(struct fixture *f, const char *id, bool want_released)
{
	struct ipam_store s;
	struct ipam_key k = key(id, "eth0");
	struct error err;
	bool released;

	assert_int_equal(ipam_store_open(&s, f->dir, "net", &err), 0);
	assert_int_equal(ipam_release(&s, &k, &released, &err), 0);
	assert_int_equal(released, want_released);
	ipam_store_close(&s);
}

static void test_store_allocates_distinct_dual_stack(void **state)
{
	struct fixture *f = *state;
	struct ipam_alloc a, b, again;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(alloc_one(f, "a", 2, &a), 0);
	assert_int_equal(alloc_one(f, "b", 2, &b), 0);
	assert_int_equal(a.n_ips, 2);
	assert_string_equal(ip_format(&a.ips[0], buf), "10.244.1.2");
	assert_string_equal(ip_format(&a.ips[1], buf), "fd00:10:244:1::2");
	assert_string_equal(ip_format(&b.ips[0], buf), "10.244.1.3");
	/* A retried ADD gets the same addresses. */
	assert_int_equal(alloc_one(f, "a", 2, &again), 1);
	assert_true(ip_equal(&again.ips[0], &a.ips[0]));
}

static void test_store_no_immediate_reuse_and_full(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = { "a", "b", "c", "d", "e" };
	struct ipam_alloc x, y;
	struct ipam_store s;
	struct ipam_key k = key("f", "eth0");
	struct error err;
	char buf[INET6_ADDRSTRLEN];

	/* /29: .2 .. .6 are assignable. */
	for (size_t i = 0; i < 5; i++)
		alloc_one(f, ids[i], 1, &x);
	assert_string_equal(ip_format(&x.ips[0], buf), "10.244.1.6");
	assert_int_equal(ipam_store_open(&s, f->dir, "net", &err), 0);
	assert_int_equal(ipam_allocate(&s, f->ranges, 1, &k, &y, &err), -1);
	assert_non_null(strstr(err.msg, "no free address"));
	ipam_store_close(&s);
	release_one(f, "b", true);  /* frees .3 */
	release_one(f, "b", false); /* idempotent */
	release_one(f, "c", true);  /* frees .4 */
	alloc_one(f, "f", 1, &y);   /* after the cursor (.6): wraps to .3 */
	assert_string_equal(ip_format(&y.ips[0], buf), "10.244.1.3");
	alloc_one(f, "g", 1, &y);
	assert_string_equal(ip_format(&y.ips[0], buf), "10.244.1.4");
}

static void test_store_released_not_reused_first(void **state)
{
	struct fixture *f = *state;
	struct ipam_alloc a, b;
	char buf[INET6_ADDRSTRLEN];

	alloc_one(f, "a", 1, &a);   /* .2 */
	release_one(f, "a", true);
	alloc_one(f, "b", 1, &b);   /* .3, not the just released .2 */
	assert_string_equal(ip_format(&b.ips[0], buf), "10.244.1.3");
}

static void test_store_gc(void **state)
{
	struct fixture *f = *state;
	struct ipam_alloc a;
	struct ipam_store s;
	struct ipam_key valid[1] = { key("b", "eth0") };
	struct ipam_alloc *all;
	size_t n, released;
	struct error err;

	alloc_one(f, "a", 2, &a);
	alloc_one(f, "b", 2, &a);
	alloc_one(f, "c", 2, &a);
	assert_int_equal(ipam_store_open(&s, f->dir, "net", &err), 0);
	assert_int_equal(ipam_gc(&s, valid, 1, &released, &err), 0);
	assert_int_equal(released, 2);
	assert_int_equal(ipam_store_list(&s, &all, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].key.container_id, "b");
	free(all);
	ipam_store_close(&s);
}

static void test_store_modes_and_symlinks(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], target[PATH_MAX];
	struct ipam_store s;
	struct ipam_alloc a;
	struct error err;
	struct stat st;

	alloc_one(f, "a", 1, &a);
	snprintf(path, sizeof(path), "%s/net", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/net/10.244.1.2|a|eth0", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A network directory that is a symlink is refused. */
	snprintf(target, sizeof(target), "%s/net", f->dir);
	snprintf(path, sizeof(path), "%s/evil", f->dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ipam_store_open(&s, f->dir, "evil", &err), -1);
	assert_non_null(strstr(err.msg, "evil"));
	assert_int_equal(ipam_store_open(&s, "relative/dir", "net", &err), -1);
	assert_non_null(strstr(err.msg, "absolute"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_table),
		cmocka_unit_test(test_pick_tiny_ranges_have_nothing),
		cmocka_unit_test(test_assignable),
		cmocka_unit_test(test_check_container_id),
		cmocka_unit_test(test_check_ifname),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_parse_rejects),
		cmocka_unit_test_setup_teardown(test_store_allocates_distinct_dual_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_no_immediate_reuse_and_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_released_not_reused_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_modes_and_symlinks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
