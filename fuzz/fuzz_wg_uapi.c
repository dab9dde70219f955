// SPDX-License-Identifier: GPL-2.0-or-later
/* A WireGuard UAPI "get" reply (from wireguard-go, or whatever listens on
 * the socket), cut at arbitrary points: the first byte picks the chunk
 * size. Fed whole or in chunks, the parser must agree. */
#include "wg_internal.h"
#include "fuzz.h"

static int parse(const char *data, size_t size, size_t chunk, struct wg_device *dev)
{
	struct wg_uapi_parser p;
	struct error err;
	int rc = 0;

	memset(dev, 0, sizeof(*dev));
	wg_uapi_parser_init(&p, dev);
	for (size_t off = 0; off < size && rc == 0; off += chunk)
		rc = wg_uapi_parser_feed(&p, data + off, size - off < chunk ? size - off : chunk, &err);
	if (rc < 0)
		FUZZ_CHECK(err.msg[0]);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device chunked, whole;
	int rc;

	if (size < 1)
		return 0;
	rc = parse((const char *)data + 1, size - 1, data[0] % 13 + 1, &chunked);
	FUZZ_CHECK(parse((const char *)data + 1, size - 1, size, &whole) == rc);
	if (rc == 0) {
		FUZZ_CHECK(chunked.n_peers == whole.n_peers);
		for (size_t i = 0; i < whole.n_peers; i++)
			FUZZ_CHECK(chunked.peers[i].n_allowed_ips == whole.peers[i].n_allowed_ips);
	}
	wg_device_free(&chunked);
	wg_device_free(&whole);
	return 0;
}
