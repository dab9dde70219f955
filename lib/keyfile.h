/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's WireGuard private key on disk: one base64 line, as `wg genkey`
 * writes it, in a file only root can read. Made with libsodium on first
 * start: created 0600 with O_EXCL|O_NOFOLLOW before any key byte is written,
 * then linked into place atomically, so the key is never readable by others
 * and a crash never leaves half a key. The key itself is never logged.
 */
#ifndef SKEIN_KEYFILE_H
#define SKEIN_KEYFILE_H

#include <stdbool.h>

#include "error.h"
#include "model.h"

#define KEYFILE_DEFAULT_PATH "/var/lib/skein/private.key"

/* Reads the key at path, or generates and stores one when there is none
 * (creating missing directories 0700); *created says which. A key file that
 * group or others may read is fixed to 0600 with a warning. Symlinks and
 * non-regular files are refused. */
int keyfile_load_or_create(const char *path, struct wg_key *out, bool *created,
			   struct error *err);

#endif
