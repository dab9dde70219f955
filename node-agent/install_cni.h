/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * skein-agent --install-cni=DIR: installs the CNI plugin into a CNI bin
 * dir (the DaemonSet's init container does this). The source is a tree in
 * the layout of lib/cni_bundle.h, as `make` stages it in build/cni and the
 * image holds it: the launcher `skein` and the bundle `skein-VERSION/`.
 *
 * A runtime executing DIR/skein at any moment runs a complete set, old or
 * new: the bundle is written under a temporary name, fsynced and renamed
 * into place first (atomically swapped with one of the same version), the
 * launcher is renamed over the old one last, and only then are the bundles
 * of other versions removed. Failing to remove one is only logged.
 */
#ifndef SKEIN_INSTALL_CNI_H
#define SKEIN_INSTALL_CNI_H

#include "error.h"

/* Where the image holds the tree (Containerfile, hack/image.sh). */
#define CNI_INSTALL_FROM_DEFAULT "/usr/local/lib/skein/cni"

/* Installs from's launcher and from's bundle of version into to. */
int cni_install(const char *from, const char *to, const char *version, struct error *err);

#endif
