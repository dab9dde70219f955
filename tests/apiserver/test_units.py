#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Table tests of the test API server's pure parts: merge patch (the RFC 7386
appendix), JSON patch (RFC 6902), strategic merge patch, schema validation,
selectors and the store's history. Prints PASS:/FAIL: lines for
tests/run.sh; run by tests/integration/test_apiserver_units.sh."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubeapi  # noqa: E402
import patch  # noqa: E402
import schema  # noqa: E402
from store import Gone, Store  # noqa: E402

failures = 0


def case(name, got, want):
    global failures
    if got == want:
        print("PASS: %s" % name)
    else:
        failures += 1
        print("FAIL: %s: got %r, want %r" % (name, got, want))


# RFC 7386, Appendix A, every row.
MERGE = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]
for n, (target, p, want) in enumerate(MERGE):
    case("merge patch RFC 7386 example %d" % (n + 1), patch.merge_patch(target, p), want)
original = {"a": {"b": 1}}
patch.merge_patch(original, {"a": {"b": 2}})
case("merge patch leaves its input alone", original, {"a": {"b": 1}})

DOC = {"foo": ["bar", "baz"], "o": {"k": 1}}
JSON_PATCH = [
    ("add to an array", [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"], "o": {"k": 1}}),
    ("append with -", [{"op": "add", "path": "/foo/-", "value": "x"}],
     {"foo": ["bar", "baz", "x"], "o": {"k": 1}}),
    ("remove", [{"op": "remove", "path": "/o/k"}], {"foo": ["bar", "baz"], "o": {}}),
    ("replace", [{"op": "replace", "path": "/foo/0", "value": 9}],
     {"foo": [9, "baz"], "o": {"k": 1}}),
    ("move", [{"op": "move", "from": "/o/k", "path": "/m"}],
     {"foo": ["bar", "baz"], "o": {}, "m": 1}),
    ("copy", [{"op": "copy", "from": "/o", "path": "/p"}],
     {"foo": ["bar", "baz"], "o": {"k": 1}, "p": {"k": 1}}),
    ("escaped pointer", [{"op": "add", "path": "/o/a~1b~0c", "value": 2}],
     {"foo": ["bar", "baz"], "o": {"k": 1, "a/b~c": 2}}),
    ("test that holds", [{"op": "test", "path": "/o/k", "value": 1}], DOC),
]
for name, ops, want in JSON_PATCH:
    case("JSON patch: " + name, patch.json_patch(DOC, ops), want)
for name, ops in (("failing test", [{"op": "test", "path": "/o/k", "value": 2}]),
                  ("replace of a missing key", [{"op": "replace", "path": "/x", "value": 1}]),
                  ("remove of a missing index", [{"op": "remove", "path": "/foo/5"}]),
                  ("not a list", {"op": "add"}),
                  ("bad pointer", [{"op": "add", "path": "x", "value": 1}])):
    try:
        patch.json_patch(DOC, ops)
        case("JSON patch rejects " + name, "accepted", "PatchError")
    except patch.PatchError:
        case("JSON patch rejects " + name, "PatchError", "PatchError")

POD = {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
                      {"name": "b", "image": "2"}],
       "tolerations": [{"operator": "Exists"}], "args": ["x", "y"]}
SMP = [
    ("merges a list element by name",
     {"containers": [{"name": "b", "image": "3"}]},
     {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
                     {"name": "b", "image": "3"}]}),
    ("adds a list element",
     {"containers": [{"name": "c", "image": "4"}]},
     {"containers": POD["containers"] + [{"name": "c", "image": "4"}]}),
    ("$patch: delete removes an element",
     {"containers": [{"name": "a", "$patch": "delete"}]},
     {"containers": [{"name": "b", "image": "2"}]}),
    ("$setElementOrder orders the merged list",
     {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
      "containers": [{"name": "b", "image": "5"}]},
     {"containers": [{"name": "b", "image": "5"},
                     {"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]}]}),
    ("merges nested lists by name",
     {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]},
     {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"},
                                                         {"name": "Y", "value": "2"}]},
                     {"name": "b", "image": "2"}]}),
    ("replaces lists without a merge key",
     {"tolerations": [{"key": "k", "operator": "Exists"}]},
     {"tolerations": [{"key": "k", "operator": "Exists"}]}),
    ("$deleteFromPrimitiveList",
     {"$deleteFromPrimitiveList/args": ["x"]}, {"args": ["y"]}),
    ("null deletes a field", {"args": None}, {}),
]
case("strategic merge patch merges volumeMounts by mountPath, not name",
     patch.strategic_merge_patch({"m": [{"name": "v", "mountPath": "/a"}]},
                                 {"m": [{"name": "v", "mountPath": "/b"}]}),
     {"m": [{"name": "v", "mountPath": "/a"}, {"name": "v", "mountPath": "/b"}]})
for name, p, changed in SMP:
    want = dict(POD)
    want.update(changed)
    if p.get("args", 0) is None:
        del want["args"]
    case("strategic merge patch " + name, patch.strategic_merge_patch(POD, p), want)
case("strategic merge patch $retainKeys",
     patch.strategic_merge_patch({"a": 1, "b": 2}, {"$retainKeys": ["b", "c"], "c": 3}),
     {"b": 2, "c": 3})
case("strategic merge patch $patch: replace",
     patch.strategic_merge_patch({"a": 1, "b": 2}, {"$patch": "replace", "c": 3}), {"c": 3})

SCHEMA = {"type": "object", "required": ["k"], "properties": {
    "k": {"type": "string", "pattern": "^[a-z]{3}$"},
    "n": {"type": "integer", "minimum": 1, "maximum": 10},
    "l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
    "s": {"type": "string", "minLength": 2, "maxLength": 3, "enum": ["ab", "abc", "x"]},
    "e": {"type": "object", "oneOf": [{"required": ["ip"]}, {"required": ["dns"]}],
          "properties": {"ip": {"type": "string"}, "dns": {"type": "string"}}}}}
VALID = [("minimal", {"k": "abc"}),
         ("everything", {"k": "abc", "n": 10, "l": ["a", "b"], "s": "ab", "e": {"ip": "1"}})]
INVALID = [("missing required", {}, "k"), ("pattern", {"k": "abcd"}, "k"),
           ("type", {"k": 1}, "k"), ("below minimum", {"k": "abc", "n": 0}, "n"),
           ("above maximum", {"k": "abc", "n": 11}, "n"),
           ("boolean is no integer", {"k": "abc", "n": True}, "n"),
           ("too few items", {"k": "abc", "l": []}, "l"),
           ("too many items", {"k": "abc", "l": ["a", "b", "c"]}, "l"),
           ("item type", {"k": "abc", "l": [1]}, "l[0]"),
           ("too short", {"k": "abc", "s": "x"}, "s"),
           ("too long", {"k": "abc", "s": "abcd"}, "s"),
           ("enum", {"k": "abc", "s": "zz"}, "s"),
           ("oneOf with both", {"k": "abc", "e": {"ip": "1", "dns": "d"}}, "e"),
           ("oneOf with neither", {"k": "abc", "e": {}}, "e"),
           ("null", {"k": None}, "k")]
for name, value in VALID:
    case("schema accepts " + name, schema.validate(SCHEMA, value), [])
for name, value, field in INVALID:
    case("schema rejects %s, naming the field" % name,
         field in [f for f, _ in schema.validate(SCHEMA, value)], True)
case("pruning drops undeclared fields",
     schema.prune(SCHEMA, {"k": "abc", "x": 1, "e": {"ip": "1", "y": 2}}),
     {"k": "abc", "e": {"ip": "1"}})
case("pruning empties an object without properties",
     schema.prune({"type": "object", "properties": {"o": {"type": "object"}}}, {"o": {"x": 1}}),
     {"o": {}})
case("pruning keeps x-kubernetes-preserve-unknown-fields",
     schema.prune({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, {"x": 1}),
     {"x": 1})

LABELS = {"metadata": {"name": "n1", "labels": {"a": "1", "b": "2"}}}
SELECTORS = [("a=1", None, True), ("a==1", None, True), ("a!=1", None, False),
             ("a", None, True), ("!a", None, False), ("c", None, False), ("!c", None, True),
             ("a in (1,3)", None, True), ("a notin (1,3)", None, False),
             ("a=1,b=3", None, False), ("a=1,b in (2, 3)", None, True),
             (None, "metadata.name=n1", True), (None, "metadata.name!=n1", False),
             ("a=1", "metadata.name=n2", False)]
for label, field, want in SELECTORS:
    case("selector labels=%r fields=%r" % (label, field),
         kubeapi.selector(label, field)(LABELS), want)
case("no selector keeps everything", kubeapi.selector("", None), None)

store = Store(compaction=3)
res = "/nodes"
for i in range(5):
    store.put(res, {"metadata": {"name": "n%d" % i}}, created=True)
case("history keeps the last N events", [e.rv for e in store.events], [4, 5, 6])
case("events after an RV still in history", [e.rv for e in store.events_after(4)], [5, 6])
case("the oldest servable RV is the last one compacted away",
     [e.rv for e in store.events_after(store.min_rv)], [4, 5, 6])
try:
    store.events_after(store.min_rv - 1)
    case("an RV older than the history raises Gone", "served", "Gone")
except Gone:
    case("an RV older than the history raises Gone", "Gone", "Gone")
raws, objs, rv, more, remaining = store.list(res, None, None, 2, None)
case("list page 1", ([o["metadata"]["name"] for o in objs], more, remaining),
     (["n0", "n1"], ("", "n1"), 3))
raws, objs, rv, more, remaining = store.list(res, None, more, 2, None)
case("list page 2", [o["metadata"]["name"] for o in objs], ["n2", "n3"])
raws, objs, rv, more, remaining = store.list(res, None, more, 2, None)
case("list last page", ([o["metadata"]["name"] for o in objs], more, remaining),
     (["n4"], None, 0))
before = store.rv
store.compact_now()
case("compact moves past every issued RV", (store.min_rv > before, store.events), (True, []))

sys.exit(1 if failures else 0)
