// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

#include <stdlib.h>
#include <string.h>

/* Copies the string member `key` into buf. Absent: 1 (or an error when
 * required); present: 0; wrong type or too long: -1. */
static int get_string(const json_t *obj, const char *key, bool required, char *buf,
		      size_t len, struct error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return required ? error_set(err, "%s is missing", key) : 1;
	if (!json_is_string(v))
		return error_set(err, "%s must be a string", key);
	if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
		return error_set(err, "%s is too long or contains NUL", key);
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int parse_version(const json_t *obj, enum cni_version *out, struct error *err)
{
	char v[32];

	if (get_string(obj, "cniVersion", true, v, sizeof(v), err) < 0)
		return CNI_ERR_CONFIG;
	if (cni_version_parse(v, out) < 0) {
		error_set(err, "cniVersion %s is not supported (supported: 0.3.0, 0.3.1, "
			  "0.4.0, 1.0.0, 1.1.0)", v);
		return CNI_ERR_VERSION;
	}
	return CNI_OK;
}

static int parse_pod_cidr(const json_t *v, size_t i, struct cni_conf *conf, struct error *err)
{
	const char *s = json_string_value(v);
	struct cidr c, net;
	char buf[CIDR_STRLEN];

	if (!s)
		return error_set(err, "podCIDRs[%zu] must be a string", i);
	if (cidr_parse(s, &c) < 0)
		return error_set(err, "podCIDRs[%zu] %s is not a CIDR", i, s);
	net = cidr_network(&c);
	if (!cidr_equal(&net, &c))
		return error_set(err, "podCIDRs[%zu] %s has host bits set (network is %s)",
				 i, s, cidr_format(&net, buf));
	if (c.prefix > ip_family_bits(c.ip.family) - 2)
		return error_set(err, "podCIDRs[%zu] %s is too small for a gateway and pods", i, s);
	for (size_t j = 0; j < conf->n_pod_cidrs; j++)
		if (conf->pod_cidrs[j].ip.family == c.ip.family)
			return error_set(err, "podCIDRs[%zu] %s: only one range per family", i, s);
	conf->pod_cidrs[conf->n_pod_cidrs++] = c;
	return 0;
}

static int parse_pod_cidrs(const json_t *obj, struct cni_conf *conf, struct error *err)
{
	const json_t *list = json_object_get(obj, "podCIDRs");
	size_t i;
	json_t *v;

	if (!list || json_is_null(list))
		return 0; /* the node has no pod CIDR yet: STATUS says so */
	if (!json_is_array(list))
		return error_set(err, "podCIDRs must be an array of CIDR strings");
	if (json_array_size(list) > IPAM_MAX_RANGES)
		return error_set(err, "podCIDRs has %zu ranges, at most %d (one per family)",
				 json_array_size(list), IPAM_MAX_RANGES);
	json_array_foreach(list, i, v)
		if (parse_pod_cidr(v, i, conf, err) < 0)
			return -1;
	return 0;
}

static int parse_mtu(const json_t *obj, uint32_t *mtu, struct error *err)
{
	const json_t *v = json_object_get(obj, "mtu");

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return error_set(err, "mtu must be an integer");
	if (json_integer_value(v) < 576 || json_integer_value(v) > 65535)
		return error_set(err, "mtu %" JSON_INTEGER_FORMAT " is outside 576..65535",
				 json_integer_value(v));
	*mtu = (uint32_t)json_integer_value(v);
	return 0;
}

static int parse_path(const json_t *obj, const char *key, char *buf, size_t len,
		      struct error *err)
{
	int ret = get_string(obj, key, false, buf, len, err);

	if (ret != 0)
		return ret < 0 ? -1 : 0;
	if (buf[0] != '/')
		return error_set(err, "%s %s is not an absolute path", key, buf);
	return 0;
}

static int parse_attachment(const json_t *v, size_t i, struct ipam_key *key, struct error *err)
{
	const char *id = json_string_value(json_object_get(v, "containerID"));
	const char *ifname = json_string_value(json_object_get(v, "ifname"));

	if (!json_is_object(v) || !id || !ifname)
		return error_set(err, "cni.dev/valid-attachments[%zu] needs string containerID "
				 "and ifname", i);
	if (ipam_key_set(key, id, ifname, err) < 0)
		return error_prefix(err, "cni.dev/valid-attachments[%zu]", i);
	return 0;
}

static int parse_valid_attachments(const json_t *obj, struct cni_conf *conf, struct error *err)
{
	const json_t *list = json_object_get(obj, "cni.dev/valid-attachments");
	size_t i;
	json_t *v;

	if (!list)
		return 0;
	if (!json_is_array(list))
		return error_set(err, "cni.dev/valid-attachments must be an array");
	if (json_array_size(list) > CNI_MAX_VALID)
		return error_set(err, "cni.dev/valid-attachments has more than %d entries",
				 CNI_MAX_VALID);
	conf->valid = calloc(json_array_size(list) + 1, sizeof(*conf->valid));
	if (!conf->valid)
		return error_set(err, "out of memory");
	json_array_foreach(list, i, v) {
		if (parse_attachment(v, i, &conf->valid[i], err) < 0)
			return -1;
		conf->n_valid++;
	}
	return 0;
}

static int parse_prev_result(const json_t *obj, struct cni_conf *conf, struct error *err)
{
	json_t *v = json_object_get(obj, "prevResult");

	if (v && !json_is_object(v))
		return error_set(err, "prevResult must be an object");
	conf->prev_result = v;
	return 0;
}

static int parse_plugin(const json_t *plugin, struct cni_conf *conf, struct error *err)
{
	char type[64];

	if (get_string(plugin, "type", true, type, sizeof(type), err) < 0 ||
	    parse_pod_cidrs(plugin, conf, err) < 0 || parse_mtu(plugin, &conf->mtu, err) < 0 ||
	    parse_path(plugin, "dataDir", conf->data_dir, sizeof(conf->data_dir), err) < 0 ||
	    parse_path(plugin, "logFile", conf->log_file, sizeof(conf->log_file), err) < 0 ||
	    parse_prev_result(plugin, conf, err) < 0 ||
	    parse_valid_attachments(plugin, conf, err) < 0)
		return CNI_ERR_CONFIG;
	return CNI_OK;
}

/* In a conflist, the first entry of type "skein". */
static const json_t *find_plugin(const json_t *root, struct error *err)
{
	const json_t *plugins = json_object_get(root, "plugins");
	size_t i;
	json_t *p;

	if (!plugins)
		return root;
	if (!json_is_array(plugins)) {
		error_set(err, "plugins must be an array");
		return NULL;
	}
	json_array_foreach(plugins, i, p) {
		const char *type = json_string_value(json_object_get(p, "type"));

		if (json_is_object(p) && type && strcmp(type, "skein") == 0)
			return p;
	}
	error_set(err, "plugins has no entry of type skein");
	return NULL;
}

static int parse_root(const json_t *root, struct cni_conf *conf, struct error *err)
{
	const json_t *plugin;
	int code;

	code = parse_version(root, &conf->version, err);
	if (code != CNI_OK)
		return code;
	if (get_string(root, "name", true, conf->name, sizeof(conf->name), err) < 0 ||
	    ipam_check_name("network name", conf->name, err) < 0)
		return CNI_ERR_CONFIG;
	plugin = find_plugin(root, err);
	if (!plugin)
		return CNI_ERR_CONFIG;
	return parse_plugin(plugin, conf, err);
}

int cni_conf_parse(const char *text, struct cni_conf *conf, struct error *err)
{
	json_error_t jerr;

	memset(conf, 0, sizeof(*conf));
	conf->version = CNI_VERSION_LATEST;
	snprintf(conf->data_dir, sizeof(conf->data_dir), "%s", CNI_DEFAULT_DATA_DIR);
	conf->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!conf->root) {
		error_set(err, "network config is not valid JSON: line %d column %d: %s",
			  jerr.line, jerr.column, jerr.text);
		return CNI_ERR_DECODE;
	}
	if (!json_is_object(conf->root)) {
		error_set(err, "network config is not a JSON object");
		return CNI_ERR_DECODE;
	}
	return parse_root(conf->root, conf, err);
}

void cni_conf_free(struct cni_conf *conf)
{
	json_decref(conf->root);
	free(conf->valid);
	conf->root = NULL;
	conf->valid = NULL;
}
