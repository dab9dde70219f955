// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cross-platform UAPI of userspace WireGuard (wireguard-go, boringtun):
 * a unix socket <dir>/<ifname>.sock speaking "key=value" lines. A request is
 * "get=1\n\n" or "set=1\n" + lines + "\n"; every reply ends with "errno=N\n\n".
 * Keys travel as 64 hex digits.
 */
#include "wg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "key.h"

#define UAPI_IO_TIMEOUT_SEC 5

/* --- formatting a set --- */

static void put_hex_key(FILE *f, const char *name, const struct wg_key *k)
{
	fprintf(f, "%s=", name);
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		fprintf(f, "%02x", k->bytes[i]);
	fputc('\n', f);
}

static void put_endpoint(FILE *f, const struct wg_peer *p)
{
	char ip[INET6_ADDRSTRLEN];

	ip_format(&p->endpoint_ip, ip);
	if (p->endpoint_ip.family == AF_INET6)
		fprintf(f, "endpoint=[%s]:%u\n", ip, p->endpoint_port);
	else
		fprintf(f, "endpoint=%s:%u\n", ip, p->endpoint_port);
}

static void put_peer(FILE *f, const struct wg_peer *p)
{
	char buf[CIDR_STRLEN];

	put_hex_key(f, "public_key", &p->public_key);
	if (p->flags & WG_PEER_REMOVE) {
		fputs("remove=true\n", f);
		return;
	}
	if (p->flags & WG_PEER_HAS_PRESHARED_KEY)
		put_hex_key(f, "preshared_key", &p->preshared_key);
	if (p->flags & WG_PEER_HAS_ENDPOINT)
		put_endpoint(f, p);
	if (p->flags & WG_PEER_HAS_KEEPALIVE)
		fprintf(f, "persistent_keepalive_interval=%u\n", p->persistent_keepalive);
	if (p->flags & WG_PEER_REPLACE_ALLOWED_IPS)
		fputs("replace_allowed_ips=true\n", f);
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		struct cidr net = cidr_network(&p->allowed_ips[i]);

		fprintf(f, "allowed_ip=%s\n", cidr_format(&net, buf));
	}
}

int wg_uapi_format_set(const struct wg_device *dev, char **out, size_t *len, struct error *err)
{
	FILE *f = open_memstream(out, len);
	int failed;

	if (!f)
		return error_set(err, "%s: building UAPI set: %s", dev->name, strerror(errno));
	fputs("set=1\n", f);
	if (dev->flags & WG_DEVICE_HAS_PRIVATE_KEY)
		put_hex_key(f, "private_key", &dev->private_key);
	if (dev->flags & WG_DEVICE_HAS_LISTEN_PORT)
		fprintf(f, "listen_port=%u\n", dev->listen_port);
	if (dev->flags & WG_DEVICE_HAS_FWMARK)
		fprintf(f, "fwmark=%" PRIu32 "\n", dev->fwmark);
	for (size_t i = 0; i < dev->n_peers; i++)
		put_peer(f, &dev->peers[i]);
	fputc('\n', f);
	failed = ferror(f);
	if (fclose(f) != 0 || failed) {
		free(*out);
		*out = NULL;
		return error_set(err, "%s: building UAPI set: out of memory", dev->name);
	}
	return 0;
}

/* --- parsing a reply --- */

void wg_uapi_parser_init(struct wg_uapi_parser *p, struct wg_device *dev)
{
	memset(p, 0, sizeof(*p));
	p->dev = dev;
	p->errno_value = -1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex_key(const char *s, struct wg_key *out)
{
	if (strlen(s) != 2 * WG_KEY_LEN)
		return -1;
	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out->bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int wg_endpoint_parse(const char *s, struct ip_addr *ip, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 16];
	const char *colon = strrchr(s, ':');
	size_t len;
	uint64_t v;
	char *pct;

	if (!colon || parse_u64(colon + 1, UINT16_MAX, &v) < 0)
		return -1;
	len = (size_t)(colon - s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	pct = strchr(host, '%');
	if (pct)
		*pct = '\0';
	if (ip_parse(host, ip) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static struct wg_peer *current_peer(struct wg_uapi_parser *p)
{
	return p->dev->n_peers ? &p->dev->peers[p->dev->n_peers - 1] : NULL;
}

static int parse_device_line(struct wg_uapi_parser *p, const char *key, const char *val)
{
	struct wg_device *dev = p->dev;
	uint64_t v;

	if (!strcmp(key, "private_key")) {
		if (parse_hex_key(val, &dev->private_key) < 0 ||
		    key_public(&dev->private_key, &dev->public_key) < 0)
			return -1;
		if (!key_is_zero(&dev->private_key))
			dev->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
	} else if (!strcmp(key, "listen_port")) {
		if (parse_u64(val, UINT16_MAX, &v) < 0)
			return -1;
		dev->listen_port = (uint16_t)v;
		dev->flags |= WG_DEVICE_HAS_LISTEN_PORT;
	} else if (!strcmp(key, "fwmark")) {
		if (parse_u64(val, UINT32_MAX, &v) < 0)
			return -1;
		dev->fwmark = (uint32_t)v;
		dev->flags |= WG_DEVICE_HAS_FWMARK;
	} else if (!strcmp(key, "public_key")) {
		struct wg_peer *peer = wg_device_add_peer(dev);

		if (!peer || parse_hex_key(val, &peer->public_key) < 0)
			return -1;
	}
	/* Other keys (newer protocol additions) are ignored. */
	return 0;
}

static int parse_peer_line(struct wg_peer *peer, const char *key, const char *val)
{
	struct cidr c;
	uint64_t v;

	if (!strcmp(key, "preshared_key")) {
		if (parse_hex_key(val, &peer->preshared_key) < 0)
			return -1;
		if (!key_is_zero(&peer->preshared_key))
			peer->flags |= WG_PEER_HAS_PRESHARED_KEY;
	} else if (!strcmp(key, "endpoint")) {
		if (wg_endpoint_parse(val, &peer->endpoint_ip, &peer->endpoint_port) < 0)
			return -1;
		peer->flags |= WG_PEER_HAS_ENDPOINT;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		if (parse_u64(val, UINT16_MAX, &v) < 0)
			return -1;
		peer->persistent_keepalive = (uint16_t)v;
		if (v)
			peer->flags |= WG_PEER_HAS_KEEPALIVE;
	} else if (!strcmp(key, "allowed_ip")) {
		if (cidr_parse(val, &c) < 0 || wg_peer_add_allowed_ip(peer, &c) < 0)
			return -1;
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		if (parse_u64(val, INT64_MAX, &v) < 0)
			return -1;
		peer->last_handshake_sec = (int64_t)v;
	} else if (!strcmp(key, "rx_bytes")) {
		return parse_u64(val, UINT64_MAX, &peer->rx_bytes);
	} else if (!strcmp(key, "tx_bytes")) {
		return parse_u64(val, UINT64_MAX, &peer->tx_bytes);
	}
	return 0;
}

/* Values never to echo in an error: a near-miss is most of a key. */
static bool is_secret(const char *key)
{
	return !strcmp(key, "private_key") || !strcmp(key, "preshared_key");
}

static int parse_line(struct wg_uapi_parser *p, char *line, struct error *err)
{
	char *eq = strchr(line, '=');
	struct wg_peer *peer;
	uint64_t v;
	int ret;

	if (!*line) {
		p->done = true;
		return 0;
	}
	if (!eq || eq == line)
		return error_set(err, "UAPI reply: line \"%.64s\" is not key=value", line);
	*eq = '\0';
	peer = current_peer(p);
	if (!strcmp(line, "errno")) {
		ret = parse_u64(eq + 1, INT32_MAX, &v);
		if (ret == 0)
			p->errno_value = (int)v;
	} else if (peer && strcmp(line, "public_key") != 0) {
		ret = parse_peer_line(peer, line, eq + 1);
	} else {
		ret = parse_device_line(p, line, eq + 1);
	}
	if (ret < 0)
		return error_set(err, "UAPI reply: bad %s \"%.80s\"", line,
				 is_secret(line) ? "(secret, not shown)" : eq + 1);
	return 0;
}

int wg_uapi_parser_feed(struct wg_uapi_parser *p, const char *buf, size_t n, struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (p->done)
			return error_set(err, "UAPI reply: data after the end of the reply");
		if (buf[i] != '\n') {
			if (p->line_len + 1 >= sizeof(p->line))
				return error_set(err, "UAPI reply: line longer than %d bytes",
						 WG_UAPI_LINE_MAX - 1);
			p->line[p->line_len++] = buf[i];
			continue;
		}
		p->line[p->line_len] = '\0';
		p->line_len = 0;
		if (parse_line(p, p->line, err) < 0)
			return -1;
	}
	return 0;
}

/* --- the socket --- */

static int socket_path(const char *dir, const char *ifname, struct sockaddr_un *sun,
		       struct error *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock", dir, ifname) >=
	    sizeof(sun->sun_path))
		return error_set(err, "%s: UAPI socket path under %s too long", ifname, dir);
	return 0;
}

static int uapi_connect(const char *dir, const char *ifname, struct error *err)
{
	struct timeval tv = { .tv_sec = UAPI_IO_TIMEOUT_SEC };
	struct sockaddr_un sun;
	int fd;

	if (socket_path(dir, ifname, &sun, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, "%s: UAPI socket: %s", ifname, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		error_set(err, "%s: UAPI connect %s: %s", ifname, sun.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends a request and parses the reply into dev until its closing empty line. */
static int uapi_exchange(const char *dir, const char *ifname, const char *req, size_t req_len,
			 struct wg_device *dev, struct error *err)
{
	struct wg_uapi_parser p;
	char buf[4096];
	int fd = uapi_connect(dir, ifname, err), ret = -1;

	if (fd < 0)
		return -1;
	if (write_all(fd, req, req_len) < 0) {
		error_set(err, "%s: UAPI write: %s", ifname, strerror(errno));
		goto out;
	}
	wg_uapi_parser_init(&p, dev);
	while (!p.done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(err, "%s: UAPI read: %s", ifname,
				  n < 0 ? strerror(errno) : "connection closed before the reply ended");
			goto out;
		}
		if (wg_uapi_parser_feed(&p, buf, (size_t)n, err) < 0) {
			error_prefix(err, "%s", ifname);
			goto out;
		}
	}
	if (p.errno_value != 0) {
		error_set(err, "%s: UAPI request failed: errno=%d (%s)", ifname, p.errno_value,
			  p.errno_value > 0 ? strerror(p.errno_value) : "no errno in reply");
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int wg_uapi_get(const char *dir, const char *ifname, struct wg_device *out, struct error *err)
{
	static const char req[] = "get=1\n\n";

	if (uapi_exchange(dir, ifname, req, sizeof(req) - 1, out, err) < 0) {
		wg_device_free(out);
		return -1;
	}
	return 0;
}

int wg_uapi_set(const char *dir, const struct wg_device *dev, struct error *err)
{
	struct wg_device reply = { 0 };
	char *req = NULL;
	size_t len = 0;
	int ret;

	if (wg_uapi_format_set(dev, &req, &len, err) < 0)
		return -1;
	ret = uapi_exchange(dir, dev->name, req, len, &reply, err);
	wg_device_free(&reply);
	free(req);
	return ret;
}

int wg_uapi_wait(const char *dir, const char *ifname, int timeout_ms, struct error *err)
{
	struct timespec step = { .tv_nsec = 20 * 1000 * 1000 };

	for (int waited = 0;; waited += 20) {
		int fd = uapi_connect(dir, ifname, err);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waited >= timeout_ms)
			return error_prefix(err, "no userspace WireGuard after %d ms", timeout_ms);
		nanosleep(&step, NULL);
	}
}
