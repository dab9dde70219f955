// SPDX-License-Identifier: GPL-2.0-or-later
#include "kube.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#define CONNECT_TIMEOUT_S 10
#define REQUEST_TIMEOUT_S 60
/* A request moving less than a byte a second for this long is dead. */
#define LOW_SPEED_TIME_S 30
#define BODY_MAX ((size_t)512 << 20)

struct kube_client {
	struct kube_config cfg;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

struct transfer {
	CURL *h;
	struct kube_response *resp;
	size_t cap;
	kube_stream_fn stream;
	kube_abort_fn should_abort;
	void *ctx;
	bool stopped; /* the caller asked to stop: not a failure */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct kube_client *c = userp;

	(void)h;
	(void)access;
	pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct kube_client *c = userp;

	(void)h;
	pthread_mutex_unlock(&c->locks[data]);
}

struct kube_client *kube_client_new(struct kube_config *cfg, struct error *err)
{
	struct kube_client *c;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		error_set(err, "libcurl: %s", curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->share = curl_share_init())) {
		free(c);
		error_set(err, "out of memory");
		return NULL;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	return c;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	kube_config_free(&c->cfg);
	free(c);
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
	return &c->cfg;
}

void kube_response_free(struct kube_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	struct kube_response *r = t->resp;
	size_t n = size * nmemb;
	long status = 0;

	/* Only a 200 is a stream; an error's Status body is kept whole. */
	if (t->stream && curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status == 200) {
		if (t->stream(data, n, t->ctx)) {
			t->stopped = true;
			return 0;
		}
		return n;
	}
	if (r->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 16384;
		char *body;

		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > BODY_MAX || !(body = realloc(r->body, cap)))
			return 0;
		r->body = body;
		t->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char *end;
		unsigned long v = strtoul(data + sizeof(name) - 1, &end, 10);

		/* Only the delta-seconds form; an HTTP date is rare from the API. */
		if (end != data + sizeof(name) - 1)
			t->resp->retry_after = v > 3600 ? 3600 : (unsigned)v;
	}
	return n;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = userp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (t->should_abort && t->should_abort(t->ctx)) {
		t->stopped = true;
		return 1;
	}
	return 0;
}

static void set_tls(CURL *h, const struct kube_config *cfg)
{
	struct curl_blob blob;

	if (cfg->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->ca_pem) {
		blob = (struct curl_blob){ cfg->ca_pem, strlen(cfg->ca_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (cfg->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->cert_pem) {
		blob = (struct curl_blob){ cfg->cert_pem, strlen(cfg->cert_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
	}
	if (cfg->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->key_pem) {
		blob = (struct curl_blob){ cfg->key_pem, strlen(cfg->key_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
	}
}

static int add_header(struct curl_slist **list, const char *line, struct error *err)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return error_set(err, "out of memory");
	*list = l;
	return 0;
}

static int build_headers(struct kube_client *c, const char *content_type, struct curl_slist **list,
			 struct error *err)
{
	char *token, *line;
	int rc;

	*list = NULL;
	if (add_header(list, "Accept: application/json", err) < 0)
		return -1;
	if (content_type && (asprintf(&line, "Content-Type: %s", content_type) < 0 ||
			     (rc = add_header(list, line, err), free(line), rc) < 0))
		return error_set(err, "out of memory");
	if (kube_config_token(&c->cfg, &token, err) < 0)
		return -1;
	if (!token)
		return 0;
	rc = asprintf(&line, "Authorization: Bearer %s", token);
	free(token);
	if (rc < 0)
		return error_set(err, "out of memory");
	rc = add_header(list, line, err);
	free(line);
	return rc;
}

/* Performs one request: method NULL is GET; body is sent when not NULL. */
static int perform(struct kube_client *c, const char *method, const char *path, const char *body,
		   const char *content_type, long max_seconds, struct transfer *t, struct error *err)
{
	struct curl_slist *headers = NULL;
	char *url = NULL;
	CURLcode rc;
	CURL *h;

	memset(t->resp, 0, sizeof(*t->resp));
	if (build_headers(c, content_type, &headers, err) < 0) {
		curl_slist_free_all(headers);
		return -1;
	}
	if (asprintf(&url, "%s%s", c->cfg.server, path) < 0)
		url = NULL;
	if (!url || !(h = curl_easy_init())) {
		free(url);
		curl_slist_free_all(headers);
		return error_set(err, "out of memory");
	}
	t->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "skein/" SKEIN_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, max_seconds);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 15L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	if (!t->stream) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_TIME_S);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	if (t->should_abort) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
	}
	if (method)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	set_tls(h, &c->cfg);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->resp->status);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	free(url);
	if (rc != CURLE_OK && !(t->stopped || (t->stream && rc == CURLE_OPERATION_TIMEDOUT &&
					       t->resp->status != 0))) {
		kube_response_free(t->resp);
		return error_set(err, "%s %s: %s", method ? method : "GET", path, curl_easy_strerror(rc));
	}
	return 0;
}

int kube_get(struct kube_client *c, const char *path, struct kube_response *resp, struct error *err)
{
	struct transfer t = { .resp = resp };

	return perform(c, NULL, path, NULL, NULL, REQUEST_TIMEOUT_S, &t, err);
}

int kube_stream(struct kube_client *c, const char *path, long max_seconds, kube_stream_fn fn,
		kube_abort_fn should_abort, void *ctx, struct kube_response *resp, struct error *err)
{
	struct transfer t = { .resp = resp, .stream = fn, .should_abort = should_abort, .ctx = ctx };

	return perform(c, NULL, path, NULL, NULL, max_seconds, &t, err);
}

int kube_patch_merge(struct kube_client *c, const char *path, const json_t *patch,
		     struct kube_response *resp, struct error *err)
{
	struct transfer t = { .resp = resp };
	char *body = json_dumps(patch, JSON_COMPACT);
	int rc;

	if (!body)
		return error_set(err, "out of memory");
	rc = perform(c, "PATCH", path, body, "application/merge-patch+json", REQUEST_TIMEOUT_S, &t, err);
	free(body);
	return rc;
}

static bool annotation_is(const json_t *current, const char *key, const char *value)
{
	const json_t *v = json_object_get(current, key);

	if (!value)
		return !v;
	return json_is_string(v) && strcmp(json_string_value(v), value) == 0;
}

int kube_patch_node_annotations(struct kube_client *c, const char *node, const json_t *current,
				const char *const keys[], const char *const values[], size_t n,
				struct error *err)
{
	struct kube_response resp;
	json_t *annotations = json_object(), *patch;
	char *name = NULL, *path = NULL;
	int rc = -1;

	if (!annotations)
		return error_set(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (annotation_is(current, keys[i], values[i]))
			continue;
		if (json_object_set_new(annotations, keys[i], values[i] ? json_string(values[i]) : json_null()) < 0) {
			json_decref(annotations);
			return error_set(err, "annotation %s: value is not UTF-8", keys[i]);
		}
	}
	if (json_object_size(annotations) == 0) {
		json_decref(annotations);
		return 0;
	}
	patch = json_pack("{s:{s:o}}", "metadata", "annotations", annotations);
	if (!patch || !(name = kube_escape(node)) || asprintf(&path, "/api/v1/nodes/%s", name) < 0) {
		path = NULL;
		error_set(err, "out of memory");
		goto out;
	}
	if (kube_patch_merge(c, path, patch, &resp, err) < 0)
		goto out;
	if (resp.status / 100 != 2)
		error_set(err, "PATCH node %s: HTTP %ld: %.200s", node, resp.status, resp.body ? resp.body : "");
	else
		rc = 1;
	kube_response_free(&resp);
out:
	free(name);
	free(path);
	json_decref(patch);
	return rc;
}

char *kube_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch)) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}
