// SPDX-License-Identifier: GPL-2.0-or-later
#include "ipam.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#define STATE_OPEN_FLAGS (O_CLOEXEC | O_NOFOLLOW)

/* ---- validation ---- */

int ipam_check_name(const char *what, const char *s, struct error *err)
{
	size_t len = strlen(s);

	if (len == 0)
		return error_set(err, "%s is empty", what);
	if (len > IPAM_CONTAINER_ID_MAX)
		return error_set(err, "%s %.32s... is longer than %d characters",
				 what, s, IPAM_CONTAINER_ID_MAX);
	if (!isalnum((unsigned char)s[0]))
		return error_set(err, "%s %s must start with a letter or digit", what, s);
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return error_set(err, "%s %s has invalid character 0x%02x at %zu",
					 what, s, c, i);
	}
	return 0;
}

int ipam_check_container_id(const char *id, struct error *err)
{
	return ipam_check_name("container ID", id, err);
}

int ipam_check_ifname(const char *name, struct error *err)
{
	size_t len = strlen(name);

	if (len == 0)
		return error_set(err, "interface name is empty");
	if (len >= IF_NAMESIZE)
		return error_set(err, "interface name %s is longer than %d characters",
				 name, IF_NAMESIZE - 1);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return error_set(err, "interface name %s is not allowed", name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == ':' || isspace(c) || iscntrl(c))
			return error_set(err, "interface name %s has invalid character 0x%02x",
					 name, c);
	}
	return 0;
}

int ipam_key_set(struct ipam_key *key, const char *container_id, const char *ifname,
		 struct error *err)
{
	if (ipam_check_container_id(container_id, err) < 0 ||
	    ipam_check_ifname(ifname, err) < 0)
		return -1;
	memset(key, 0, sizeof(*key));
	snprintf(key->container_id, sizeof(key->container_id), "%s", container_id);
	snprintf(key->ifname, sizeof(key->ifname), "%s", ifname);
	return 0;
}

static bool key_equal(const struct ipam_key *a, const struct ipam_key *b)
{
	return strcmp(a->container_id, b->container_id) == 0 &&
	       strcmp(a->ifname, b->ifname) == 0;
}

/* ---- the pure allocator ---- */

int ipam_gateway(const struct cidr *range, struct ip_addr *out)
{
	return cidr_nth(range, 1, out);
}

/* Offsets [first, end) of a range may be handed out. */
static void assignable_span(const struct cidr *range, uint64_t *first, uint64_t *end)
{
	uint64_t size = cidr_size(range);

	*first = 2; /* the network address, then the gateway */
	*end = range->ip.family == AF_INET ? size - 1 : size;
	if (*end < *first)
		*end = *first;
}

bool ipam_assignable(const struct cidr *range, const struct ip_addr *ip)
{
	uint64_t first, end, off;

	if (ip->family != range->ip.family || !cidr_contains(range, ip))
		return false;
	assignable_span(range, &first, &end);
	off = cidr_offset(range, ip);
	return off >= first && off < end;
}

static int cmp_ip(const void *a, const void *b)
{
	return ip_cmp(a, b);
}

int ipam_pick(const struct cidr *range, const struct ip_addr *last,
	      const struct ip_addr *used, size_t n_used, struct ip_addr *out)
{
	uint64_t first, end, count, start, tries;

	assignable_span(range, &first, &end);
	count = end - first;
	if (count == 0)
		return -1;
	start = 0;
	if (ipam_assignable(range, last))
		start = (cidr_offset(range, last) - first + 1) % count;
	/* Among n_used + 1 consecutive candidates at least one is free. */
	tries = n_used < count ? n_used + 1 : count;
	for (uint64_t i = 0; i < tries; i++) {
		uint64_t off = first + (start + i) % count;

		if (cidr_nth(range, off, out) < 0)
			return -1;
		if (!bsearch(out, used, n_used, sizeof(*used), cmp_ip))
			return 0;
	}
	return -1;
}

/* ---- record names: "IP[,IP]|CONTAINER_ID|IFNAME" ---- */

int ipam_record_name(const struct ipam_alloc *a, char *name, size_t len)
{
	char ips[IPAM_MAX_RANGES * (INET6_ADDRSTRLEN + 1)] = "";
	size_t used = 0;
	int n;

	if (a->n_ips == 0 || a->n_ips > IPAM_MAX_RANGES)
		return -1;
	for (size_t i = 0; i < a->n_ips; i++) {
		char buf[INET6_ADDRSTRLEN];

		n = snprintf(ips + used, sizeof(ips) - used, "%s%s", i ? "," : "",
			     ip_format(&a->ips[i], buf));
		used += (size_t)n;
	}
	n = snprintf(name, len, "%s|%s|%s", ips, a->key.container_id, a->key.ifname);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int parse_ips(char *ips, struct ipam_alloc *out)
{
	char *save = NULL;

	for (char *tok = strtok_r(ips, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (out->n_ips == IPAM_MAX_RANGES || ip_parse(tok, &out->ips[out->n_ips]) < 0)
			return -1;
		out->n_ips++;
	}
	return out->n_ips ? 0 : -1;
}

int ipam_record_parse(const char *name, struct ipam_alloc *out)
{
	char buf[NAME_MAX + 1];
	char *id, *ifname;

	if (snprintf(buf, sizeof(buf), "%s", name) >= (int)sizeof(buf))
		return -1;
	id = strchr(buf, '|');
	if (!id)
		return -1;
	*id++ = '\0';
	ifname = strchr(id, '|');
	if (!ifname)
		return -1;
	*ifname++ = '\0';
	memset(out, 0, sizeof(*out));
	if (ipam_key_set(&out->key, id, ifname, NULL) < 0)
		return -1;
	return parse_ips(buf, out);
}

/* ---- the store ---- */

static int mkdir_parents(const char *path, struct error *err)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return error_set(err, "data dir %s: path too long", path);
	for (char *p = buf + 1; ; p++) {
		char saved = *p;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return error_set(err, "creating %s: %s", buf, strerror(errno));
		*p = saved;
		if (!saved)
			return 0;
	}
}

static int open_state_dir(const char *data_dir, const char *network, struct error *err)
{
	int parent, fd;

	if (data_dir[0] != '/')
		return error_set(err, "data dir %s is not an absolute path", data_dir);
	parent = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0 && errno == ENOENT) { /* only the first call creates it */
		if (mkdir_parents(data_dir, err) < 0)
			return -1;
		parent = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (parent < 0)
		return error_set(err, "opening data dir %s: %s", data_dir, strerror(errno));
	fd = openat(parent, network, O_RDONLY | O_DIRECTORY | STATE_OPEN_FLAGS);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(parent, network, 0700) < 0 && errno != EEXIST) {
			error_set(err, "creating %s/%s: %s", data_dir, network, strerror(errno));
			close(parent);
			return -1;
		}
		fd = openat(parent, network, O_RDONLY | O_DIRECTORY | STATE_OPEN_FLAGS);
	}
	if (fd < 0)
		error_set(err, "opening %s/%s: %s", data_dir, network, strerror(errno));
	close(parent);
	return fd;
}

int ipam_store_open(struct ipam_store *s, const char *data_dir, const char *network,
		    struct error *err)
{
	s->lock_fd = -1;
	s->dir_fd = open_state_dir(data_dir, network, err);
	if (s->dir_fd < 0)
		return -1;
	s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | STATE_OPEN_FLAGS, 0600);
	if (s->lock_fd < 0) {
		error_set(err, "opening %s/%s/lock: %s", data_dir, network, strerror(errno));
		ipam_store_close(s);
		return -1;
	}
	while (flock(s->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			error_set(err, "locking %s/%s: %s", data_dir, network, strerror(errno));
			ipam_store_close(s);
			return -1;
		}
	}
	return 0;
}

void ipam_store_close(struct ipam_store *s)
{
	/* Closing the last descriptor of the lock file releases the flock. */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->lock_fd = s->dir_fd = -1;
}

int ipam_store_list(struct ipam_store *s, struct ipam_alloc **out, size_t *n,
		    struct error *err)
{
	int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct ipam_alloc *items = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *dir;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_set(err, "reading allocations: %s", strerror(errno));
	}
	while ((de = readdir(dir))) {
		struct ipam_alloc a;

		if ((de->d_type != DT_REG && de->d_type != DT_UNKNOWN) ||
		    ipam_record_parse(de->d_name, &a) < 0)
			continue;
		if (count == cap) {
			struct ipam_alloc *p = realloc(items, (cap = cap ? cap * 2 : 64) * sizeof(*p));

			if (!p) {
				free(items);
				closedir(dir);
				return error_set(err, "reading allocations: out of memory");
			}
			items = p;
		}
		items[count++] = a;
	}
	closedir(dir);
	*out = items;
	*n = count;
	return 0;
}

static int remove_record(struct ipam_store *s, const struct ipam_alloc *a, struct error *err)
{
	char name[NAME_MAX + 1];

	if (ipam_record_name(a, name, sizeof(name)) < 0)
		return error_set(err, "allocation of %s/%s: unnamable", a->key.container_id,
				 a->key.ifname);
	if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
		return error_set(err, "removing allocation %s: %s", name, strerror(errno));
	return 0;
}

static int write_record(struct ipam_store *s, const struct ipam_alloc *a, struct error *err)
{
	char name[NAME_MAX + 1];
	int fd;

	if (ipam_record_name(a, name, sizeof(name)) < 0)
		return error_set(err, "allocation of %s/%s: unnamable", a->key.container_id,
				 a->key.ifname);
	fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | STATE_OPEN_FLAGS, 0600);
	if (fd < 0)
		return error_set(err, "writing allocation %s: %s", name, strerror(errno));
	close(fd);
	return 0;
}

/* The cursor file of a range: "last-10.244.1.0_24". */
static void cursor_name(const struct cidr *range, char name[CIDR_STRLEN + 8])
{
	char buf[CIDR_STRLEN];
	struct cidr net = cidr_network(range);

	snprintf(name, CIDR_STRLEN + 8, "last-%s", cidr_format(&net, buf));
	*strchr(name, '/') = '_';
}

/* A missing or garbled cursor only costs the round-robin order. */
static void read_cursor(struct ipam_store *s, const struct cidr *range, struct ip_addr *last)
{
	char name[CIDR_STRLEN + 8], buf[INET6_ADDRSTRLEN + 1];
	ssize_t n;
	int fd;

	memset(last, 0, sizeof(*last));
	cursor_name(range, name);
	fd = openat(s->dir_fd, name, O_RDONLY | STATE_OPEN_FLAGS);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (ip_parse(buf, last) < 0)
		memset(last, 0, sizeof(*last));
}

static int write_cursor(struct ipam_store *s, const struct cidr *range,
			const struct ip_addr *last, struct error *err)
{
	char name[CIDR_STRLEN + 8], buf[INET6_ADDRSTRLEN + 1];
	size_t len;
	int fd;

	cursor_name(range, name);
	ip_format(last, buf);
	len = strlen(buf);
	buf[len++] = '\n';
	fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | STATE_OPEN_FLAGS, 0600);
	if (fd < 0)
		return error_set(err, "writing %s: %s", name, strerror(errno));
	if (write(fd, buf, len) != (ssize_t)len) {
		error_set(err, "writing %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The sorted addresses of all records that fall into range. */
static struct ip_addr *used_in_range(const struct ipam_alloc *all, size_t n_all,
				     const struct cidr *range, size_t *n)
{
	struct ip_addr *used = malloc((n_all * IPAM_MAX_RANGES + 1) * sizeof(*used));

	*n = 0;
	if (!used)
		return NULL;
	for (size_t i = 0; i < n_all; i++)
		for (size_t j = 0; j < all[i].n_ips; j++)
			if (cidr_contains(range, &all[i].ips[j]))
				used[(*n)++] = all[i].ips[j];
	qsort(used, *n, sizeof(*used), cmp_ip);
	return used;
}

static const struct ipam_alloc *find_key(const struct ipam_alloc *all, size_t n,
					 const struct ipam_key *key)
{
	for (size_t i = 0; i < n; i++)
		if (key_equal(&all[i].key, key))
			return &all[i];
	return NULL;
}

static int pick_one(struct ipam_store *s, const struct ipam_alloc *all, size_t n_all,
		    const struct cidr *range, struct ip_addr *out, struct error *err)
{
	char buf[CIDR_STRLEN];
	struct ip_addr last;
	size_t n_used;
	struct ip_addr *used = used_in_range(all, n_all, range, &n_used);
	int ret;

	if (!used)
		return error_set(err, "out of memory");
	read_cursor(s, range, &last);
	ret = ipam_pick(range, &last, used, n_used, out);
	free(used);
	if (ret < 0)
		return error_set(err, "range %s has no free address", cidr_format(range, buf));
	return 0;
}

int ipam_allocate(struct ipam_store *s, const struct cidr *ranges, size_t n_ranges,
		  const struct ipam_key *key, struct ipam_alloc *out, struct error *err)
{
	const struct ipam_alloc *existing;
	struct ipam_alloc *all;
	size_t n_all;
	int ret = 0;

	if (n_ranges == 0 || n_ranges > IPAM_MAX_RANGES)
		return error_set(err, "need 1 to %d ranges, got %zu", IPAM_MAX_RANGES, n_ranges);
	if (ipam_store_list(s, &all, &n_all, err) < 0)
		return -1;
	existing = find_key(all, n_all, key);
	memset(out, 0, sizeof(*out));
	if (existing) {
		*out = *existing;
		free(all);
		return 1;
	}
	out->key = *key;
	for (size_t i = 0; i < n_ranges && ret == 0; i++)
		ret = pick_one(s, all, n_all, &ranges[i], &out->ips[out->n_ips++], err);
	free(all);
	if (ret < 0 || write_record(s, out, err) < 0)
		return -1;
	for (size_t i = 0; i < n_ranges; i++) {
		if (write_cursor(s, &ranges[i], &out->ips[i], err) < 0) {
			remove_record(s, out, NULL);
			return -1;
		}
	}
	return 0;
}

int ipam_release(struct ipam_store *s, const struct ipam_key *key, bool *released,
		 struct error *err)
{
	const struct ipam_alloc *found;
	struct ipam_alloc *all;
	size_t n_all;
	int ret = 0;

	if (ipam_store_list(s, &all, &n_all, err) < 0)
		return -1;
	found = find_key(all, n_all, key);
	if (found)
		ret = remove_record(s, found, err);
	if (released)
		*released = found != NULL;
	free(all);
	return ret;
}

int ipam_gc(struct ipam_store *s, const struct ipam_key *valid, size_t n_valid,
	    size_t *n_released, struct error *err)
{
	struct ipam_alloc *all;
	size_t n_all;
	int ret = 0;

	*n_released = 0;
	if (ipam_store_list(s, &all, &n_all, err) < 0)
		return -1;
	for (size_t i = 0; i < n_all && ret == 0; i++) {
		bool keep = false;

		for (size_t j = 0; j < n_valid && !keep; j++)
			keep = key_equal(&all[i].key, &valid[j]);
		if (keep)
			continue;
		ret = remove_record(s, &all[i], err);
		if (ret == 0)
			(*n_released)++;
	}
	free(all);
	return ret;
}
