// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The launcher installed as <cni-bin-dir>/skein: linked statically, so it
 * runs on any host. It runs the real plugin of its own version through the
 * dynamic loader bundled next to it (lib/cni_bundle.h), passing argv,
 * environment, stdin and stdout through: the CNI protocol lives there. When
 * the bundle is missing it answers with the spec's error object naming the
 * missing path, as the plugin would.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "cni_bundle.h"
#include "cni_loader.h" /* CNI_LOADER_NAME, generated from bin/skein's PT_INTERP */
#include "fileio.h"
#include "version.h"

extern char **environ;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[PATH_MAX + 128], json[2 * sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "skein: %s\n", msg);
	if (cni_error_json(json, sizeof(json), CNI_BUNDLE_ERR_CODE, msg) < 0 ||
	    write_all(STDOUT_FILENO, json, strlen(json)) < 0)
		fputs("skein: cannot print the CNI error object\n", stderr);
	return 1;
}

/* Where this executable is. /proc/self/exe resolves symlinks; where /proc
 * is not mounted (a chroot), the path the kernel executed (AT_EXECFN). */
static int find_own_dir(char *dir, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe));
	const char *path = exe;

	if (n > 0 && (size_t)n < sizeof(exe)) {
		exe[n] = '\0';
	} else {
		path = (const char *)getauxval(AT_EXECFN);
		if (!path)
			return fail("cannot find the launcher's own path: /proc/self/exe: %s",
				    strerror(errno));
	}
	if (cni_exe_dir(dir, size, path) < 0)
		return fail("the launcher's path is too long: %s", path);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], bundle[PATH_MAX], loader[PATH_MAX], plugin[PATH_MAX];
	const char **args;

	if (find_own_dir(dir, sizeof(dir)) != 0)
		return 1;
	if (cni_bundle_name(name, sizeof(name), SKEIN_VERSION) < 0 ||
	    cni_path_join(bundle, sizeof(bundle), dir, name) < 0 ||
	    cni_path_join(loader, sizeof(loader), bundle, CNI_LOADER_NAME) < 0 ||
	    cni_path_join(plugin, sizeof(plugin), bundle, CNI_BUNDLE_PLUGIN) < 0)
		return fail("the bundle's paths are too long: %s", dir);
	/* The loader would report a missing plugin in its own words, not as a
	 * CNI error: check first. */
	if (access(plugin, R_OK) < 0)
		return fail("cannot run the plugin %s: %s", plugin, strerror(errno));
	args = calloc(CNI_LOADER_ARGC(argc), sizeof(*args));
	if (!args || cni_loader_argv(args, CNI_LOADER_ARGC(argc), loader, bundle, plugin,
				     argc, argv) < 0)
		return fail("out of memory");
	execve(loader, (char *const *)args, environ);
	return fail("cannot run the plugin's loader %s: %s", loader, strerror(errno));
}
