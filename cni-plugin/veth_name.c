// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define HOST_VETH_PREFIX "sk"
#define HOST_VETH_HEX 12

/* FNV-1a: stable across versions and hosts, and 48 of its bits make
 * collisions between a node's pods vanishingly unlikely. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void cni_host_veth_name(const struct ipam_key *key, char name[IF_NAMESIZE])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	/* The NUL separates the two, so "ab"+"c" and "a"+"bc" differ. */
	h = fnv1a(h, key->container_id, strlen(key->container_id) + 1);
	h = fnv1a(h, key->ifname, strlen(key->ifname));
	snprintf(name, IF_NAMESIZE, HOST_VETH_PREFIX "%012llx",
		 (unsigned long long)(h & 0xffffffffffffULL));
}

bool cni_is_host_veth_name(const char *name)
{
	size_t prefix = strlen(HOST_VETH_PREFIX);

	if (strncmp(name, HOST_VETH_PREFIX, prefix) != 0 ||
	    strlen(name) != prefix + HOST_VETH_HEX)
		return false;
	for (size_t i = prefix; name[i]; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return false;
	return true;
}

void cni_host_veth_alias(const char *network, char alias[64])
{
	snprintf(alias, 64, "skein:%s", network);
}
