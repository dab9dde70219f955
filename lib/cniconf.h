/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CNI network configuration list the container runtime reads
 * (default /etc/cni/net.d/10-skein.conflist): the skein plugin with the
 * node's pod CIDRs and MTU, chained with portmap, in cniVersion 1.0.0
 * unless told otherwise (see cniconf_render). The file is written
 * atomically (a temporary file in the same directory, fsync, rename, mode
 * 0644) and only when its content changes, so the runtime never reads half
 * a file and a reconcile with nothing new does not touch it.
 */
#ifndef SKEIN_CNICONF_H
#define SKEIN_CNICONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "error.h"

#define CNICONF_DEFAULT_PATH "/etc/cni/net.d/10-skein.conflist"
#define CNICONF_DEFAULT_DATA_DIR "/var/lib/cni/skein"
#define CNICONF_CNI_VERSION "1.0.0"

struct cniconf {
	const struct cidr *pod_cidrs;
	size_t n_pod_cidrs;
	uint32_t mtu;
	const char *data_dir;   /* NULL: CNICONF_DEFAULT_DATA_DIR */
	const char *cni_version; /* NULL: CNICONF_CNI_VERSION */
};

/* Pure: the file's text (JSON and a final newline); free() it. */
char *cniconf_render(const struct cniconf *conf, struct error *err);
/* Writes path (creating its directory) unless it already holds exactly
 * this content; *written tells which (may be NULL). Needs pod CIDRs. */
int cniconf_write(const char *path, const struct cniconf *conf, bool *written, struct error *err);
/* Removes path; a missing file is fine. */
int cniconf_remove(const char *path, struct error *err);

#endif
