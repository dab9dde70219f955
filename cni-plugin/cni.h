/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The skein CNI plugin's modules. Parsing (env.c, config.c, result.c) is
 * pure and unit-tested; the verbs (add.c, del.c, check.c, status.c, gc.c,
 * version.c) are the thin imperative shell. A verb returns 0 or a CNI error
 * code (enum cni_code) with err naming the offending value; main.c prints
 * the result or the spec's error object.
 */
#ifndef SKEIN_CNI_H
#define SKEIN_CNI_H

#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "cni_version.h"
#include "error.h"
#include "ipam.h"
#include "link.h"
#include "nl.h"

enum cni_code {
	CNI_OK = 0,
	CNI_ERR_VERSION = 1,        /* incompatible CNI version */
	CNI_ERR_UNSUPPORTED = 2,    /* unsupported field */
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_ENV = 4,            /* invalid environment variables */
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,         /* stdin is not JSON */
	CNI_ERR_CONFIG = 7,         /* invalid network config */
	CNI_ERR_TRY_LATER = 11,
	CNI_ERR_NOT_AVAILABLE = 50, /* STATUS: cannot add containers */
	CNI_ERR_CHECK = 100,        /* CHECK found the attachment different */
};

/* -1 (err set, naming verb and both versions) when have < min. */
int cni_require_version(enum cni_version have, enum cni_version min, const char *verb,
			struct error *err);

enum cni_command { CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_STATUS,
		   CNI_CMD_GC, CNI_CMD_VERSION };

struct cni_env {
	enum cni_command command;
	struct ipam_key key;        /* set for ADD, DEL, CHECK */
	const char *netns;          /* required for ADD and CHECK, NULL if unset */
	const char *path;           /* CNI_PATH */
};

/* Reads CNI_* through lookup (getenv in the binary). Returns 0 or
 * CNI_ERR_ENV naming the missing or invalid variable. */
int cni_env_parse(char *(*lookup)(const char *), struct cni_env *env, struct error *err);

#define CNI_MAX_VALID 4096          /* GC's valid attachments we accept */

struct cni_conf {
	enum cni_version version;
	char name[IPAM_CONTAINER_ID_MAX + 1];
	struct cidr pod_cidrs[IPAM_MAX_RANGES]; /* at most one per family */
	size_t n_pod_cidrs;
	uint32_t mtu;               /* 0: the kernel's default */
	char data_dir[PATH_MAX];
	char log_file[PATH_MAX];    /* "" for stderr */
	json_t *prev_result;        /* borrowed from root; NULL if absent */
	struct ipam_key *valid;     /* GC: cni.dev/valid-attachments, NULL if absent */
	size_t n_valid;
	json_t *root;
};

#define CNI_DEFAULT_DATA_DIR "/var/lib/cni/skein"

/* Parses stdin's text: a plugin config, or a conflist whose skein entry is
 * used. Returns 0, CNI_ERR_DECODE, CNI_ERR_CONFIG or CNI_ERR_VERSION.
 * Free with cni_conf_free() whatever the outcome. */
int cni_conf_parse(const char *text, struct cni_conf *conf, struct error *err);
void cni_conf_free(struct cni_conf *conf);

/* A result as the spec describes it, bounded. */
#define CNI_MAX_IFACES 8
#define CNI_MAX_IPS 8
#define CNI_MAX_ROUTES 16

struct cni_iface {
	char name[IF_NAMESIZE];
	uint8_t mac[6];
	bool has_mac;
	uint32_t mtu;               /* 0: unset */
	char sandbox[PATH_MAX];     /* "" for the host side */
};

struct cni_ip {
	struct cidr address;
	struct ip_addr gateway;     /* family 0: none */
	int iface;                  /* index into ifaces, -1: none */
};

struct cni_route {
	struct cidr dst;
	struct ip_addr gw;          /* family 0: none */
};

struct cni_result {
	struct cni_iface ifaces[CNI_MAX_IFACES];
	size_t n_ifaces;
	struct cni_ip ips[CNI_MAX_IPS];
	size_t n_ips;
	struct cni_route routes[CNI_MAX_ROUTES];
	size_t n_routes;
};

/* The result in the shape of version v (0.3.x/0.4.0 carry "version" per
 * IP, 1.1.0 carries interface MTUs). NULL only when out of memory. */
json_t *cni_result_encode(const struct cni_result *r, enum cni_version v);
/* Reads a prevResult of any supported version. */
int cni_result_decode(const json_t *j, struct cni_result *r, struct error *err);

/* The host end of an attachment's veth: "sk" and 12 hex digits of a hash of
 * the container ID and interface name, so DEL and GC need no state. */
void cni_host_veth_name(const struct ipam_key *key, char name[IF_NAMESIZE]);
/* Whether name has that shape. */
bool cni_is_host_veth_name(const char *name);
/* The alias every host veth of network `name` carries. */
void cni_host_veth_alias(const char *network, char alias[64]);

/* What ADD and CHECK talk to: the node's namespace (where the plugin runs)
 * and the pod's, one netlink socket each. */
struct cni_wiring {
	struct nl host, pod;
	int netns_fd;
	struct link_info host_link, pod_link;
	char host_name[IF_NAMESIZE];
	bool created;               /* ADD made the veth: roll back on failure */
};

/* Opens CNI_NETNS and both sockets; close even after a failure. */
int cni_wiring_open(struct cni_wiring *w, const struct cni_env *env, struct error *err);
void cni_wiring_close(struct cni_wiring *w);

/* Verbs. ADD fills *result; the others print nothing on success. */
int cni_add(const struct cni_env *env, const struct cni_conf *conf, json_t **result,
	    struct error *err);
int cni_del(const struct cni_env *env, const struct cni_conf *conf, struct error *err);
int cni_check(const struct cni_env *env, const struct cni_conf *conf, struct error *err);
int cni_status(const struct cni_conf *conf, struct error *err);
int cni_gc(const struct cni_conf *conf, struct error *err);
/* The VERSION reply. */
json_t *cni_version_info(void);

/* Writes j compactly to fd 1 with a newline; -1 on a short write. */
int cni_print_json(const json_t *j);
/* The spec's error object for code/msg, in version v. */
void cni_print_error(enum cni_version v, int code, const char *msg);
/* All of stdin, NUL-terminated; NULL (err set) on failure. free() it. */
char *cni_read_stdin(struct error *err);
/* Sends diagnostics (stderr) to the file at path; "" keeps stderr. */
int cni_log_to(const char *path, struct error *err);

#endif
