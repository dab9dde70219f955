// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <string.h>

static const struct {
	const char *name;
	enum cni_command command;
} commands[] = {
	{ "ADD", CNI_CMD_ADD }, { "DEL", CNI_CMD_DEL }, { "CHECK", CNI_CMD_CHECK },
	{ "STATUS", CNI_CMD_STATUS }, { "GC", CNI_CMD_GC }, { "VERSION", CNI_CMD_VERSION },
};

static int parse_command(const char *s, enum cni_command *out, struct error *err)
{
	if (!s || !*s)
		return error_set(err, "CNI_COMMAND is not set");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(s, commands[i].name) == 0) {
			*out = commands[i].command;
			return 0;
		}
	}
	return error_set(err, "CNI_COMMAND %s is not one of ADD, DEL, CHECK, STATUS, GC, VERSION", s);
}

static const char *required(char *(*lookup)(const char *), const char *name, struct error *err)
{
	const char *v = lookup(name);

	if (!v || !*v) {
		error_set(err, "%s is not set", name);
		return NULL;
	}
	return v;
}

/* "K=V;K2=V2": every item needs a key and an '='. */
static int check_args(const char *args, struct error *err)
{
	const char *item = args;

	while (item && *item) {
		const char *end = strchr(item, ';');
		const char *eq = strchr(item, '=');
		size_t len = end ? (size_t)(end - item) : strlen(item);

		if (!eq || eq >= item + len || eq == item)
			return error_set(err, "CNI_ARGS item %.*s is not KEY=VALUE", (int)len, item);
		item = end ? end + 1 : NULL;
	}
	return 0;
}

static int parse_attachment(char *(*lookup)(const char *), struct cni_env *env,
			    bool needs_netns, struct error *err)
{
	const char *id = required(lookup, "CNI_CONTAINERID", err);
	const char *ifname = id ? required(lookup, "CNI_IFNAME", err) : NULL;

	if (!ifname)
		return -1;
	if (ipam_key_set(&env->key, id, ifname, err) < 0)
		return error_prefix(err, "%s", ipam_check_container_id(id, NULL) < 0 ?
				    "CNI_CONTAINERID" : "CNI_IFNAME");
	env->netns = lookup("CNI_NETNS");
	if (env->netns && !*env->netns)
		env->netns = NULL;
	if (needs_netns && !env->netns)
		return error_set(err, "CNI_NETNS is not set");
	return 0;
}

int cni_env_parse(char *(*lookup)(const char *), struct cni_env *env, struct error *err)
{
	const char *args;

	memset(env, 0, sizeof(*env));
	if (parse_command(lookup("CNI_COMMAND"), &env->command, err) < 0)
		return CNI_ERR_ENV;
	if (env->command == CNI_CMD_VERSION || env->command == CNI_CMD_STATUS)
		return CNI_OK;
	env->path = required(lookup, "CNI_PATH", err);
	if (!env->path)
		return CNI_ERR_ENV;
	args = lookup("CNI_ARGS");
	if (args && check_args(args, err) < 0)
		return CNI_ERR_ENV;
	if (env->command == CNI_CMD_GC)
		return CNI_OK;
	if (parse_attachment(lookup, env, env->command != CNI_CMD_DEL, err) < 0)
		return CNI_ERR_ENV;
	return CNI_OK;
}
