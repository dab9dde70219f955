/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CNI spec versions skein speaks, shared by the plugin (which accepts
 * configs of any of them) and the agent (which writes its config list in
 * one of them).
 */
#ifndef SKEIN_CNI_VERSION_H
#define SKEIN_CNI_VERSION_H

/* Oldest first; the index orders them. */
enum cni_version { CNI_V030, CNI_V031, CNI_V040, CNI_V100, CNI_V110, CNI_N_VERSIONS };
extern const char *const cni_versions[CNI_N_VERSIONS];
#define CNI_VERSION_LATEST CNI_V110

/* -1 when s is not a supported version. */
int cni_version_parse(const char *s, enum cni_version *out);

#endif
