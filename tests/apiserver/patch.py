# SPDX-License-Identifier: GPL-2.0-or-later
"""Patch semantics of the test API server: RFC 7386 merge patch, a
strategic merge patch reduced to what kubectl sends for our objects, and
RFC 6902 JSON patch. All functions are pure: they return a new document."""

import copy

# Lists that strategic merge patch merges element by element, keyed by the
# first of these fields every element has (the Kubernetes Go types'
# patchMergeKey: ports by containerPort and volumeMounts by mountPath even
# though they also have a name); any other list is replaced.
MERGE_KEYS = ("containerPort", "mountPath", "devicePath", "name", "type", "ip")


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(items):
    for key in MERGE_KEYS:
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _merge_list(current, patch, order):
    key = _merge_key([i for i in patch if isinstance(i, dict)] or [None])
    if key is None or not isinstance(current, list) or \
            not all(isinstance(i, dict) for i in current):
        return [strategic_merge_patch(None, i) for i in patch
                if not (isinstance(i, dict) and i.get("$patch") == "delete")]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        index = next((n for n, c in enumerate(result) if c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch(None, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    if order:
        rank = {o.get(key) if isinstance(o, dict) else o: n for n, o in enumerate(order)}
        result.sort(key=lambda i: rank.get(i.get(key), len(rank)))
    return result


def strategic_merge_patch(target, patch):
    """Merge patch plus the directives kubectl emits: lists of objects merge
    by a known key, $patch: delete/replace, $setElementOrder/, $retainKeys
    and $deleteFromPrimitiveList/."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field, []) if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value,
                                      patch.get("$setElementOrder/" + key))
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


class PatchError(Exception):
    pass


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("bad JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts):
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def json_patch(target, ops):
    """RFC 6902: add, remove, replace, move, copy, test."""
    doc = copy.deepcopy(target)
    if not isinstance(ops, list):
        raise PatchError("a JSON patch is a list of operations")
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                parent = _parent(doc, src)
                value = parent[int(src[-1])] if isinstance(parent, list) else parent[src[-1]]
                if kind == "move":
                    doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
                doc = json_patch(doc, [{"op": "add", "path": op["path"], "value": copy.deepcopy(value)}])
                continue
            if not parts:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op["value"])
                    continue
                raise PatchError("cannot %s the whole document" % kind)
            parent, last = _parent(doc, parts), parts[-1]
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, copy.deepcopy(op["value"]))
                elif kind == "remove":
                    del parent[index]
                elif kind == "replace":
                    parent[index] = copy.deepcopy(op["value"])
                elif kind == "test" and parent[index] != op["value"]:
                    raise PatchError("test failed at %s" % op["path"])
            else:
                if kind == "add":
                    parent[last] = copy.deepcopy(op["value"])
                elif kind == "remove":
                    del parent[last]
                elif kind == "replace":
                    if last not in parent:
                        raise PatchError("no value at %s" % op["path"])
                    parent[last] = copy.deepcopy(op["value"])
                elif kind == "test" and parent.get(last) != op["value"]:
                    raise PatchError("test failed at %s" % op["path"])
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise PatchError("operation %s: %s" % (op, e)) from e
    return doc
