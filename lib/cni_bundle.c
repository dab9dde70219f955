// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni_bundle.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* snprintf that says -1 when the text was cut. */
static int format_fits(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int format_fits(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int cni_path_join(char *out, size_t size, const char *dir, const char *name)
{
	return format_fits(out, size, "%s/%s", dir, name);
}

int cni_exe_dir(char *out, size_t size, const char *exe)
{
	const char *slash = strrchr(exe, '/');

	if (!slash)
		return format_fits(out, size, ".");
	if (slash == exe)
		return format_fits(out, size, "/");
	return format_fits(out, size, "%.*s", (int)(slash - exe), exe);
}

int cni_bundle_name(char *out, size_t size, const char *version)
{
	return format_fits(out, size, CNI_BUNDLE_PREFIX "%s", version);
}

bool cni_bundle_is_other_version(const char *name, const char *version)
{
	size_t len = strlen(CNI_BUNDLE_PREFIX);

	return strncmp(name, CNI_BUNDLE_PREFIX, len) == 0 &&
	       isdigit((unsigned char)name[len]) && strcmp(name + len, version) != 0;
}

int cni_loader_argv(const char **out, size_t n, const char *loader, const char *bundle,
		    const char *plugin, int argc, char *const argv[])
{
	size_t i = 0;

	if (argc < 0 || n < CNI_LOADER_ARGC(argc))
		return -1;
	out[i++] = loader;
	out[i++] = "--library-path";
	out[i++] = bundle;
	out[i++] = "--argv0";
	out[i++] = argc > 0 ? argv[0] : CNI_BUNDLE_PLUGIN;
	out[i++] = plugin;
	for (int a = 1; a < argc; a++)
		out[i++] = argv[a];
	out[i] = NULL;
	return 0;
}

/* Appends c to out (at *len), escaped as a JSON string character. */
static int append_json_char(char *out, size_t size, size_t *len, unsigned char c)
{
	char esc[8];
	const char *s = esc;

	if (c == '"' || c == '\\')
		snprintf(esc, sizeof(esc), "\\%c", c);
	else if (c < 0x20)
		snprintf(esc, sizeof(esc), "\\u%04x", c);
	else
		snprintf(esc, sizeof(esc), "%c", c);
	for (; *s; s++) {
		if (*len + 1 >= size)
			return -1;
		out[(*len)++] = *s;
	}
	out[*len] = '\0';
	return 0;
}

int cni_error_json(char *out, size_t size, int code, const char *msg)
{
	size_t len;

	if (format_fits(out, size, "{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"",
			CNI_BUNDLE_CNI_VERSION, code) < 0)
		return -1;
	len = strlen(out);
	for (; *msg; msg++) {
		if (append_json_char(out, size, &len, (unsigned char)*msg) < 0)
			return -1;
	}
	return format_fits(out + len, size - len, "\",\"details\":\"\"}\n");
}
