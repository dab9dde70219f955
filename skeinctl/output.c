// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "skeinctl.h"

int output_format_parse(const char *s, enum output_format *out)
{
	static const char *const names[] = { "wireguard", "json", "yaml" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum output_format)i;
			return 0;
		}
	}
	return -1;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) ? 0 : -1;
}

/* A string a YAML reader would take for a number, boolean or null. */
static bool reads_as_other_type(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n" };
	char *end;

	if (!*s)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	strtod(s, &end);
	return !*end;
}

/* Plain when the text reads back as the same string, else quoted. */
static int emit_scalar(yaml_emitter_t *e, const char *text, bool is_string)
{
	bool quote = is_string && reads_as_other_type(text);
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
					  !quote, 1,
					  quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE))
		return -1;
	return emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, const json_t *v);

static int emit_object(yaml_emitter_t *e, const json_t *v)
{
	yaml_event_t ev;
	const char *key;
	json_t *item;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
	    emit(e, &ev) < 0)
		return -1;
	json_object_foreach((json_t *)v, key, item)
		if (emit_scalar(e, key, true) < 0 || emit_value(e, item) < 0)
			return -1;
	return yaml_mapping_end_event_initialize(&ev) ? emit(e, &ev) : -1;
}

static int emit_array(yaml_emitter_t *e, const json_t *v)
{
	yaml_event_t ev;
	size_t i;
	json_t *item;

	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
	    emit(e, &ev) < 0)
		return -1;
	json_array_foreach(v, i, item)
		if (emit_value(e, item) < 0)
			return -1;
	return yaml_sequence_end_event_initialize(&ev) ? emit(e, &ev) : -1;
}

static int emit_value(yaml_emitter_t *e, const json_t *v)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT: return emit_object(e, v);
	case JSON_ARRAY: return emit_array(e, v);
	case JSON_STRING: return emit_scalar(e, json_string_value(v), true);
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(e, buf, false);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return emit_scalar(e, buf, false);
	case JSON_TRUE: return emit_scalar(e, "true", false);
	case JSON_FALSE: return emit_scalar(e, "false", false);
	case JSON_NULL: return emit_scalar(e, "null", false);
	}
	return -1;
}

static int write_yaml(FILE *f, const json_t *v)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int rc = -1;

	if (!yaml_emitter_initialize(&e))
		return -1;
	yaml_emitter_set_output_file(&e, f);
	yaml_emitter_set_unicode(&e, 1);
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && emit(&e, &ev) == 0 &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && emit(&e, &ev) == 0 &&
	    emit_value(&e, v) == 0 && yaml_document_end_event_initialize(&ev, 1) &&
	    emit(&e, &ev) == 0 && yaml_stream_end_event_initialize(&ev) && emit(&e, &ev) == 0)
		rc = 0;
	yaml_emitter_delete(&e);
	return rc;
}

int output_write(FILE *f, const json_t *v, enum output_format format, struct error *err)
{
	if (format == OUTPUT_YAML)
		return write_yaml(f, v) < 0 ? error_set(err, "cannot write YAML") : 0;
	if (json_dumpf(v, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		return error_set(err, "cannot write JSON");
	fputc('\n', f);
	return 0;
}
