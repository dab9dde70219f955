/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WireGuard keys: Curve25519 through libsodium, in the base64 text form that
 * wg(8) uses (44 characters with one '=' of padding).
 */
#ifndef SKEIN_KEY_H
#define SKEIN_KEY_H

#include <stdbool.h>

#include "model.h"

#define WG_KEY_B64_LEN 45 /* 44 characters and the NUL */

/* Strict: exactly 44 characters of standard base64 decoding to 32 bytes. */
int key_from_base64(const char *s, struct wg_key *out);
const char *key_to_base64(const struct wg_key *key, char buf[WG_KEY_B64_LEN]);
/* A clamped random private key, as `wg genkey`. */
int key_generate_private(struct wg_key *out);
/* The public key of a private key, as `wg pubkey`. */
int key_public(const struct wg_key *private_key, struct wg_key *out);
bool key_is_zero(const struct wg_key *key);
bool key_equal(const struct wg_key *a, const struct wg_key *b);

#endif
