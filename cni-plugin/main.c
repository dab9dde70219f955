// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bin/skein: the CNI plugin. Reads the CNI environment and the network
 * config, runs one verb, and prints the result or the spec's error object
 * on stdout; diagnostics go to stderr or the config's logFile.
 */
#include <stdlib.h>

#include "cni.h"
#include "log.h"

static int run_verb(const struct cni_env *env, const struct cni_conf *conf,
		    json_t **result, struct error *err)
{
	switch (env->command) {
	case CNI_CMD_ADD:
		return cni_add(env, conf, result, err);
	case CNI_CMD_DEL:
		return cni_del(env, conf, err);
	case CNI_CMD_CHECK:
		return cni_check(env, conf, err);
	case CNI_CMD_STATUS:
		return cni_status(conf, err);
	case CNI_CMD_GC:
		return cni_gc(conf, err);
	case CNI_CMD_VERSION:
		*result = cni_version_info();
		return CNI_OK;
	}
	return CNI_ERR_ENV;
}

static int read_conf(struct cni_conf *conf, struct error *err)
{
	char *text = cni_read_stdin(err);
	int code;

	if (!text)
		return CNI_ERR_IO;
	code = cni_conf_parse(text, conf, err);
	free(text);
	if (code == CNI_OK && cni_log_to(conf->log_file, err) < 0)
		code = CNI_ERR_CONFIG;
	return code;
}

int main(void)
{
	struct error err = { "" };
	struct cni_conf conf = { .version = CNI_VERSION_LATEST };
	struct cni_env env;
	json_t *result = NULL;
	int code;

	log_init("skein", LOG_LVL_INFO);
	code = cni_env_parse(getenv, &env, &err);
	if (code == CNI_OK && env.command != CNI_CMD_VERSION)
		code = read_conf(&conf, &err);
	if (code == CNI_OK)
		code = run_verb(&env, &conf, &result, &err);
	if (code == CNI_OK && result && cni_print_json(result) < 0)
		code = CNI_ERR_IO;
	if (code != CNI_OK) {
		log_error("%s", err.msg);
		cni_print_error(conf.version, code, err.msg);
	}
	json_decref(result);
	cni_conf_free(&conf);
	return code == CNI_OK ? 0 : 1;
}
