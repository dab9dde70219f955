// SPDX-License-Identifier: GPL-2.0-or-later
/* The small value parsers: addresses, CIDRs, endpoints, WireGuard keys and
 * IPAM record names. The first byte picks the parser; whatever a parser
 * accepts must format to text that parses back to the same value. */
#include "cidr.h"
#include "ipam.h"
#include "key.h"
#include "kube_model.h"
#include "wg_internal.h"
#include "fuzz.h"

static void cidr_round_trip(const char *s, int (*parse)(const char *, struct cidr *))
{
	struct cidr c, again;
	char buf[CIDR_STRLEN];

	if (parse(s, &c) < 0)
		return;
	FUZZ_CHECK(c.prefix <= ip_family_bits(c.ip.family));
	FUZZ_CHECK(cidr_parse(cidr_format(&c, buf), &again) == 0 && cidr_equal(&c, &again));
	FUZZ_CHECK(cidr_contains(&c, &c.ip) && cidr_overlaps(&c, &again));
}

static void ip_round_trip(const char *s)
{
	struct ip_addr ip, again;
	char buf[INET6_ADDRSTRLEN];

	if (ip_parse(s, &ip) < 0)
		return;
	FUZZ_CHECK(ip_parse(ip_format(&ip, buf), &again) == 0 && ip_equal(&ip, &again));
}

static void endpoint_check(const char *s)
{
	struct endpoint e;
	struct ip_addr ip;
	uint16_t port;

	if (endpoint_parse(s, &e) == 0)
		FUZZ_CHECK(e.host[0] && e.port > 0 && strlen(e.host) <= MODEL_HOST_MAX);
	if (wg_endpoint_parse(s, &ip, &port) == 0)
		FUZZ_CHECK(ip.family == AF_INET || ip.family == AF_INET6);
}

static void key_round_trip(const char *s)
{
	struct wg_key k, again;
	char buf[WG_KEY_B64_LEN];

	if (key_from_base64(s, &k) < 0)
		return;
	FUZZ_CHECK(!strcmp(key_to_base64(&k, buf), s));
	FUZZ_CHECK(key_from_base64(buf, &again) == 0 && key_equal(&k, &again));
}

static void record_round_trip(const char *s)
{
	struct ipam_alloc a, again;
	char name[256];

	if (ipam_record_parse(s, &a) < 0)
		return;
	FUZZ_CHECK(ipam_check_container_id(a.key.container_id, NULL) == 0);
	FUZZ_CHECK(ipam_check_ifname(a.key.ifname, NULL) == 0);
	FUZZ_CHECK(ipam_record_name(&a, name, sizeof(name)) == 0);
	FUZZ_CHECK(ipam_record_parse(name, &again) == 0 && again.n_ips == a.n_ips);
	for (size_t i = 0; i < a.n_ips; i++)
		FUZZ_CHECK(ip_equal(&a.ips[i], &again.ips[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_string(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0: cidr_round_trip(s, cidr_parse); break;
	case 1: cidr_round_trip(s, cidr_parse_host); break;
	case 2: ip_round_trip(s); break;
	case 3: endpoint_check(s); break;
	case 4: key_round_trip(s); break;
	case 5: record_round_trip(s); break;
	}
	free(s);
	return 0;
}
