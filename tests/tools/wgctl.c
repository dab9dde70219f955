// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgctl: drives lib/wg from shell tests (test tooling, not a product).
 *
 *   wgctl [--backend auto|kernel|userspace] [--uapi-dir DIR] COMMAND ...
 *     ensure IFNAME [TIMEOUT_MS]  create the kernel link / wait for the UAPI socket
 *     remove IFNAME               delete the link
 *     apply IFNAME FILE           make the device match FILE (wg(8) config
 *                                 syntax), sending only the diff; prints
 *                                 "changes=N writes=N"
 *     show IFNAME                 the device as `wg show IFNAME dump` prints it
 *     genkey | pubkey             as wg(8)
 *     genpeers N FIRST_IP         N [Peer] sections with random keys, peer i
 *                                 owning FIRST_IP+i/32
 *     keyfile PATH                load or create the private key file; prints
 *                                 "created|loaded PUBLIC_KEY"
 *     backend                     prints the backend auto-selection picks
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "key.h"
#include "keyfile.h"
#include "log.h"
#include "wg.h"
#include "wg_internal.h"

static int usage(void)
{
	fprintf(stderr, "usage: wgctl [--backend auto|kernel|userspace] [--uapi-dir DIR] "
			"ensure|remove|apply|show|genkey|pubkey|genpeers|keyfile|backend ...\n");
	return 2;
}

static int fail(const struct error *err)
{
	fprintf(stderr, "wgctl: %s\n", err->msg);
	return 1;
}

/* --- the config file --- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int parse_allowed_ips(char *list, struct wg_peer *p)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		struct cidr c;

		if (cidr_parse(trim(tok), &c) < 0 || wg_peer_add_allowed_ip(p, &c) < 0)
			return -1;
	}
	return 0;
}

static int parse_number(const char *s, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return (errno || *end || *s == '\0' || *out < 0 || *out > max) ? -1 : 0;
}

static int parse_interface_key(struct wg_device *dev, const char *k, const char *v)
{
	long n;

	if (!strcasecmp(k, "PrivateKey")) {
		dev->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
		return key_from_base64(v, &dev->private_key);
	}
	if (!strcasecmp(k, "ListenPort")) {
		dev->flags |= WG_DEVICE_HAS_LISTEN_PORT;
		if (parse_number(v, 65535, &n) < 0)
			return -1;
		dev->listen_port = (uint16_t)n;
		return 0;
	}
	if (!strcasecmp(k, "FwMark")) {
		dev->flags |= WG_DEVICE_HAS_FWMARK;
		if (parse_number(v, INT32_MAX, &n) < 0)
			return -1;
		dev->fwmark = (uint32_t)n;
		return 0;
	}
	return -1;
}

static int parse_peer_key(struct wg_peer *p, const char *k, char *v)
{
	long n;

	if (!strcasecmp(k, "PublicKey"))
		return key_from_base64(v, &p->public_key);
	if (!strcasecmp(k, "PresharedKey")) {
		p->flags |= WG_PEER_HAS_PRESHARED_KEY;
		return key_from_base64(v, &p->preshared_key);
	}
	if (!strcasecmp(k, "Endpoint")) {
		p->flags |= WG_PEER_HAS_ENDPOINT;
		return wg_endpoint_parse(v, &p->endpoint_ip, &p->endpoint_port);
	}
	if (!strcasecmp(k, "AllowedIPs"))
		return parse_allowed_ips(v, p);
	if (!strcasecmp(k, "PersistentKeepalive")) {
		if (parse_number(v, 65535, &n) < 0)
			return -1;
		p->persistent_keepalive = (uint16_t)n;
		if (n)
			p->flags |= WG_PEER_HAS_KEEPALIVE;
		return 0;
	}
	return -1;
}

static int parse_config(FILE *f, const char *path, struct wg_device *dev, struct error *err)
{
	char line[4096];
	struct wg_peer *peer = NULL;
	bool in_interface = false;

	for (int lineno = 1; fgets(line, sizeof(line), f); lineno++) {
		char *s = trim(line), *eq, *hash = strchr(s, '#');

		if (hash)
			*hash = '\0';
		s = trim(s);
		if (!*s)
			continue;
		if (!strcasecmp(s, "[Interface]")) {
			in_interface = true;
			peer = NULL;
			continue;
		}
		if (!strcasecmp(s, "[Peer]")) {
			in_interface = false;
			if (!(peer = wg_device_add_peer(dev)))
				return error_set(err, "out of memory");
			continue;
		}
		eq = strchr(s, '=');
		if (!eq || (!in_interface && !peer))
			return error_set(err, "%s:%d: expected a section or Key = Value", path, lineno);
		*eq = '\0';
		if ((in_interface ? parse_interface_key(dev, trim(s), trim(eq + 1))
				  : parse_peer_key(peer, trim(s), trim(eq + 1))) < 0)
			return error_set(err, "%s:%d: bad %s", path, lineno, trim(s));
	}
	return 0;
}

/* --- output as `wg show IF dump` --- */

static const char *key_or_none(const struct wg_key *k, bool set, char buf[WG_KEY_B64_LEN])
{
	return set ? key_to_base64(k, buf) : "(none)";
}

static void print_endpoint(const struct wg_peer *p)
{
	char ip[INET6_ADDRSTRLEN];

	if (!(p->flags & WG_PEER_HAS_ENDPOINT))
		fputs("(none)", stdout);
	else if (p->endpoint_ip.family == AF_INET6)
		printf("[%s]:%u", ip_format(&p->endpoint_ip, ip), p->endpoint_port);
	else
		printf("%s:%u", ip_format(&p->endpoint_ip, ip), p->endpoint_port);
}

static void print_peer(const struct wg_peer *p)
{
	char k[WG_KEY_B64_LEN], c[CIDR_STRLEN];

	printf("%s\t", key_to_base64(&p->public_key, k));
	printf("%s\t", key_or_none(&p->preshared_key, p->flags & WG_PEER_HAS_PRESHARED_KEY, k));
	print_endpoint(p);
	putchar('\t');
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		printf("%s%s", i ? "," : "", cidr_format(&p->allowed_ips[i], c));
	if (!p->n_allowed_ips)
		fputs("(none)", stdout);
	printf("\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64 "\t", p->last_handshake_sec, p->rx_bytes,
	       p->tx_bytes);
	if (p->persistent_keepalive)
		printf("%u\n", p->persistent_keepalive);
	else
		puts("off");
}

static void print_device(const struct wg_device *d)
{
	char k[WG_KEY_B64_LEN];
	bool has_key = d->flags & WG_DEVICE_HAS_PRIVATE_KEY;

	printf("%s\t", key_or_none(&d->private_key, has_key, k));
	printf("%s\t%u\t", key_or_none(&d->public_key, has_key, k), d->listen_port);
	if (d->fwmark)
		printf("0x%x\n", d->fwmark);
	else
		puts("off");
	for (size_t i = 0; i < d->n_peers; i++)
		print_peer(&d->peers[i]);
}

/* --- commands --- */

static int cmd_apply(struct wg_backend *b, const char *ifname, const char *path)
{
	struct wg_device want = { 0 }, have, delta;
	struct error err = { { 0 } };
	FILE *f = fopen(path, "r");
	int changes, ret = 1;

	if (!f) {
		fprintf(stderr, "wgctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(want.name, sizeof(want.name), "%s", ifname);
	if (parse_config(f, path, &want, &err) < 0) {
		fclose(f);
		wg_device_free(&want);
		return fail(&err);
	}
	fclose(f);
	if (wg_device_get(b, ifname, &have, &err) < 0) {
		wg_device_free(&want);
		return fail(&err);
	}
	changes = wg_device_diff(&have, &want, &delta);
	if (changes < 0)
		fprintf(stderr, "wgctl: diff: out of memory\n");
	else if (changes > 0 && wg_device_set(b, &delta, &err) < 0)
		fail(&err);
	else {
		printf("changes=%d writes=%lu\n", changes, b->writes);
		ret = 0;
	}
	wg_device_free(&delta);
	wg_device_free(&have);
	wg_device_free(&want);
	return ret;
}

static int cmd_show(struct wg_backend *b, const char *ifname)
{
	struct error err = { { 0 } };
	struct wg_device d;

	if (wg_device_get(b, ifname, &d, &err) < 0)
		return fail(&err);
	print_device(&d);
	wg_device_free(&d);
	return 0;
}

static int cmd_genkey(void)
{
	char buf[WG_KEY_B64_LEN];
	struct wg_key k;

	if (key_generate_private(&k) < 0)
		return 1;
	puts(key_to_base64(&k, buf));
	return 0;
}

static int cmd_pubkey(void)
{
	char line[128], buf[WG_KEY_B64_LEN];
	struct wg_key priv, pub;

	if (!fgets(line, sizeof(line), stdin) || key_from_base64(trim(line), &priv) < 0 ||
	    key_public(&priv, &pub) < 0) {
		fprintf(stderr, "wgctl: pubkey: stdin is not a base64 private key\n");
		return 1;
	}
	puts(key_to_base64(&pub, buf));
	return 0;
}

static int cmd_genpeers(const char *count, const char *first)
{
	char buf[WG_KEY_B64_LEN], ipbuf[INET6_ADDRSTRLEN];
	struct cidr base, block;
	uint64_t start;
	long n;

	if (parse_number(count, 1000000, &n) < 0 || cidr_parse_host(first, &base) < 0) {
		fprintf(stderr, "wgctl: genpeers: bad count %s or address %s\n", count, first);
		return 1;
	}
	/* Peer i owns base + i, counted within the /8 (or /64) holding base. */
	block = base;
	block.prefix = (uint8_t)(base.ip.family == AF_INET ? 8 : 64);
	block = cidr_network(&block);
	start = cidr_offset(&block, &base.ip);
	for (long i = 0; i < n; i++) {
		struct wg_key priv, pub;
		struct ip_addr ip;

		if (cidr_nth(&block, start + (uint64_t)i, &ip) < 0) {
			fprintf(stderr, "wgctl: genpeers: %ld peers do not fit after %s\n", n, first);
			return 1;
		}
		if (key_generate_private(&priv) < 0 || key_public(&priv, &pub) < 0)
			return 1;
		printf("[Peer]\nPublicKey = %s\nAllowedIPs = %s/%d\n\n", key_to_base64(&pub, buf),
		       ip_format(&ip, ipbuf), ip_family_bits(ip.family));
	}
	return 0;
}

static int cmd_keyfile(const char *path)
{
	struct error err = { { 0 } };
	char buf[WG_KEY_B64_LEN];
	struct wg_key priv, pub;
	bool created;

	if (keyfile_load_or_create(path, &priv, &created, &err) < 0)
		return fail(&err);
	if (key_public(&priv, &pub) < 0)
		return 1;
	printf("%s %s\n", created ? "created" : "loaded", key_to_base64(&pub, buf));
	return 0;
}

static int pick_backend(struct wg_backend *b, const char *kind, const char *dir)
{
	struct error err = { { 0 } };

	if (wg_backend_auto(b, dir, &err) < 0)
		return fail(&err);
	if (!strcmp(kind, "kernel"))
		b->kind = WG_BACKEND_KERNEL;
	else if (!strcmp(kind, "userspace"))
		b->kind = WG_BACKEND_USERSPACE;
	else if (strcmp(kind, "auto") != 0)
		return usage();
	return 0;
}

static int run(struct wg_backend *b, int argc, char **argv)
{
	struct error err = { { 0 } };
	const char *cmd = argv[0];

	if (!strcmp(cmd, "ensure") && (argc == 2 || argc == 3))
		return wg_device_ensure(b, argv[1], argc == 3 ? atoi(argv[2]) : 5000, &err) < 0
			       ? fail(&err) : 0;
	if (!strcmp(cmd, "remove") && argc == 2)
		return wg_device_remove(b, argv[1], &err) < 0 ? fail(&err) : 0;
	if (!strcmp(cmd, "apply") && argc == 3)
		return cmd_apply(b, argv[1], argv[2]);
	if (!strcmp(cmd, "show") && argc == 2)
		return cmd_show(b, argv[1]);
	if (!strcmp(cmd, "genkey") && argc == 1)
		return cmd_genkey();
	if (!strcmp(cmd, "pubkey") && argc == 1)
		return cmd_pubkey();
	if (!strcmp(cmd, "genpeers") && argc == 3)
		return cmd_genpeers(argv[1], argv[2]);
	if (!strcmp(cmd, "keyfile") && argc == 2)
		return cmd_keyfile(argv[1]);
	if (!strcmp(cmd, "backend") && argc == 1) {
		puts(b->kind == WG_BACKEND_KERNEL ? "kernel" : "userspace");
		return 0;
	}
	return usage();
}

int main(int argc, char **argv)
{
	const char *kind = "auto", *dir = NULL;
	struct wg_backend b;
	int i = 1, ret;

	log_init("wgctl", LOG_LVL_INFO);
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--backend"))
			kind = argv[i + 1];
		else if (!strcmp(argv[i], "--uapi-dir"))
			dir = argv[i + 1];
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	ret = pick_backend(&b, kind, dir);
	if (ret)
		return ret;
	return run(&b, argc - i, argv + i);
}
