// SPDX-License-Identifier: GPL-2.0-or-later
#include "kube_watch.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
	[KUBE_EVENT_ADDED] = "ADDED",
	[KUBE_EVENT_MODIFIED] = "MODIFIED",
	[KUBE_EVENT_DELETED] = "DELETED",
	[KUBE_EVENT_BOOKMARK] = "BOOKMARK",
	[KUBE_EVENT_ERROR] = "ERROR",
};

void kube_watch_init(struct kube_watch_parser *p, size_t max_event, kube_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->max = max_event;
	p->fn = fn;
	p->ctx = ctx;
}

void kube_watch_reset(struct kube_watch_parser *p)
{
	p->len = 0;
	p->depth = 0;
	p->in_string = p->escaped = false;
}

void kube_watch_free(struct kube_watch_parser *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
}

int kube_status_code(const json_t *status)
{
	return (int)json_integer_value(json_object_get(status, "code"));
}

static int append(struct kube_watch_parser *p, const char *data, size_t n)
{
	if (p->len + n > p->max) {
		error_set(&p->err, "watch event larger than %zu bytes", p->max);
		return -1;
	}
	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *buf;

		while (cap < p->len + n)
			cap *= 2;
		if (!(buf = realloc(p->buf, cap))) {
			error_set(&p->err, "out of memory");
			return -1;
		}
		p->buf = buf;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	return 0;
}

static int parse_type(const char *s, enum kube_event_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*out = (enum kube_event_type)i;
			return 0;
		}
	}
	return -1;
}

static int emit(struct kube_watch_parser *p)
{
	json_error_t jerr;
	json_t *ev = json_loadb(p->buf, p->len, 0, &jerr), *obj;
	const char *type;
	enum kube_event_type t;
	int rc;

	p->len = 0;
	if (!ev) {
		error_set(&p->err, "watch event: bad JSON at byte %d: %s", jerr.position, jerr.text);
		return -1;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || parse_type(type, &t) < 0 || !json_is_object(obj)) {
		error_set(&p->err, "watch event: missing or unknown type \"%s\" or no object",
			  type ? type : "");
		json_decref(ev);
		return -1;
	}
	rc = p->fn(t, obj, p->ctx) ? 1 : 0;
	json_decref(ev);
	return rc;
}

/* Advances the framing state over one byte; true when it closes an event. */
static bool scan_byte(struct kube_watch_parser *p, char ch)
{
	if (p->in_string) {
		if (p->escaped)
			p->escaped = false;
		else if (ch == '\\')
			p->escaped = true;
		else if (ch == '"')
			p->in_string = false;
		return false;
	}
	if (ch == '"')
		p->in_string = true;
	else if (ch == '{' || ch == '[')
		p->depth++;
	else if (ch == '}' || ch == ']')
		return --p->depth == 0;
	return false;
}

int kube_watch_feed(struct kube_watch_parser *p, const char *data, size_t len)
{
	size_t start = 0, i = 0;

	while (i < len) {
		/* Between events only whitespace may appear. */
		if (p->depth == 0 && p->len == 0 && !p->in_string) {
			if (strchr(" \t\r\n", data[i]) && data[i]) {
				start = ++i;
				continue;
			}
			if (data[i] != '{') {
				error_set(&p->err, "watch stream: unexpected byte 0x%02x between events",
					  (unsigned char)data[i]);
				return -1;
			}
		}
		if (!scan_byte(p, data[i++]))
			continue;
		if (append(p, data + start, i - start) < 0)
			return -1;
		start = i;
		int rc = emit(p);
		if (rc != 0)
			return rc;
	}
	if (start < len && append(p, data + start, len - start) < 0)
		return -1;
	return 0;
}
