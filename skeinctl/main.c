// SPDX-License-Identifier: GPL-2.0-or-later
/* skeinctl: the operator's CLI. Each command lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "skeinctl.h"
#include "version.h"

static const char usage[] =
	"Usage: skeinctl COMMAND [options]\n"
	"Inspects and joins a skein cluster.\n"
	"\n"
	"Commands:\n"
	"  graph                  the topology as Graphviz DOT\n"
	"  showconf node|peer NAME  a WireGuard configuration (wg-quick format)\n"
	"  status                 the local WireGuard device, each peer named (like wg show)\n"
	"  connect PEER           be external peer PEER on this host until SIGTERM\n"
	"  version                print the version\n"
	"\n"
	"`skeinctl COMMAND --help` lists a command's flags.\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "graph", cmd_graph },
	{ "showconf", cmd_showconf },
	{ "status", cmd_status },
	{ "connect", cmd_connect },
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log_init("skeinctl", LOG_LVL_WARN); /* library warnings, e.g. an endpoint that does not resolve */
	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("skeinctl %s\n", SKEIN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "skeinctl: unknown command \"%s\" (see skeinctl --help)\n", cmd);
	return 2;
}
