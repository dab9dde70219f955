// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cniconf.h"

static char dir[] = "/tmp/skein-cniconf-XXXXXX";

static void parse(const char *s, struct cidr *c)
{
	assert_int_equal(cidr_parse(s, c), 0);
}

static void test_render_exact_shape(void **state)
{
	struct cidr pods[2];
	struct cniconf conf = { pods, 2, 1420, NULL, NULL };
	struct error err;
	char *text;

	(void)state;
	parse("10.244.1.7/24", &pods[0]); /* host bits are dropped */
	parse("fd00:244:1::/64", &pods[1]);
	text = cniconf_render(&conf, &err);
	assert_non_null(text);
	assert_string_equal(text,
		"{\n"
		"  \"cniVersion\": \"1.0.0\",\n"
		"  \"name\": \"skein\",\n"
		"  \"plugins\": [\n"
		"    {\n"
		"      \"type\": \"skein\",\n"
		"      \"podCIDRs\": [\n"
		"        \"10.244.1.0/24\",\n"
		"        \"fd00:244:1::/64\"\n"
		"      ],\n"
		"      \"mtu\": 1420,\n"
		"      \"dataDir\": \"/var/lib/cni/skein\"\n"
		"    },\n"
		"    {\n"
		"      \"type\": \"portmap\",\n"
		"      \"capabilities\": {\n"
		"        \"portMappings\": true\n"
		"      },\n"
		"      \"snat\": true\n"
		"    }\n"
		"  ]\n"
		"}");
	free(text);
}

/* --cni-version: the list carries the version asked for, the rest as is. */
static void test_render_chosen_version(void **state)
{
	struct cidr pod;
	struct cniconf conf = { &pod, 1, 1420, "/d", "1.1.0" };
	struct error err;
	json_t *root;
	char *text;

	(void)state;
	parse("10.244.1.0/24", &pod);
	text = cniconf_render(&conf, &err);
	assert_non_null(text);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "cniVersion")), "1.1.0");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(root, "plugins"), 0), "dataDir")),
			    "/d");
	json_decref(root);
	free(text);
}

static void test_render_rejects_incomplete(void **state)
{
	struct cidr pod;
	struct cniconf no_cidrs = { NULL, 0, 1420, NULL, NULL }, no_mtu = { &pod, 1, 0, NULL, NULL };
	struct error err;

	(void)state;
	parse("10.244.1.0/24", &pod);
	assert_null(cniconf_render(&no_cidrs, &err));
	assert_non_null(strstr(err.msg, "no pod CIDRs"));
	assert_null(cniconf_render(&no_mtu, &err));
	assert_non_null(strstr(err.msg, "MTU"));
}

static size_t entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_write_only_on_change(void **state)
{
	struct cidr pod;
	struct cniconf conf = { &pod, 1, 1420, "/data", NULL };
	char path[128];
	struct error err;
	struct stat st;
	bool written;

	(void)state;
	parse("10.244.1.0/24", &pod);
	snprintf(path, sizeof(path), "%s/net.d/10-skein.conflist", dir); /* net.d is created */
	assert_int_equal(cniconf_write(path, &conf, &written, &err), 0);
	assert_true(written);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(cniconf_write(path, &conf, &written, &err), 0);
	assert_false(written);
	conf.mtu = 1380;
	assert_int_equal(cniconf_write(path, &conf, &written, &err), 0);
	assert_true(written);
	snprintf(path, sizeof(path), "%s/net.d", dir);
	assert_int_equal(entries(path), 1); /* no temporary file left behind */
	snprintf(path, sizeof(path), "%s/net.d/10-skein.conflist", dir);
	assert_int_equal(cniconf_remove(path, &err), 0);
	assert_int_equal(cniconf_remove(path, &err), 0);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_write_names_failure(void **state)
{
	struct cidr pod;
	struct cniconf conf = { &pod, 1, 1420, NULL, NULL };
	char file[128], path[160];
	struct error err;
	FILE *f;

	(void)state;
	parse("10.244.1.0/24", &pod);
	snprintf(file, sizeof(file), "%s/plain-file", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sub/x.conflist", file); /* a file is in the way */
	assert_int_equal(cniconf_write(path, &conf, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "plain-file"));
	unlink(file);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/net.d", dir);
	rmdir(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exact_shape),
		cmocka_unit_test(test_render_chosen_version),
		cmocka_unit_test(test_render_rejects_incomplete),
		cmocka_unit_test(test_write_only_on_change),
		cmocka_unit_test(test_write_names_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
