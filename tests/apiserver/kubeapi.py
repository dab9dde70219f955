# SPDX-License-Identifier: GPL-2.0-or-later
"""What the test API server says about itself: /version, discovery
documents, OpenAPI v3 (just enough for kubectl's strict validation and
apply), server-side Tables for `kubectl get`, selectors, Status errors."""

import datetime
import hashlib
import json
import re

from store import encode

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/apply-patch+yaml"]


class ApiError(Exception):
    """A failure answered as a metav1.Status."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            s["details"] = self.details
        return s


def not_found(r, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (_qualified(r), name),
                    {"name": name, "group": r.group, "kind": r.plural})


def _qualified(r):
    return r.plural + ("." + r.group if r.group else "")


def invalid(r, name, causes):
    text = ", ".join("%s: %s" % (f, m) for f, m in causes)
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (r.kind, name, text),
                    {"name": name, "group": r.group, "kind": r.kind,
                     "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f}
                                for f, m in causes]})


def version_info():
    return {"major": "1", "minor": "32", "gitVersion": "v1.32.0-skein-test",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
            "platform": "linux/amd64"}


def _by_group(resources):
    groups = {}
    for r in resources:
        groups.setdefault((r.group, r.version), []).append(r)
    return groups


def api_versions(address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def api_group_list(resources):
    groups = []
    for (group, version) in sorted(_by_group(resources)):
        if not group:
            continue
        gv = {"groupVersion": "%s/%s" % (group, version), "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(resources, group):
    for g in api_group_list(resources)["groups"]:
        if g["name"] == group:
            return dict(g, kind="APIGroup", apiVersion="v1")
    return None


def api_resource_list(resources, group, version):
    items = []
    for r in sorted(resources, key=lambda r: r.plural):
        if (r.group, r.version) != (group, version):
            continue
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": VERBS}
        if r.short:
            entry["shortNames"] = r.short
        if r.categories:
            entry["categories"] = r.categories
        items.append(entry)
        if r.status:
            items.append({"name": r.plural + "/status", "singularName": "",
                          "namespaced": r.namespaced, "kind": r.kind,
                          "verbs": ["get", "patch", "update"]})
    if not items:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/%s" % (group, version) if group else version,
            "resources": items}


# OpenAPI v3 -----------------------------------------------------------------

def _base(group, version):
    return "/apis/%s/%s" % (group, version) if group else "/api/" + version


def _schema_name(r):
    prefix = ".".join(reversed(r.group.split("."))) if r.group else "io.k8s.api.core"
    return "%s.%s.%s" % (prefix, r.version, r.kind)


def _operation(action, r, params, body=None):
    op = {"operationId": "%s%s" % (action, r.kind), "x-kubernetes-action": action,
          "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version,
                                              "kind": r.kind},
          "parameters": params,
          "responses": {"200": {"description": "OK", "content": {"application/json": {
              "schema": {"$ref": "#/components/schemas/" + _schema_name(r)}}}}}}
    if body:
        op["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in body},
                             "required": True}
    return op


def _query(names):
    return [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
            for n in names]


def openapi_group_version(resources, group, version):
    """The group-version document: every path with its operations (PATCH
    declares fieldValidation, which is what kubectl checks before it relies
    on the server to validate) and a schema per kind."""
    paths, schemas = {}, {}
    write = _query(["dryRun", "fieldManager", "fieldValidation"])
    for r in resources:
        if (r.group, r.version) != (group, version):
            continue
        coll = _base(group, version) + ("/namespaces/{namespace}" if r.namespaced else "") \
            + "/" + r.plural
        paths[coll] = {"get": _operation("list", r, _query(["limit", "continue", "watch",
                                                             "resourceVersion",
                                                             "labelSelector",
                                                             "fieldSelector"])),
                       "post": _operation("post", r, write, ["application/json"])}
        item = {"get": _operation("get", r, []),
                "put": _operation("put", r, write, ["application/json"]),
                "delete": _operation("delete", r, _query(["dryRun"])),
                "patch": _operation("patch", r, write + _query(["force"]), PATCH_TYPES)}
        paths[coll + "/{name}"] = item
        if r.status:
            paths[coll + "/{name}/status"] = {k: item[k] for k in ("get", "put", "patch")}
        schema = dict(r.schema) if r.schema else {"type": "object"}
        props = dict(schema.get("properties", {}))
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        schema["properties"] = props
        if not r.schema:
            schema["x-kubernetes-preserve-unknown-fields"] = True
        schema["x-kubernetes-group-version-kind"] = [{"group": r.group, "version": r.version,
                                                      "kind": r.kind}]
        schemas[_schema_name(r)] = schema
    if not paths:
        return None
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0-skein-test"},
            "paths": paths, "components": {"schemas": schemas}}


def openapi_root(resources):
    paths = {}
    for (group, version) in sorted(_by_group(resources)):
        doc = openapi_group_version(resources, group, version)
        digest = hashlib.sha256(encode(doc)).hexdigest()[:32].upper()
        key = _base(group, version)[1:]
        paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, digest)}
    return {"paths": paths}


# Tables ----------------------------------------------------------------------

def age(timestamp):
    try:
        then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(0, int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()))
    if s < 120:
        return "%ds" % s
    m, h, d = s // 60, s // 3600, s // 86400
    if m < 10:
        return "%dm%ds" % (m, s % 60)
    if h < 3:
        return "%dm" % m
    if h < 8:
        return "%dh%dm" % (h, m % 60)
    if h < 48:
        return "%dh" % h
    if d < 8:
        return "%dd%dh" % (d, h % 24)
    return "%dd" % d


def _column(name, kind="string", priority=0, fmt=""):
    return {"name": name, "type": kind, "format": fmt, "description": name,
            "priority": priority}


def _node_status(node):
    ready = "Unknown"
    for c in node.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            ready = {"True": "Ready", "False": "NotReady"}.get(c.get("status"), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_address(node, kind):
    for a in node.get("status", {}).get("addresses", []):
        if a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


def _node_row(node):
    labels = node["metadata"].get("labels", {})
    roles = sorted(k.split("/", 1)[1] for k in labels
                   if k.startswith("node-role.kubernetes.io/"))
    info = node.get("status", {}).get("nodeInfo", {})
    return [node["metadata"]["name"], _node_status(node), ",".join(roles) or "<none>",
            age(node["metadata"].get("creationTimestamp")), info.get("kubeletVersion", ""),
            _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
            info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


NODE_COLUMNS = [_column("Name", fmt="name"), _column("Status"), _column("Roles"),
                _column("Age"), _column("Version"), _column("Internal-IP", priority=1),
                _column("External-IP", priority=1), _column("OS-Image", priority=1),
                _column("Kernel-Version", priority=1), _column("Container-Runtime", priority=1)]


def _json_path(obj, path):
    value = obj
    for part in path.strip().lstrip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _cell(value, kind):
    if value is None:
        return None
    if kind == "date":
        return age(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def table(r, objs, rv, cont, remaining):
    if r.kind == "Node":
        columns, rows = NODE_COLUMNS, [_node_row(o) for o in objs]
    else:
        extra = [c for c in r.columns if c.get("jsonPath") != ".metadata.creationTimestamp"]
        columns = [_column("Name", fmt="name")] + \
            [_column(c["name"], c.get("type", "string"), c.get("priority", 0)) for c in extra] + \
            [_column("Age", "string")]
        rows = [[o["metadata"]["name"]] +
                [_cell(_json_path(o, c["jsonPath"]), c.get("type")) for c in extra] +
                [age(o["metadata"].get("creationTimestamp"))] for o in objs]
    meta = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
        meta["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": columns,
            "rows": [{"cells": cells, "object": {"kind": "PartialObjectMetadata",
                                                 "apiVersion": "meta.k8s.io/v1",
                                                 "metadata": o["metadata"]}}
                     for cells, o in zip(rows, objs)]}


def wants_table(accept):
    return "as=Table" in (accept or "")


# Selectors -------------------------------------------------------------------

def _split_terms(text):
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            terms.append(cur.strip())
            cur = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        cur += ch
    if cur.strip():
        terms.append(cur.strip())
    return terms


_SET_TERM = re.compile(r"^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$")


def _label_term(term):
    m = _SET_TERM.match(term)
    if m:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (s.strip() for s in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        return lambda labels: term[1:] not in labels
    return lambda labels: term in labels


def selector(label_sel, field_sel):
    """A predicate on objects for labelSelector/fieldSelector, or None."""
    tests = [(_label_term(t), "labels") for t in _split_terms(label_sel or "")]
    for term in _split_terms(field_sel or ""):
        op = "!=" if "!=" in term else ("==" if "==" in term else "=")
        path, value = (s.strip() for s in term.split(op, 1))
        if op == "!=":
            tests.append(((lambda p, v: lambda o: str(_json_path(o, p) or "") != v)(path, value),
                          "object"))
        else:
            tests.append(((lambda p, v: lambda o: str(_json_path(o, p) or "") == v)(path, value),
                          "object"))
    if not tests:
        return None

    def keep(obj):
        labels = obj.get("metadata", {}).get("labels", {})
        return all(t(labels) if what == "labels" else t(obj) for t, what in tests)
    return keep
