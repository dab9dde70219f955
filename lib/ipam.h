/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CNI plugin's address management. A pure core (pick the next free
 * address of a range; name and parse allocation records) and a store on
 * disk: DATA_DIR/NETWORK/ holds one empty file per attachment named
 * "IP[,IP]|CONTAINER_ID|IFNAME", a "last-RANGE" cursor per range and a
 * "lock" file. One readdir gives every allocation, so neither ADD nor DEL
 * reads file contents. Every operation holds flock(lock) for its duration;
 * files are 0600, directories 0700, and nothing below DATA_DIR is opened
 * through a symlink (O_NOFOLLOW).
 */
#ifndef SKEIN_IPAM_H
#define SKEIN_IPAM_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"
#include "error.h"

#define IPAM_MAX_RANGES 2          /* one per family */
#define IPAM_CONTAINER_ID_MAX 128  /* keeps record names under NAME_MAX */

struct ipam_key {
	char container_id[IPAM_CONTAINER_ID_MAX + 1];
	char ifname[IF_NAMESIZE];
};

struct ipam_alloc {
	struct ipam_key key;
	struct ip_addr ips[IPAM_MAX_RANGES];
	size_t n_ips;
};

/* libcni's rule for container IDs, [a-zA-Z0-9][a-zA-Z0-9_.-]* with at most
 * 128 characters, applied to any name that ends up as a file name; `what`
 * names the value in the message ("network name"). */
int ipam_check_name(const char *what, const char *s, struct error *err);
int ipam_check_container_id(const char *id, struct error *err);
/* 1-15 characters, not "." or "..", no '/', ':' or whitespace. */
int ipam_check_ifname(const char *name, struct error *err);
/* Both of the above, then fills key. */
int ipam_key_set(struct ipam_key *key, const char *container_id, const char *ifname,
		 struct error *err);

/* The gateway of a range: its first address after the network address. */
int ipam_gateway(const struct cidr *range, struct ip_addr *out);
/* Whether ip may be handed out: inside range, not the network address, not
 * the gateway, not the IPv4 broadcast address. */
bool ipam_assignable(const struct cidr *range, const struct ip_addr *ip);
/* The first assignable address after `last` (family 0: from the start)
 * that is not in `used` (sorted by ip_cmp), wrapping around once, so a just
 * released address is the last to be reused. -1 when the range is full. */
int ipam_pick(const struct cidr *range, const struct ip_addr *last,
	      const struct ip_addr *used, size_t n_used, struct ip_addr *out);

/* Record file names. name needs NAME_MAX + 1 bytes. */
int ipam_record_name(const struct ipam_alloc *a, char *name, size_t len);
/* -1 for names that are not records (the lock, cursors, strangers). */
int ipam_record_parse(const char *name, struct ipam_alloc *out);

struct ipam_store {
	int dir_fd;
	int lock_fd;
};

/* Creates DATA_DIR/NETWORK as needed and takes the lock (blocking). */
int ipam_store_open(struct ipam_store *s, const char *data_dir, const char *network,
		    struct error *err);
/* Drops the lock. */
void ipam_store_close(struct ipam_store *s);
/* Every record; *out is malloc'ed, free() it. */
int ipam_store_list(struct ipam_store *s, struct ipam_alloc **out, size_t *n,
		    struct error *err);

/* One address from each range for key: returns 0. If key already holds an
 * allocation it is returned unchanged and the result is 1 (a retried ADD
 * gets the same addresses, and must not release them if it fails). */
int ipam_allocate(struct ipam_store *s, const struct cidr *ranges, size_t n_ranges,
		  const struct ipam_key *key, struct ipam_alloc *out, struct error *err);
/* Releases key's allocation; releasing nothing is not an error. *released
 * (may be NULL) tells whether there was one. */
int ipam_release(struct ipam_store *s, const struct ipam_key *key, bool *released,
		 struct error *err);
/* Releases every allocation whose key is not in valid; *n_released counts. */
int ipam_gc(struct ipam_store *s, const struct ipam_key *valid, size_t n_valid,
	    size_t *n_released, struct error *err);

#endif
