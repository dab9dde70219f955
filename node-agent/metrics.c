// SPDX-License-Identifier: GPL-2.0-or-later
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const error_kind_names[ERR_KINDS] = {
	"topology", "detect", "publish", "link", "wireguard", "encap", "route", "rule", "nft", "sysctl",
	"cni",
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct metrics *metrics;
};

/* A growing text buffer; a failed append leaves it NULL. */
struct text {
	char *buf;
	size_t len, cap;
};

static void append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->buf)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			free(t->buf);
			t->buf = NULL;
			return;
		}
		if ((size_t)n < t->cap - t->len)
			break;
		char *bigger = realloc(t->buf, t->cap * 2 + (size_t)n);

		if (!bigger) {
			free(t->buf);
			t->buf = NULL;
			return;
		}
		t->buf = bigger;
		t->cap = t->cap * 2 + (size_t)n;
	}
	t->len += (size_t)n;
}

static void metric(struct text *t, const char *name, const char *type, const char *help, double value)
{
	append(t, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

char *metrics_render(const struct metric_values *v)
{
	struct text t = { malloc(2048), 0, 2048 };
	static const char *const writes = "skein_node_writes_total";

	metric(&t, "skein_nodes", "gauge", "Nodes in the cluster model.", (double)v->nodes);
	metric(&t, "skein_peers", "gauge", "WireGuard peers of this node.", (double)v->peers);
	metric(&t, "skein_is_leader", "gauge", "1 when this node leads its location.", v->is_leader);
	metric(&t, "skein_reconciles_total", "counter", "Reconciles run.", (double)v->reconciles);
	metric(&t, "skein_reconcile_applies_total", "counter",
	       "Reconciles that compared the node with the plan.", (double)v->applies);
	append(&t, "# HELP skein_reconcile_errors_total Failed reconcile steps, by kind.\n"
		   "# TYPE skein_reconcile_errors_total counter\n");
	for (size_t i = 0; i < ERR_KINDS; i++)
		append(&t, "skein_reconcile_errors_total{kind=\"%s\"} %lu\n", error_kind_names[i],
		       v->errors[i]);
	append(&t, "# HELP skein_reconcile_duration_seconds Time spent reconciling.\n"
		   "# TYPE skein_reconcile_duration_seconds summary\n"
		   "skein_reconcile_duration_seconds_sum %.9f\n"
		   "skein_reconcile_duration_seconds_count %lu\n",
	       v->duration_sum, v->reconciles);
	append(&t, "# HELP %s Writes to the node, by kind.\n# TYPE %s counter\n", writes, writes);
	append(&t, "%s{kind=\"netlink\"} %lu\n%s{kind=\"wireguard\"} %lu\n"
		   "%s{kind=\"nft\"} %lu\n%s{kind=\"cni\"} %lu\n",
	       writes, v->netlink_writes, writes, v->wg_writes, writes, v->nft_writes, writes,
	       v->cni_writes);
	return t.buf;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body,
			     enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, mode);
	enum MHD_Result rc;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static char ok[] = "ok\n", not_found[] = "not found\n", bad_method[] = "method not allowed\n";
	struct http_server *s = cls;
	struct metric_values v;
	char *text;

	(void)version; (void)upload; (void)upload_size; (void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, bad_method, MHD_RESPMEM_PERSISTENT,
			     "text/plain");
	if (!strcmp(url, "/healthz"))
		return reply(conn, MHD_HTTP_OK, ok, MHD_RESPMEM_PERSISTENT, "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found, MHD_RESPMEM_PERSISTENT, "text/plain");
	pthread_mutex_lock(&s->metrics->lock);
	v = s->metrics->v;
	pthread_mutex_unlock(&s->metrics->lock);
	if (!(text = metrics_render(&v)))
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, text, MHD_RESPMEM_MUST_FREE, "text/plain; version=0.0.4");
}

struct http_server *http_start(const struct listen_addr *l, struct metrics *m, struct error *err)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(l->port) };
	struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons(l->port) };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	const struct sockaddr *sa = (const struct sockaddr *)&sa6;
	char buf[INET6_ADDRSTRLEN];

	if (!s) {
		error_set(err, "HTTP server: out of memory");
		return NULL;
	}
	s->metrics = m;
	if (l->has_ip && l->ip.family == AF_INET) {
		sa4.sin_addr = l->ip.v4;
		sa = (const struct sockaddr *)&sa4;
	} else {
		/* Without an address: both families on one socket. */
		flags |= l->has_ip ? MHD_USE_IPv6 : MHD_USE_DUAL_STACK;
		sa6.sin6_addr = l->has_ip ? l->ip.v6 : in6addr_any;
	}
	s->daemon = MHD_start_daemon(flags, l->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
				     sa, MHD_OPTION_END);
	if (!s->daemon) {
		error_set(err, "HTTP server: cannot listen on %s port %u",
			  l->has_ip ? ip_format(&l->ip, buf) : "any address", l->port);
		free(s);
		return NULL;
	}
	return s;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
