# SPDX-License-Identifier: GPL-2.0-or-later
"""The object store of the test API server: every object keyed by
resource ("group/plural") and (namespace, name), one global resourceVersion
counter, and a bounded event history that watches replay from. Objects are
kept with their JSON encoding so a list of thousands is a byte join."""

import bisect
import copy
import datetime
import json
import threading
import uuid


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Resource:
    """One served resource: what discovery, OpenAPI and routing know of it."""

    def __init__(self, group, version, plural, kind, namespaced, short=(),
                 status=False, singular=None, columns=None, schema=None,
                 generation=False, categories=()):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.short, self.status = namespaced, list(short), status
        self.singular = singular or kind.lower()
        self.columns = columns or []      # CRD additionalPrinterColumns
        self.schema = schema              # openAPIV3Schema of a custom resource
        self.generation = generation      # metadata.generation tracks spec
        self.categories = list(categories)

    @property
    def key(self):
        return "%s/%s" % (self.group, self.plural)

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version


def builtin_resources():
    R = Resource
    return [
        R("", "v1", "nodes", "Node", False, ["no"], status=True),
        R("", "v1", "namespaces", "Namespace", False, ["ns"], status=True),
        R("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
        R("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
        R("", "v1", "secrets", "Secret", True),
        R("", "v1", "services", "Service", True, ["svc"], status=True),
        R("", "v1", "pods", "Pod", True, ["po"], status=True),
        R("", "v1", "events", "Event", True, ["ev"]),
        R("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], status=True, generation=True),
        R("apps", "v1", "deployments", "Deployment", True, ["deploy"], status=True, generation=True),
        R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
        R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
        R("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
        R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
        R("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          False, ["crd", "crds"], status=True, generation=True),
        R("coordination.k8s.io", "v1", "leases", "Lease", True),
    ]


CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


def resource_from_crd(crd):
    """The served version of a CRD as a Resource, or None if it has none."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    for v in spec.get("versions", []):
        if not v.get("served", True):
            continue
        return Resource(spec.get("group", ""), v.get("name", ""), names.get("plural", ""),
                        names.get("kind", ""), spec.get("scope") == "Namespaced",
                        names.get("shortNames", []),
                        status="status" in v.get("subresources", {}),
                        singular=names.get("singular"),
                        columns=v.get("additionalPrinterColumns", []),
                        schema=v.get("schema", {}).get("openAPIV3Schema"),
                        generation=True, categories=names.get("categories", []))
    return None


class Event:
    __slots__ = ("rv", "res", "ns", "type", "obj", "raw")

    def __init__(self, rv, res, ns, etype, obj):
        self.rv, self.res, self.ns, self.type, self.obj = rv, res, ns, etype, obj
        self.raw = encode({"type": etype, "object": obj}) + b"\n"


class Gone(Exception):
    """The asked resourceVersion is older than the compacted history."""


class Store:
    def __init__(self, compaction=10000):
        self.cond = threading.Condition()
        self.rv = 1
        self.objects = {}      # res key -> {(ns, name): (obj, raw)}
        self.resources = {}    # res key -> Resource
        self.events = []       # bounded history, oldest first
        self.compaction = compaction
        self.min_rv = 1        # watches from an older RV get 410 Gone
        self.drop_generation = 0
        for r in builtin_resources():
            self.add_resource(r)

    # resources -----------------------------------------------------------
    def add_resource(self, r):
        self.resources[r.key] = r
        self.objects.setdefault(r.key, {})

    def find_resource(self, group, version, plural):
        r = self.resources.get("%s/%s" % (group, plural))
        return r if r is not None and r.version == version else None

    # reads -----------------------------------------------------------------
    def get(self, res, ns, name):
        with self.cond:
            entry = self.objects.get(res, {}).get((ns, name))
            return copy.deepcopy(entry[0]) if entry else None

    def list(self, res, ns, after, limit, keep):
        """Objects of res (in ns, or all when ns is None) sorted by
        (namespace, name), starting after the key `after`; returns
        (raws, current rv, last key or None when complete, remaining)."""
        with self.cond:
            table = self.objects.get(res, {})
            keys = sorted(k for k in table if (ns is None or k[0] == ns)
                          and (keep is None or keep(table[k][0])))
            start = bisect.bisect_right(keys, after) if after else 0
            end = len(keys) if not limit else min(len(keys), start + limit)
            raws = [table[k][1] for k in keys[start:end]]
            objs = [table[k][0] for k in keys[start:end]]
            more = keys[end - 1] if end < len(keys) and end > start else None
            return raws, objs, self.rv, more, len(keys) - end

    # writes ----------------------------------------------------------------
    def _record(self, res, ns, etype, obj):
        self.events.append(Event(self.rv, res, ns, etype, obj))
        if len(self.events) > self.compaction:
            drop = len(self.events) - self.compaction
            self.min_rv = self.events[drop - 1].rv
            del self.events[:drop]
        self.cond.notify_all()

    def put(self, res, obj, created):
        """Stores obj under a new resourceVersion; returns the stored copy."""
        with self.cond:
            self.rv += 1
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(self.rv)
            if created:
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now_rfc3339()
            key = (meta.get("namespace", ""), meta["name"])
            self.objects[res][key] = (obj, encode(obj))
            self._record(res, key[0], "ADDED" if created else "MODIFIED", copy.deepcopy(obj))
            return copy.deepcopy(obj)

    def delete(self, res, ns, name):
        with self.cond:
            entry = self.objects.get(res, {}).pop((ns, name), None)
            if entry is None:
                return None
            self.rv += 1
            obj = copy.deepcopy(entry[0])
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._record(res, ns, "DELETED", copy.deepcopy(obj))
            return obj

    def compact_now(self):
        """Every resourceVersion issued so far expires: the counter moves on
        (as etcd's revision does with other writes) and history starts there."""
        with self.cond:
            self.rv += 1
            self.min_rv = self.rv
            self.events = []
            self.cond.notify_all()

    def set_compaction(self, n):
        with self.cond:
            self.compaction = max(0, int(n))
            if len(self.events) > self.compaction:
                drop = len(self.events) - self.compaction
                self.min_rv = self.events[drop - 1].rv
                del self.events[:drop]

    def drop_watches(self):
        with self.cond:
            self.drop_generation += 1
            self.cond.notify_all()

    # watch -----------------------------------------------------------------
    def events_after(self, rv):
        """Events newer than rv still in history, or raise Gone. Caller
        holds self.cond."""
        if rv < self.min_rv:
            raise Gone("too old resource version: %d (%d)" % (rv, self.min_rv))
        start = bisect.bisect_right(self.events, rv, key=lambda e: e.rv)
        return self.events[start:]

    # persistence -----------------------------------------------------------
    def snapshot(self):
        with self.cond:
            return {"rv": self.rv,
                    "objects": {res: [o for o, _ in table.values()]
                                for res, table in self.objects.items() if table}}

    def restore(self, snap):
        with self.cond:
            crds = snap.get("objects", {}).get(CRD_KEY, [])
            for crd in crds:
                r = resource_from_crd(crd)
                if r:
                    self.add_resource(r)
            for res, objs in snap.get("objects", {}).items():
                table = self.objects.setdefault(res, {})
                for o in objs:
                    m = o["metadata"]
                    table[(m.get("namespace", ""), m["name"])] = (o, encode(o))
            self.rv = int(snap.get("rv", self.rv))
            self.min_rv = self.rv
