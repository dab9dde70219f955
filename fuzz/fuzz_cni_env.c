// SPDX-License-Identifier: GPL-2.0-or-later
/* The CNI_* environment the runtime hands the plugin: the input is lines
 * "NAME=VALUE", looked up the way getenv would. An accepted attachment has
 * a container ID and interface name that are safe as file names. */
#include "../cni-plugin/cni.h"
#include "fuzz.h"

#define MAX_VARS 16

static char *names[MAX_VARS], *values[MAX_VARS];
static size_t n_vars;

static char *lookup(const char *name)
{
	for (size_t i = 0; i < n_vars; i++)
		if (!strcmp(names[i], name))
			return values[i];
	return NULL;
}

static void split_lines(char *text)
{
	char *save = NULL;

	n_vars = 0;
	for (char *line = strtok_r(text, "\n", &save); line && n_vars < MAX_VARS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		names[n_vars] = line;
		values[n_vars++] = eq + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct cni_env env;
	struct error err;

	split_lines(text);
	if (cni_env_parse(lookup, &env, &err) == CNI_OK &&
	    (env.command == CNI_CMD_ADD || env.command == CNI_CMD_DEL ||
	     env.command == CNI_CMD_CHECK)) {
		const char *id = env.key.container_id, *ifname = env.key.ifname;

		FUZZ_CHECK(ipam_check_container_id(id, NULL) == 0);
		FUZZ_CHECK(ipam_check_ifname(ifname, NULL) == 0);
		FUZZ_CHECK(!strchr(id, '/') && !strchr(ifname, '/'));
		FUZZ_CHECK(strcmp(id, "..") && strcmp(ifname, ".."));
	}
	free(text);
	return 0;
}
