// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "scratch_dir.h"

/* Writes text to scratch_dir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	scratch_path(path, sizeof(path), name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

#define HEAD \
	"apiVersion: v1\nkind: Config\ncurrent-context: dev\n" \
	"contexts:\n- name: dev\n  context: {cluster: k, user: u, namespace: skein}\n"

static void test_yaml_files_relative_to_kubeconfig(void **state)
{
	const char *path = write_file("config",
		HEAD "clusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443/\n"
		"    certificate-authority: pki/ca.crt\n"
		"users:\n- name: u\n  user:\n    client-certificate: /etc/u.crt\n    client-key: u.key\n"
		"    token: abc.def\n");
	struct kube_config c;
	struct error err;
	char want[300];
	char *token;

	(void)state;
	assert_int_equal(kube_config_from_file(path, &c, &err), 0);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	snprintf(want, sizeof(want), "%s/pki/ca.crt", scratch_dir);
	assert_string_equal(c.ca_file, want);
	assert_string_equal(c.cert_file, "/etc/u.crt");
	snprintf(want, sizeof(want), "%s/u.key", scratch_dir);
	assert_string_equal(c.key_file, want);
	assert_string_equal(c.namespace, "skein");
	assert_false(c.insecure);
	assert_null(c.ca_pem);
	assert_int_equal(kube_config_token(&c, &token, &err), 0);
	assert_string_equal(token, "abc.def");
	free(token);
	kube_config_free(&c);
}

static void test_json_with_inline_data(void **state)
{
	/* "-----BEGIN X-----\n" and "key\n" in base64, as kubectl embeds them. */
	const char *path = write_file("config.json",
		"{\"apiVersion\":\"v1\",\"current-context\":\"dev\","
		"\"contexts\":[{\"name\":\"dev\",\"context\":{\"cluster\":\"k\",\"user\":\"u\"}}],"
		"\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":\"https://[fd00::1]:6443\","
		"\"certificate-authority-data\":\"LS0tLS1CRUdJTiBYLS0tLS0K\","
		"\"insecure-skip-tls-verify\":true}}],"
		"\"users\":[{\"name\":\"u\",\"user\":{\"client-certificate-data\":\"Y2VydAo=\","
		"\"client-key-data\":\"a2V5Cg==\"}}]}");
	struct kube_config c;
	struct error err;
	char *token;

	(void)state;
	assert_int_equal(kube_config_from_file(path, &c, &err), 0);
	assert_string_equal(c.server, "https://[fd00::1]:6443");
	assert_string_equal(c.ca_pem, "-----BEGIN X-----\n");
	assert_string_equal(c.cert_pem, "cert\n");
	assert_string_equal(c.key_pem, "key\n");
	assert_true(c.insecure);
	assert_string_equal(c.namespace, "default");
	assert_int_equal(kube_config_token(&c, &token, &err), 0);
	assert_null(token);
	kube_config_free(&c);
}

/* Bound service-account tokens rotate: each request reads the file anew. */
static void test_token_file_is_reread(void **state)
{
	const char *path = write_file("config-tf",
		HEAD "clusters:\n- name: k\n  cluster: {server: 'https://k:443'}\n"
		"users:\n- name: u\n  user: {tokenFile: tok}\n");
	struct kube_config c;
	struct error err;
	char *token;

	(void)state;
	assert_int_equal(kube_config_from_file(path, &c, &err), 0);
	write_file("tok", "first\n");
	assert_int_equal(kube_config_token(&c, &token, &err), 0);
	assert_string_equal(token, "first");
	free(token);
	write_file("tok", "second");
	assert_int_equal(kube_config_token(&c, &token, &err), 0);
	assert_string_equal(token, "second");
	free(token);
	write_file("tok", "\n");
	assert_int_equal(kube_config_token(&c, &token, &err), -1);
	assert_non_null(strstr(err.msg, "token"));
	assert_non_null(strstr(err.msg, "empty"));
	kube_config_free(&c);
}

static void test_in_cluster(void **state)
{
	struct kube_config c;
	struct error err;
	char *token;

	(void)state;
	write_file("token", "sa-token-1\n");
	write_file("namespace", "kube-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(scratch_dir, &c, &err), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_string_equal(c.namespace, "kube-system");
	assert_non_null(strstr(c.ca_file, "/ca.crt"));
	assert_int_equal(kube_config_token(&c, &token, &err), 0);
	assert_string_equal(token, "sa-token-1");
	free(token);
	write_file("token", "sa-token-2\n");
	assert_int_equal(kube_config_token(&c, &token, &err), 0);
	assert_string_equal(token, "sa-token-2");
	free(token);
	kube_config_free(&c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_in_cluster(scratch_dir, &c, &err), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	kube_config_free(&c);

	assert_int_equal(kube_config_in_cluster("/nonexistent-sa", &c, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent-sa/namespace"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_in_cluster(scratch_dir, &c, &err), -1);
	assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));
}

/* --kubeconfig wins over $KUBECONFIG, which is a list of which the first
 * file is read; without either, in-cluster. */
static void test_load_precedence(void **state)
{
	char a[256], list[600];
	struct kube_config c;
	struct error err;

	(void)state;
	snprintf(a, sizeof(a), "%s",
		 write_file("a", HEAD "clusters:\n- {name: k, cluster: {server: 'https://a:1'}}\n"
			    "users:\n- {name: u, user: {}}\n"));
	snprintf(list, sizeof(list), "%s:/nonexistent",
		 write_file("b", HEAD "clusters:\n- {name: k, cluster: {server: 'https://b:1'}}\n"
			    "users:\n- {name: u, user: {}}\n"));
	setenv("KUBECONFIG", list, 1);
	assert_int_equal(kube_config_load(a, &c, &err), 0);
	assert_string_equal(c.server, "https://a:1");
	kube_config_free(&c);
	assert_int_equal(kube_config_load(NULL, &c, &err), 0);
	assert_string_equal(c.server, "https://b:1");
	kube_config_free(&c);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_load(NULL, &c, &err), -1);
	assert_non_null(strstr(err.msg, "in-cluster"));
}

static void test_anonymous_context(void **state)
{
	const char *path = write_file("anon",
		"current-context: x\ncontexts:\n- {name: x, context: {cluster: k}}\n"
		"clusters:\n- {name: k, cluster: {server: 'http://127.0.0.1:8080'}}\n");
	struct kube_config c;
	struct error err;

	(void)state;
	assert_int_equal(kube_config_from_file(path, &c, &err), 0);
	assert_null(c.token);
	assert_null(c.cert_file);
	kube_config_free(&c);
}

#define CTX "current-context: dev\ncontexts:\n- {name: dev, context: {cluster: k, user: u}}\n"
#define USER "users:\n- {name: u, user: {token: t}}\n"
#define CLUSTER "clusters:\n- {name: k, cluster: {server: 'https://k:6443'}}\n"

static void test_malformed(void **state)
{
	/* Each error names the file, then the context and field at fault. */
	static const struct { const char *text, *want[3]; } bad[] = {
		{ "", { "empty" } },
		{ "a: [b\n", { "line 2" } },
		{ "a: b: c\n", { "line 1", "mapping values are not allowed" } },
		{ "- a\n- b\n", { "not a mapping" } },
		{ CLUSTER USER, { "current-context: missing" } },
		{ "current-context: prod\n" "contexts: []\n" CLUSTER USER,
		  { "context \"prod\"", "no entry named \"prod\"" } },
		{ "current-context: dev\ncontexts: {dev: 1}\n" CLUSTER USER, { "contexts: not a list" } },
		{ "current-context: dev\ncontexts:\n- {name: dev}\n" CLUSTER USER,
		  { "contexts[0] \"dev\"", "context: missing or not a mapping" } },
		{ "current-context: dev\ncontexts:\n- {name: dev, context: {user: u}}\n" CLUSTER USER,
		  { "context \"dev\"", "cluster: missing" } },
		{ CTX USER, { "context \"dev\"", "cluster \"k\"", "clusters: missing" } },
		{ CTX USER "clusters:\n- {name: other, cluster: {server: 'https://x'}}\n",
		  { "cluster \"k\"", "no entry named \"k\"" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {}}\n", { "cluster \"k\"", "server: missing" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {server: 'k8s:6443'}}\n",
		  { "cluster \"k\"", "server: \"k8s:6443\" is not an http(s) URL" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {server: {a: b}}}\n", { "server: not a string" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {server: 'https://k', certificate-authority-data: '!!notb64'}}\n",
		  { "cluster \"k\"", "certificate-authority-data: not valid base64" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {server: 'https://k', certificate-authority: ca, certificate-authority-data: Y2EK}}\n",
		  { "both certificate-authority and certificate-authority-data" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {server: 'https://k', certificate-authority: ''}}\n",
		  { "certificate-authority: empty path" } },
		{ CTX USER "clusters:\n- {name: k, cluster: {server: 'https://k', insecure-skip-tls-verify: maybe}}\n",
		  { "insecure-skip-tls-verify: \"maybe\" is not true or false" } },
		{ CTX CLUSTER, { "user \"u\"", "users: missing" } },
		{ CTX CLUSTER "users:\n- {name: v, user: {}}\n", { "user \"u\"", "no entry named \"u\"" } },
		{ CTX CLUSTER "users:\n- {name: u, user: {exec: {command: aws}}}\n",
		  { "user \"u\"", "exec and auth-provider credential plugins are not supported" } },
		{ CTX CLUSTER "users:\n- {name: u, user: {token: [a]}}\n", { "user \"u\"", "token: not a string" } },
		{ CTX CLUSTER "users:\n- {name: u, user: {client-certificate: u.crt}}\n",
		  { "user \"u\"", "needs a client key" } },
		{ CTX CLUSTER "users:\n- {name: u, user: {client-certificate-data: Y2VydAo=, client-key-data: '%%'}}\n",
		  { "user \"u\"", "client-key-data: not valid base64" } },
	};
	struct kube_config c;
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_file("bad", bad[i].text);

		if (kube_config_from_file(path, &c, &err) == 0)
			fail_msg("case %zu accepted", i);
		if (!strstr(err.msg, path))
			fail_msg("case %zu: \"%s\" does not name the file", i, err.msg);
		for (int w = 0; w < 3 && bad[i].want[w]; w++)
			if (!strstr(err.msg, bad[i].want[w]))
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].want[w]);
	}
	assert_int_equal(kube_config_from_file("/nonexistent/kubeconfig", &c, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/kubeconfig: No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_files_relative_to_kubeconfig),
		cmocka_unit_test(test_json_with_inline_data),
		cmocka_unit_test(test_token_file_is_reread),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_load_precedence),
		cmocka_unit_test(test_anonymous_context),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, scratch_dir_make, scratch_dir_remove);
}
