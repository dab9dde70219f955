// SPDX-License-Identifier: GPL-2.0-or-later
#include "key.h"

#include <sodium.h>
#include <string.h>

static int sodium_ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int key_from_base64(const char *s, struct wg_key *out)
{
	char canonical[WG_KEY_B64_LEN];
	size_t len = 0;

	if (strlen(s) != WG_KEY_B64_LEN - 1 || s[WG_KEY_B64_LEN - 2] != '=')
		return -1;
	if (sodium_ready() < 0)
		return -1;
	if (sodium_base642bin(out->bytes, sizeof(out->bytes), s, WG_KEY_B64_LEN - 1,
			      NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    len != WG_KEY_LEN)
		return -1;
	/* libsodium 1.0.18 decodes some bytes >= 0x80 as base64 digits
	 * ("\xd9" as '/'): only the text that encodes the key is that key. */
	if (strcmp(key_to_base64(out, canonical), s))
		return -1;
	return 0;
}

const char *key_to_base64(const struct wg_key *key, char buf[WG_KEY_B64_LEN])
{
	sodium_bin2base64(buf, WG_KEY_B64_LEN, key->bytes, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	return buf;
}

int key_generate_private(struct wg_key *out)
{
	if (sodium_ready() < 0)
		return -1;
	randombytes_buf(out->bytes, WG_KEY_LEN);
	/* Curve25519 clamping, as wg genkey does. */
	out->bytes[0] &= 248;
	out->bytes[31] = (uint8_t)((out->bytes[31] & 127) | 64);
	return 0;
}

int key_public(const struct wg_key *private_key, struct wg_key *out)
{
	if (sodium_ready() < 0)
		return -1;
	return crypto_scalarmult_curve25519_base(out->bytes, private_key->bytes) == 0 ? 0 : -1;
}

bool key_is_zero(const struct wg_key *key)
{
	return sodium_is_zero(key->bytes, WG_KEY_LEN) == 1;
}

bool key_equal(const struct wg_key *a, const struct wg_key *b)
{
	return memcmp(a->bytes, b->bytes, WG_KEY_LEN) == 0;
}
