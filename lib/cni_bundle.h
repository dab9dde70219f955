/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CNI plugin as installed in a CNI bin dir (docs/cni.md#on-the-host):
 *
 *     DIR/skein                 the launcher, linked statically
 *     DIR/skein-VERSION/skein   the real plugin
 *     DIR/skein-VERSION/...     its dynamic loader and every library it links
 *
 * The launcher runs the plugin through the bundled loader, so the plugin
 * never depends on the host's libraries. These helpers build the paths and
 * names both the launcher and the installer use; they only format strings,
 * and return -1 when the result would not fit in size bytes.
 */
#ifndef SKEIN_CNI_BUNDLE_H
#define SKEIN_CNI_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>

#define CNI_BUNDLE_PLUGIN "skein"        /* the launcher's and the plugin's file name */
#define CNI_BUNDLE_PREFIX "skein-"       /* a bundle directory is this + version */
/* The error code the launcher answers with when it cannot run the plugin
 * (the spec's codes 1-99 name other failures). */
#define CNI_BUNDLE_ERR_CODE 999
/* The cniVersion of the launcher's error object: it does not read the
 * config, so it answers in the latest version the plugin supports
 * (tests/unit/test_cni_bundle.c holds it to the plugin's list). */
#define CNI_BUNDLE_CNI_VERSION "1.1.0"

/* DIR/NAME. */
int cni_path_join(char *out, size_t size, const char *dir, const char *name);
/* The directory of an executable's path: what precedes its last '/' ("/"
 * for "/x", "." without a '/'). Works on /proc/self/exe's "PATH (deleted)"
 * too, which it reads after the launcher was replaced. */
int cni_exe_dir(char *out, size_t size, const char *exe);
/* The bundle directory's name: "skein-" VERSION. */
int cni_bundle_name(char *out, size_t size, const char *version);
/* Whether a CNI bin dir entry's name is the bundle of a version other than
 * version: "skein-" followed by a digit, as every release is. */
bool cni_bundle_is_other_version(const char *name, const char *version);
/* The loader's command line for the plugin, NULL-terminated, in out
 * (CNI_LOADER_ARGC(argc) entries): LOADER --library-path BUNDLE --argv0
 * ARGV[0] PLUGIN ARGV[1..]. The strings are borrowed, not copied. */
#define CNI_LOADER_ARGC(argc) ((size_t)(argc) + 7)
int cni_loader_argv(const char **out, size_t n, const char *loader, const char *bundle,
		    const char *plugin, int argc, char *const argv[]);
/* The spec's error object, one line ending in '\n', msg JSON-escaped:
 * {"cniVersion":CNI_BUNDLE_CNI_VERSION,"code":CODE,"msg":MSG,"details":""}. */
int cni_error_json(char *out, size_t size, int code, const char *msg);

#endif
