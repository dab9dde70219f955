# SPDX-License-Identifier: GPL-2.0-or-later
"""Validates a custom object against its CRD's openAPIV3Schema, as the real
API server does for the keywords skein's CRD uses: type, properties,
required, items, oneOf, pattern, minimum/maximum, minLength/maxLength,
minItems/maxItems, enum. Returns a list of (field path, message) causes."""

import re

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool,
    "integer": int, "number": (int, float),
}


def _type_ok(value, kind):
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return kind not in _TYPES or isinstance(value, _TYPES[kind])


def _check_scalar(schema, value, path, causes):
    if "enum" in schema and value not in schema["enum"]:
        causes.append((path, "Unsupported value: %r: supported values: %s" %
                       (value, ", ".join(repr(e) for e in schema["enum"]))))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            causes.append((path, "Invalid value: %r: %s in body should match '%s'" %
                           (value, path, schema["pattern"])))
        if "minLength" in schema and len(value) < schema["minLength"]:
            causes.append((path, "Invalid value: %r: should be at least %d chars long" %
                           (value, schema["minLength"])))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            causes.append((path, "Too long: may not be more than %d bytes" % schema["maxLength"]))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append((path, "Invalid value: %s: %s in body should be greater than or equal to %s" %
                           (value, path, schema["minimum"])))
        if "maximum" in schema and value > schema["maximum"]:
            causes.append((path, "Invalid value: %s: %s in body should be less than or equal to %s" %
                           (value, path, schema["maximum"])))


def validate(schema, value, path=""):
    causes = []
    _validate(schema or {}, value, path, causes)
    return causes


def _validate(schema, value, path, causes):
    kind = schema.get("type")
    if value is None:
        if not schema.get("nullable"):
            causes.append((path, "Invalid value: \"null\": %s in body must be of type %s" % (path, kind)))
        return
    if kind and not _type_ok(value, kind):
        causes.append((path, "Invalid value: %r: %s in body must be of type %s" % (value, path, kind)))
        return
    _check_scalar(schema, value, path, causes)
    if "oneOf" in schema:
        matches = sum(1 for alt in schema["oneOf"] if not validate(alt, value, path))
        if matches != 1:
            causes.append((path, "Invalid value: %s must validate one and only one schema "
                           "(oneOf), found %d" % (path or "body", matches)))
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                causes.append((_join(path, name), "Required value"))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, child in value.items():
            if name in props:
                _validate(props[name], child, _join(path, name), causes)
            elif isinstance(extra, dict):
                _validate(extra, child, _join(path, name), causes)
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            causes.append((path, "Invalid value: %d: %s in body should have at least %d items" %
                           (len(value), path, schema["minItems"])))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            causes.append((path, "Too many: %d: must have at most %d items" % (len(value), schema["maxItems"])))
        for n, item in enumerate(value):
            _validate(schema.get("items", {}), item, "%s[%d]" % (path, n), causes)


def _join(path, name):
    return "%s.%s" % (path, name) if path else name


def prune(schema, value):
    """Drops fields the schema does not declare (structural pruning), unless
    x-kubernetes-preserve-unknown-fields is set."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict) and ("properties" in schema or schema.get("type") == "object"):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for name, child in value.items():
            if name in props:
                out[name] = prune(props[name], child)
            elif isinstance(extra, dict):
                out[name] = prune(extra, child)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(schema["items"], v) for v in value]
    return value
