#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A faithful-enough Kubernetes API server for tests: HTTPS with its own CA,
bearer tokens (admin and one per node), resourceVersions, paginated lists,
chunked watches with bookmarks and 410 after compaction, merge/strategic/
apply/JSON patches, CRDs with schema validation, discovery and OpenAPI v3
for kubectl, fault injection and request counters under /_test/.
See README.md in this directory for the command line and endpoints."""

import argparse
import base64
import copy
import ipaddress
import json
import os
import random
import re
import select
import signal
import socket
import ssl
import string
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubeapi  # noqa: E402
import patch  # noqa: E402
import schema  # noqa: E402
from kubeapi import ApiError  # noqa: E402
from store import CRD_KEY, Gone, Store, encode, now_rfc3339, resource_from_crd  # noqa: E402

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NODES = "/nodes"
# The Peer CRD is served from the very file operators apply, so the test
# server validates Peers exactly as the manifests declare.
PEER_CRD_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                             "manifests", "01-peer-crd.json")


# Certificates and credentials ------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_certificates(state, sans):
    """Creates the CA once per state dir and a fresh server certificate
    naming every address clients may use."""
    ca_key, ca_crt = os.path.join(state, "ca.key"), os.path.join(state, "ca.crt")
    if not (os.path.exists(ca_key) and os.path.exists(ca_crt)):
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca_crt,
                "-days", "3650", "-subj", "/CN=skein-test-ca",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    key, csr, crt = (os.path.join(state, f) for f in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(state, "server.ext")
    names = ["DNS:" + s if re.search(r"[a-zA-Z]", s) and ":" not in s else "IP:" + s
             for s in sans]
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" % ",".join(names))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=skein-test-apiserver")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "825", "-extfile", ext)
    return crt, key


def write_file(path, text, mode=0o600):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Credentials:
    """Bearer tokens: one admin, one per node (identity system:node:NAME), one
    per ServiceAccount (system:serviceaccount:NS:NAME, authorized by the RBAC
    objects in the store). Each gets a kubeconfig in the state dir, a
    ServiceAccount also an in-cluster directory (token, ca.crt, namespace);
    tokens.json survives restarts."""

    def __init__(self, state, url, ca, admin_token, fmt, embed_ca):
        self.state, self.url, self.ca, self.fmt, self.embed_ca = state, url, ca, fmt, embed_ca
        self.lock = threading.Lock()
        self.path = os.path.join(state, "tokens.json")
        saved = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                saved = json.load(f)
        self.admin = admin_token or saved.get("admin") or self._new()
        self.nodes = saved.get("nodes", {})
        self.service_accounts = saved.get("serviceAccounts", {})
        self.by_token = {}
        self._index()
        self.write_kubeconfig("admin", "admin", self.admin)
        for name, tok in self.nodes.items():
            self.write_kubeconfig("node-" + name, "system:node:" + name, tok)
        for sa, tok in self.service_accounts.items():
            self._write_service_account(sa, tok)
        self._save()

    @staticmethod
    def _new():
        return base64.b32encode(os.urandom(20)).decode().lower()

    def _index(self):
        self.by_token = {self.admin: ("admin", None)}
        self.by_token.update({t: ("node", n) for n, t in self.nodes.items()})
        self.by_token.update({t: ("sa", s) for s, t in self.service_accounts.items()})

    def _save(self):
        write_file(self.path, json.dumps({"admin": self.admin, "nodes": self.nodes,
                                          "serviceAccounts": self.service_accounts}, indent=1))

    def identify(self, token):
        with self.lock:
            return self.by_token.get(token)

    def node_token(self, name, rotate=False, save=True):
        """The node's token, created (or replaced) on demand."""
        with self.lock:
            if name not in self.nodes or rotate:
                self.nodes[name] = self._new()
                self._index()
                self.write_kubeconfig("node-" + name, "system:node:" + name, self.nodes[name])
                if save:
                    self._save()
            return self.nodes[name]

    def service_account_token(self, sa, rotate=False):
        """The token of ServiceAccount sa ("NS/NAME"), created (or replaced)
        on demand; the in-cluster token file changes with it."""
        with self.lock:
            if sa not in self.service_accounts or rotate:
                self.service_accounts[sa] = self._new()
                self._index()
                self._write_service_account(sa, self.service_accounts[sa])
                self._save()
            return self.service_accounts[sa]

    def service_account_dir(self, sa):
        return os.path.join(self.state, "serviceaccount", *sa.split("/"))

    def _write_service_account(self, sa, token):
        ns, name = sa.split("/")
        self.write_kubeconfig("sa-%s-%s" % (ns, name), "system:serviceaccount:%s:%s" % (ns, name),
                              token)
        d = self.service_account_dir(sa)
        os.makedirs(d, exist_ok=True)
        with open(self.ca) as f:
            write_file(os.path.join(d, "ca.crt"), f.read(), 0o644)
        write_file(os.path.join(d, "namespace"), ns, 0o644)
        write_file(os.path.join(d, "token"), token)

    def save(self):
        with self.lock:
            self._save()

    def kubeconfig_path(self, base):
        return os.path.join(self.state, base + ".kubeconfig")

    def write_kubeconfig(self, base, user, token):
        if self.embed_ca:
            with open(self.ca, "rb") as f:
                ca_line = "certificate-authority-data: " + base64.b64encode(f.read()).decode()
        else:
            ca_line = "certificate-authority: " + self.ca
        if self.fmt == "json":
            cluster = {"server": self.url}
            key, value = ca_line.split(": ", 1)
            cluster[key] = value
            text = json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": "skein-test",
                "clusters": [{"name": "skein-test", "cluster": cluster}],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": "skein-test",
                              "context": {"cluster": "skein-test", "user": user}}]}, indent=2)
        else:
            text = ("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    %s\n"
                    "    server: %s\n  name: skein-test\ncontexts:\n- context:\n"
                    "    cluster: skein-test\n    user: %s\n  name: skein-test\n"
                    "current-context: skein-test\npreferences: {}\nusers:\n- name: %s\n"
                    "  user:\n    token: %s\n" % (ca_line, self.url, user, user, token))
        write_file(self.kubeconfig_path(base), text)


# Faults and counters ---------------------------------------------------------

class Faults:
    FIELDS = {"fail_next": 0, "fail_status": 500, "retry_after": 1, "fail_match": "",
              "delay": 0.0, "drop_watches_after": 0.0, "bookmark_interval": 5.0}

    def __init__(self, **kw):
        self.lock = threading.Lock()
        self.values = dict(self.FIELDS)
        self.values.update({k: v for k, v in kw.items() if v is not None})

    def get(self, name):
        with self.lock:
            return self.values[name]

    def update(self, changes):
        with self.lock:
            for k, v in changes.items():
                if k in self.FIELDS:
                    self.values[k] = type(self.FIELDS[k])(v)
            return dict(self.values)

    def take_failure(self, path):
        """(status, retry_after) when this request must fail, else None."""
        with self.lock:
            v = self.values
            if v["fail_next"] > 0 and v["fail_match"] in path:
                v["fail_next"] -= 1
                return v["fail_status"], v["retry_after"]
            return None


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.total = 0
        self.by_verb, self.by_method_path, self.by_user, self.node_patches = {}, {}, {}, {}
        self.log = []
        self.watches_open = getattr(self, "watches_open", 0)

    def record(self, method, path, query, verb, user, code, ctype):
        with self.lock:
            self.total += 1
            self.by_verb[verb] = self.by_verb.get(verb, 0) + 1
            key = "%s %s" % (method, path)
            self.by_method_path[key] = self.by_method_path.get(key, 0) + 1
            per = self.by_user.setdefault(user, {})
            per[verb] = per.get(verb, 0) + 1
            m = re.match(r"^/api/v1/nodes/([^/]+)(/status)?$", path)
            if m and method == "PATCH":
                self.node_patches[m.group(1)] = self.node_patches.get(m.group(1), 0) + 1
            self.log.append({"time": time.time(), "method": method, "path": path,
                             "query": query, "verb": verb, "user": user, "code": code,
                             "contentType": ctype})
            del self.log[:-10000]

    def watch_delta(self, n):
        with self.lock:
            self.watches_open += n

    def report(self, tail):
        with self.lock:
            return {"total": self.total, "byVerb": self.by_verb,
                    "byMethodPath": self.by_method_path, "byUser": self.by_user,
                    "nodePatches": self.node_patches, "watchesOpen": self.watches_open,
                    "log": self.log[-tail:] if tail else []}


# The API ---------------------------------------------------------------------

def _meta(obj):
    m = obj.get("metadata")
    if not isinstance(m, dict):
        raise ApiError(400, "BadRequest", "metadata: must be an object")
    return m


def _check_string_map(obj, field):
    value = _meta(obj).get(field)
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, "BadRequest",
                       "metadata.%s: values must be strings (json: cannot unmarshal into "
                       "Go struct field ObjectMeta.metadata.%s of type string)" % (field, field))


def _without_rv(obj):
    o = copy.deepcopy(obj)
    o.get("metadata", {}).pop("resourceVersion", None)
    return o


class Api:
    """The object semantics, independent of HTTP: create/update/patch/delete
    with validation, no-op detection, status handling and CRD registration."""

    def __init__(self, store, creds, cluster_cidrs=()):
        self.store, self.creds = store, creds
        self.write_lock = threading.RLock()
        self.cluster_cidrs = list(cluster_cidrs)  # [(network, node prefix length)]

    def resources(self):
        return list(self.store.resources.values())

    # validation ------------------------------------------------------------
    def _validate(self, r, obj, ns, name_from_path=None):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        kind, av = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != r.kind:
            raise ApiError(400, "BadRequest", "the kind in the data (%s) does not match the "
                           "expected kind (%s)" % (kind, r.kind))
        if av and av != r.api_version:
            raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match "
                           "the expected API version (%s)" % (av, r.api_version))
        obj["kind"], obj["apiVersion"] = r.kind, r.api_version
        meta = _meta(obj)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        name = meta.get("name", "")
        if name_from_path is not None and name != name_from_path:
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the "
                           "name on the URL (%s)" % (name, name_from_path))
        pattern = LABEL_RE if r.kind == "Namespace" else NAME_RE
        if not isinstance(name, str) or not name or len(name) > 253 or not pattern.match(name):
            raise kubeapi.invalid(r, str(name), [("metadata.name", "Invalid value: %r: a "
                                                  "lowercase RFC 1123 name is required" % name)])
        if r.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does "
                               "not match the namespace sent on the request")
            meta["namespace"] = ns
            if self.store.get("/namespaces", "", ns) is None:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                               {"name": ns, "kind": "namespaces"})
        else:
            meta.pop("namespace", None)
        _check_string_map(obj, "labels")
        _check_string_map(obj, "annotations")
        if r.key == CRD_KEY:
            self._validate_crd(r, obj)
        elif r.schema:
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            pruned = schema.prune(r.schema, body)
            causes = schema.validate(r.schema, pruned)
            if causes:
                raise kubeapi.invalid(r, name, causes)
            for k in list(obj):
                if k not in ("apiVersion", "kind", "metadata"):
                    del obj[k]
            obj.update(pruned)
        return name

    def _validate_crd(self, r, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        causes = []
        for field, value in (("spec.group", spec.get("group")),
                             ("spec.names.plural", names.get("plural")),
                             ("spec.names.kind", names.get("kind"))):
            if not value or not isinstance(value, str):
                causes.append((field, "Required value"))
        if spec.get("scope") not in ("Cluster", "Namespaced"):
            causes.append(("spec.scope", "Unsupported value: %r" % spec.get("scope")))
        versions = spec.get("versions")
        if not versions or not isinstance(versions, list):
            causes.append(("spec.versions", "Required value"))
        if not causes and crd["metadata"]["name"] != "%s.%s" % (names["plural"], spec["group"]):
            causes.append(("metadata.name", "Invalid value: %r: must be spec.names.plural+"
                           "\".\"+spec.group" % crd["metadata"]["name"]))
        if causes:
            raise kubeapi.invalid(r, crd["metadata"]["name"], causes)

    # writes ------------------------------------------------------------------
    def _finish(self, r, obj, old):
        """Generation, CRD status, and the store write unless nothing changed."""
        if r.generation:
            gen = (old or {}).get("metadata", {}).get("generation", 0)
            changed = old is None or old.get("spec") != obj.get("spec")
            obj["metadata"]["generation"] = gen + 1 if changed else gen
        if r.key == CRD_KEY:
            names = obj["spec"]["names"]
            accepted = dict(names)
            accepted.setdefault("singular", names["kind"].lower())
            accepted.setdefault("listKind", names["kind"] + "List")
            obj["status"] = {"acceptedNames": accepted, "storedVersions": [
                v["name"] for v in obj["spec"]["versions"] if v.get("storage")],
                "conditions": [{"type": t, "status": "True", "reason": t,
                                "lastTransitionTime": now_rfc3339(), "message": ""}
                               for t in ("NamesAccepted", "Established")]}
            if old and old.get("status"):
                obj["status"]["conditions"] = old["status"].get("conditions",
                                                                obj["status"]["conditions"])
        if old is not None:
            obj["metadata"]["uid"] = old["metadata"]["uid"]
            obj["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            if _without_rv(obj) == _without_rv(old):
                return old, 200
        stored = self.store.put(r.key, obj, created=old is None)
        if r.key == CRD_KEY:
            res = resource_from_crd(stored)
            if res:
                self.store.add_resource(res)
        return stored, 201 if old is None else 200

    def create(self, r, ns, obj, token=True):
        """Creates obj; a new Node gets a token (token=False: the caller
        makes tokens itself, as bulk loads do)."""
        with self.write_lock:
            name = self._validate(r, obj, ns)
            meta = obj["metadata"]
            for f in ("resourceVersion", "uid", "creationTimestamp", "generation",
                      "managedFields", "selfLink"):
                meta.pop(f, None)
            if r.status and r.key not in ("/nodes", "/namespaces"):
                obj.pop("status", None)
            if r.kind == "Namespace":
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
                obj["status"] = {"phase": "Active"}
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            if self.store.get(r.key, ns if r.namespaced else "", name) is not None:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists'
                               % (kubeapi._qualified(r), name),
                               {"name": name, "group": r.group, "kind": r.plural})
            stored, code = self._finish(r, obj, None)
            if r.key == NODES and self.cluster_cidrs and \
                    not stored.get("spec", {}).get("podCIDRs"):
                stored = self._allocate_pod_cidrs(r, stored)
        if r.key == NODES and token:
            self.creds.node_token(name)
        return stored, code

    def _allocate_pod_cidrs(self, r, node):
        """What kube-controller-manager does with --allocate-node-cidrs: right
        after a Node appears, it gets the first free subnet of each cluster
        CIDR (a MODIFIED event following the ADDED, as in a real cluster)."""
        used = {c for n in self.store.list(NODES, None, None, 0, None)[1]
                for c in n.get("spec", {}).get("podCIDRs", [])}
        cidrs = []
        for net, prefix in self.cluster_cidrs:
            free = next((s for s in net.subnets(new_prefix=prefix) if str(s) not in used), None)
            if free is None:
                return node  # exhausted: the node stays without, as with the real allocator
            cidrs.append(str(free))
        new = copy.deepcopy(node)
        new.setdefault("spec", {}).update({"podCIDR": cidrs[0], "podCIDRs": cidrs})
        return self.store.put(r.key, new, created=False)

    def update(self, r, ns, name, obj, sub, old=None):
        """Replaces the object (sub "status": only its status)."""
        with self.write_lock:
            key_ns = ns if r.namespaced else ""
            current = self.store.get(r.key, key_ns, name)
            if current is None:
                raise kubeapi.not_found(r, name)
            if old is not None and old["metadata"]["resourceVersion"] != \
                    current["metadata"]["resourceVersion"]:
                raise self._conflict(r, name)
            want_rv = (obj.get("metadata") or {}).get("resourceVersion") \
                if isinstance(obj, dict) else None
            if want_rv and want_rv != current["metadata"]["resourceVersion"]:
                raise self._conflict(r, name)
            if sub == "status":
                status = obj.get("status") if isinstance(obj, dict) else None
                obj = copy.deepcopy(current)
                obj["status"] = status
                if status is None:
                    obj.pop("status")
            self._validate(r, obj, ns, name)
            meta = obj["metadata"]
            meta.pop("managedFields", None)
            if sub != "status" and r.status:
                if "status" in current:
                    obj["status"] = current["status"]
                else:
                    obj.pop("status", None)
            return self._finish(r, obj, current)

    def _conflict(self, r, name):
        return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object '
                        "has been modified; please apply your changes to the latest version "
                        "and try again" % (kubeapi._qualified(r), name),
                        {"name": name, "group": r.group, "kind": r.plural})

    def patch(self, r, ns, name, ctype, body, sub):
        ctype = (ctype or "").split(";")[0].strip()
        try:
            doc = json.loads(body or b"null")
        except ValueError as e:
            hint = " (apply patches must be JSON here)" if "yaml" in ctype else ""
            raise ApiError(400, "BadRequest", "error decoding patch%s: %s" % (hint, e))
        with self.write_lock:
            current = self.store.get(r.key, ns if r.namespaced else "", name)
            if current is None:
                if ctype == "application/apply-patch+yaml" and isinstance(doc, dict):
                    if (doc.get("metadata") or {}).get("name") != name:
                        raise ApiError(400, "BadRequest", "the name of the object (%s) does "
                                       "not match the name on the URL (%s)" % (
                                           (doc.get("metadata") or {}).get("name"), name))
                    return self.create(r, ns, doc)
                raise kubeapi.not_found(r, name)
            try:
                if ctype == "application/merge-patch+json":
                    new = patch.merge_patch(current, doc)
                elif ctype == "application/strategic-merge-patch+json":
                    new = patch.strategic_merge_patch(current, doc)
                elif ctype == "application/apply-patch+yaml":
                    doc.get("metadata", {}).pop("resourceVersion", None)
                    new = patch.merge_patch(current, doc)
                elif ctype == "application/json-patch+json":
                    new = patch.json_patch(current, doc)
                else:
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - "
                                   "accepted media types include: " +
                                   ", ".join(kubeapi.PATCH_TYPES +
                                             ["application/strategic-merge-patch+json"]))
            except patch.PatchError as e:
                raise ApiError(422, "Invalid", str(e))
            if not isinstance(new, dict):
                raise ApiError(400, "BadRequest", "the patch does not give an object")
            return self.update(r, ns, name, new, sub, old=current)

    def delete(self, r, ns, name):
        with self.write_lock:
            key_ns = ns if r.namespaced else ""
            obj = self.store.delete(r.key, key_ns, name)
            if obj is None:
                raise kubeapi.not_found(r, name)
            if r.kind == "Namespace":
                for res in self.resources():
                    if res.namespaced:
                        for _, objs, *_ in [self.store.list(res.key, name, None, 0, None)]:
                            for o in objs:
                                self.store.delete(res.key, name, o["metadata"]["name"])
            if r.key == CRD_KEY:
                gone = resource_from_crd(obj)
                if gone:
                    for _, objs, *_ in [self.store.list(gone.key, None, None, 0, None)]:
                        for o in objs:
                            self.store.delete(gone.key, o["metadata"].get("namespace", ""),
                                              o["metadata"]["name"])
                    self.store.resources.pop(gone.key, None)
            return obj


# RBAC --------------------------------------------------------------------------

RBAC = "rbac.authorization.k8s.io"


def _subject_matches(subject, user, groups):
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return user == "system:serviceaccount:%s:%s" % (subject.get("namespace", ""),
                                                       subject.get("name"))
    if kind == "User":
        return subject.get("name") == user
    return kind == "Group" and subject.get("name") in groups


def _rule_allows(rule, verb, group, resource, name):
    return (any(g in ("*", group) for g in rule.get("apiGroups", [])) and
            any(r in ("*", resource) for r in rule.get("resources", [])) and
            any(v in ("*", verb) for v in rule.get("verbs", [])) and
            (not rule.get("resourceNames") or name in rule["resourceNames"]))


def rbac_allows(store, user, groups, verb, group, resource, ns, name):
    """RBAC as the real authorizer evaluates it for resource requests:
    ClusterRoleBindings everywhere, RoleBindings in their namespace."""
    bindings = [(b, "") for b in store.list(RBAC + "/clusterrolebindings", None, None, 0,
                                             None)[1]]
    if ns:
        bindings += [(b, ns) for b in store.list(RBAC + "/rolebindings", ns, None, 0, None)[1]]
    for binding, bns in bindings:
        if not any(_subject_matches(s, user, groups) for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef", {})
        if ref.get("kind") == "ClusterRole":
            role = store.get(RBAC + "/clusterroles", "", ref.get("name"))
        else:
            role = store.get(RBAC + "/roles", bns, ref.get("name"))
        if role and any(_rule_allows(r, verb, group, resource, name)
                        for r in role.get("rules") or []):
            return True
    return False


# HTTP --------------------------------------------------------------------------

def parse_path(path):
    """(group, version, namespace, plural, name, sub) for a resource URL, or None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return (group, version, ns, rest[0], rest[1] if len(rest) > 1 else None,
            rest[2] if len(rest) > 2 else None)


def encode_continue(rv, key):
    raw = json.dumps({"rv": rv, "ns": key[0], "name": key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token):
    try:
        d = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(d["rv"]), (d["ns"], d["name"])
    except (ValueError, KeyError, TypeError) as e:
        raise ApiError(400, "BadRequest", "continue key is not valid: %s" % e)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "skein-test-apiserver"
    timeout = 600  # idle keep-alive connections

    # plumbing -----------------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("apiserver: %s\n" % (fmt % args))

    def log_request(self, code="-", size="-"):
        self._code = code
        self.log_message('"%s" %s %s', self.requestline, str(code), str(size))

    def _send(self, code, body, headers=None, ctype="application/json"):
        data = body if isinstance(body, bytes) else encode(body)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, e):
        self._send(e.code, e.status(), e.headers)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _json_body(self):
        try:
            return json.loads(self._body() or b"null")
        except ValueError as e:
            raise ApiError(400, "BadRequest", "the body is not valid JSON: %s" % e)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # request flow ---------------------------------------------------------------
    def _dispatch(self):
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        self._path, self._query = url.path.rstrip("/") or "/", url.query
        self._q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        self._code, self._verb, self._user = 0, self.command.lower(), "anonymous"
        try:
            who = self._authenticate()
            if not self._path.startswith("/_test"):
                delay = app.faults.get("delay")
                if delay > 0:
                    time.sleep(delay)
                failure = app.faults.take_failure(self._path)
                if failure:
                    code, retry = failure
                    reason = "TooManyRequests" if code == 429 else "InternalError"
                    raise ApiError(code, reason, "injected failure (test fault)",
                                   {"retryAfterSeconds": retry}, {"Retry-After": retry})
            self._route(who)
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # a bug here must not look like a network failure
            import traceback
            traceback.print_exc()
            self.close_connection = True
            if not self._code:
                self._error(ApiError(500, "InternalError", "test apiserver bug: %r" % e))
        finally:
            app.counters.record(self.command, self._path, self._query, self._verb,
                                self._user, self._code,
                                self.headers.get("Content-Type", ""))

    def _authenticate(self):
        auth = self.headers.get("Authorization", "")
        if not auth:
            if self._path in ("/version", "/healthz", "/livez", "/readyz"):
                return ("anonymous", None)
            raise ApiError(401, "Unauthorized", "Unauthorized")
        who = self.server.app.creds.identify(auth[7:].strip()) \
            if auth.startswith("Bearer ") else None
        if who is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if who[0] == "admin":
            self._user = "admin"
        elif who[0] == "node":
            self._user = "system:node:" + who[1]
        else:
            self._user = "system:serviceaccount:" + who[1].replace("/", ":")
        return who

    def _forbid(self, verb, r, name, ns):
        scope = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
        target = '%s "%s"' % (kubeapi._qualified(r), name) if name else kubeapi._qualified(r)
        raise ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource "%s" '
                       'in API group "%s" %s' % (target, self._user, verb, r.plural,
                                                 r.group, scope),
                       {"name": name or "", "group": r.group, "kind": r.plural})

    def _authorize(self, who, verb, r, ns, name):
        """Admin may do anything; a node may read, and write only its own
        Node; a ServiceAccount may do what RBAC in the store grants it."""
        if who[0] == "sa":
            resource = r.plural + ("/" + self._sub if self._sub else "")
            sa_ns = who[1].split("/")[0]
            groups = ["system:serviceaccounts", "system:serviceaccounts:" + sa_ns,
                      "system:authenticated"]
            if rbac_allows(self.server.app.store, self._user, groups, verb, r.group, resource,
                           ns, name):
                return
            return self._forbid(verb, r, name, ns)
        if who[0] == "admin" or verb in ("get", "list", "watch"):
            return
        if who[0] == "node" and r.key == NODES and verb in ("patch", "update", "create") \
                and name == who[1]:
            return
        self._forbid(verb, r, name, ns)

    def _route(self, who):
        app, path = self.server.app, self._path
        if path.startswith("/_test"):
            if who[0] != "admin":
                raise ApiError(403, "Forbidden", "the test control endpoints are admin-only")
            return self._control(path)
        fixed = self._fixed_document(path)
        if fixed is not None:
            if self.command not in ("GET", "HEAD"):
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
            return self._send(200, fixed)
        parsed = parse_path(path)
        if parsed is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group, version, ns, plural, name, sub = parsed
        r = app.store.find_resource(group, version, plural)
        if r is None or (ns is not None and not r.namespaced) or (sub and sub != "status") \
                or (sub and not r.status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key_ns = ns if r.namespaced else ""
        self._sub = sub
        self._resource_request(who, r, ns, key_ns, name, sub)

    def _fixed_document(self, path):
        app = self.server.app
        res = app.api.resources()
        if path == "/version":
            return kubeapi.version_info()
        if path in ("/healthz", "/livez", "/readyz"):
            return b"ok"
        if path == "/api":
            return kubeapi.api_versions(app.address)
        if path == "/apis":
            return kubeapi.api_group_list(res)
        if path == "/openapi/v3":
            return kubeapi.openapi_root(res)
        m = re.match(r"^/openapi/v3/(api|apis)/(.+)$", path)
        if m:
            gv = m.group(2).split("/")
            group, version = ("", gv[0]) if m.group(1) == "api" else (gv[0], gv[-1])
            doc = kubeapi.openapi_group_version(res, group, version) \
                if len(gv) == (1 if m.group(1) == "api" else 2) else None
            if doc is None:
                raise ApiError(404, "NotFound", "no OpenAPI document for %s" % m.group(2))
            return doc
        m = re.match(r"^/apis/([^/]+)$", path)
        if m:
            g = kubeapi.api_group(res, m.group(1))
            if g is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return g
        m = re.match(r"^/api/([^/]+)$|^/apis/([^/]+)/([^/]+)$", path)
        if m:
            group, version = (m.group(2), m.group(3)) if m.group(2) else ("", m.group(1))
            doc = kubeapi.api_resource_list(res, group, version)
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return doc
        return None

    def _resource_request(self, who, r, ns, key_ns, name, sub):
        app, cmd = self.server.app, self.command
        if cmd in ("GET", "HEAD"):
            if name is None:
                watch = self._q.get("watch") in ("1", "true")
                self._verb = "watch" if watch else "list"
                self._authorize(who, self._verb, r, ns, None)
                keep = kubeapi.selector(self._q.get("labelSelector"),
                                        self._q.get("fieldSelector"))
                return self._watch(r, ns, keep) if watch else self._list(r, ns, keep)
            self._verb = "get"
            self._authorize(who, "get", r, ns, name)
            obj = app.store.get(r.key, key_ns, name)
            if obj is None:
                raise kubeapi.not_found(r, name)
            return self._send(200, obj)
        if cmd == "POST":
            self._verb = "create"
            if name is not None:
                raise ApiError(405, "MethodNotAllowed", "POST goes to the collection")
            obj = self._json_body()
            self._authorize(who, "create", r, ns,
                            obj.get("metadata", {}).get("name") if isinstance(obj, dict) else None)
            stored, code = app.api.create(r, key_ns, obj)
            return self._send(code, stored)
        if name is None and cmd == "DELETE":
            self._verb = "deletecollection"
            self._authorize(who, self._verb, r, ns, None)
            keep = kubeapi.selector(self._q.get("labelSelector"), self._q.get("fieldSelector"))
            _, objs, rv, _, _ = app.store.list(r.key, ns if r.namespaced else None, None, 0, keep)
            items = [app.api.delete(r, o["metadata"].get("namespace", ""), o["metadata"]["name"])
                     for o in objs]
            return self._send(200, {"kind": r.kind + "List", "apiVersion": r.api_version,
                                    "metadata": {"resourceVersion": str(rv)}, "items": items})
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        if cmd == "PUT":
            self._verb = "update"
            self._authorize(who, "update", r, ns, name)
            stored, code = app.api.update(r, key_ns, name, self._json_body(), sub)
            return self._send(code, stored)
        if cmd == "PATCH":
            self._verb = "patch"
            self._authorize(who, "patch", r, ns, name)
            stored, code = app.api.patch(r, key_ns, name, self.headers.get("Content-Type"),
                                         self._body(), sub)
            return self._send(200 if code == 200 else 201, stored)
        if cmd == "DELETE":
            self._verb = "delete"
            self._authorize(who, "delete", r, ns, name)
            self._body()
            return self._send(200, app.api.delete(r, key_ns, name))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    # list and watch ---------------------------------------------------------------
    def _int_param(self, name, default):
        text = self._q.get(name) or ""
        if not text:
            return default
        if not text.isdigit():
            raise ApiError(400, "BadRequest", "%s: invalid value %r: must be a non-negative "
                           "integer" % (name, text))
        return int(text)

    def _list(self, r, ns, keep):
        app = self.server.app
        limit = self._int_param("limit", 0)
        after, token = None, self._q.get("continue")
        if token:
            rv, after = decode_continue(token)
            if rv < app.store.min_rv:
                raise ApiError(410, "Expired", "The provided continue parameter is too old to "
                               "display a consistent list result. You can start a new list "
                               "without the continue parameter.")
        raws, objs, cur_rv, more, remaining = app.store.list(r.key, ns, after, limit, keep)
        list_rv = rv if token else cur_rv
        cont = encode_continue(list_rv, more) if more else None
        if kubeapi.wants_table(self.headers.get("Accept")):
            return self._send(200, kubeapi.table(r, objs, list_rv, cont, remaining),
                              ctype="application/json")
        meta = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        head = encode({"kind": r.kind + "List", "apiVersion": r.api_version, "metadata": meta})
        self._send(200, head[:-1] + b',"items":[' + b",".join(raws) + b"]}")

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _client_gone(self):
        """True when the client closed its end (it sends nothing during a watch)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            self.connection.settimeout(0.05)
            try:
                return self.connection.recv(1) == b""
            finally:
                self.connection.settimeout(self.timeout)
        except (OSError, ValueError, ssl.SSLError):
            return True

    def _watch(self, r, ns, keep):
        app, store = self.server.app, self.server.app.store
        bookmarks = self._q.get("allowWatchBookmarks") in ("1", "true")
        timeout = self._int_param("timeoutSeconds", app.watch_timeout)
        drop_after = app.faults.get("drop_watches_after")
        start = time.monotonic()
        from_rv = self._int_param("resourceVersion", 0)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        app.counters.watch_delta(1)
        as_table = kubeapi.wants_table(self.headers.get("Accept"))

        def event(etype, obj, raw=None):
            """One line of the stream; kubectl get -w asks for Table rows."""
            if as_table:
                obj = kubeapi.table(r, [obj], obj["metadata"]["resourceVersion"], None, 0)
            elif raw is not None:
                return raw
            return encode({"type": etype, "object": obj}) + b"\n"
        try:
            with store.cond:
                generation = store.drop_generation
                if from_rv == 0:
                    _, objs, pos, _, _ = store.list(r.key, ns, None, 0, keep)
                    pending = [event("ADDED", o) for o in objs]
                else:
                    pos, pending = from_rv, []
            self._stream(r, ns, keep, pos, pending, generation, bookmarks, event,
                         start + timeout, start + drop_after if drop_after > 0 else None)
        finally:
            app.counters.watch_delta(-1)

    def _expired(self, message):
        status = ApiError(410, "Expired", message).status()
        self._chunk(encode({"type": "ERROR", "object": status}) + b"\n")
        self.wfile.write(b"0\r\n\r\n")

    def _stream(self, r, ns, keep, pos, pending, generation, bookmarks, event, deadline,
                drop_at):
        """Writes events until the deadline, a drop, 410 or the client leaving.
        The store lock is held only to collect events, never while writing
        or probing the socket."""
        store = self.server.app.store
        last_sent = time.monotonic()
        while True:
            for raw in pending:
                self._chunk(raw)
            if pending:
                last_sent = time.monotonic()
            with store.cond:
                end, pos, pending = self._next_events(r, ns, keep, pos, generation, bookmarks,
                                                      event, deadline, drop_at, last_sent)
            if end == "drop":
                return self._drop()
            if end == "timeout":
                return self.wfile.write(b"0\r\n\r\n")
            if end is not None:
                return self._expired(end)
            if not pending and self._client_gone():
                return None

    def _next_events(self, r, ns, keep, pos, generation, bookmarks, event, deadline, drop_at,
                     last_sent):
        """(end, pos, lines) after waiting at most a second for something to
        send; end is "drop", "timeout", a 410 message, or None to go on.
        Caller holds the store lock."""
        store = self.server.app.store
        now = time.monotonic()
        if store.drop_generation != generation or (drop_at and now >= drop_at):
            return "drop", pos, []
        if now >= deadline:
            return "timeout", pos, []
        try:
            events = store.events_after(pos)
        except Gone as e:
            return str(e), pos, []
        if events:
            pos = events[-1].rv
            lines = [event(e.type, e.obj, e.raw) for e in events
                     if e.res == r.key and (ns is None or e.ns == ns)
                     and (keep is None or keep(e.obj))]
            if lines:
                return None, pos, lines
        interval = self.server.app.faults.get("bookmark_interval")
        if bookmarks and now - last_sent >= interval:
            return None, store.rv, [encode({"type": "BOOKMARK", "object": {
                "kind": r.kind, "apiVersion": r.api_version,
                "metadata": {"resourceVersion": str(store.rv)}}}) + b"\n"]
        wait = min(1.0, deadline - now)
        if bookmarks:
            wait = min(wait, interval - (now - last_sent))
        if drop_at:
            wait = min(wait, drop_at - now)
        store.cond.wait(max(0.01, wait))
        return None, pos, []

    def _drop(self):
        """Ends the watch abruptly: no final chunk, as a broken connection would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # control endpoints --------------------------------------------------------------
    def _control(self, path):
        app = self.server.app
        self._verb = "control"
        if path == "/_test/faults":
            if self.command == "GET":
                return self._send(200, app.faults.update({}))
            changes = self._json_body() or {}
            if not isinstance(changes, dict):
                raise ApiError(400, "BadRequest", "faults: a JSON object is expected")
            unknown = set(changes) - set(Faults.FIELDS) - {"drop_watches", "compact",
                                                           "expire", "compaction"}
            if unknown:
                raise ApiError(400, "BadRequest", "faults: unknown switches %s (known: %s)" % (
                    ", ".join(sorted(unknown)),
                    ", ".join(sorted(list(Faults.FIELDS) +
                                     ["drop_watches", "compact", "expire", "compaction"]))))
            if "compaction" in changes:
                app.store.set_compaction(changes["compaction"])
            if changes.get("compact") or changes.get("expire"):
                app.store.compact_now()
            if changes.get("drop_watches") or changes.get("expire"):
                app.store.drop_watches()
            state = app.faults.update(changes)
            state.update({"compaction": app.store.compaction, "minResourceVersion":
                          app.store.min_rv, "resourceVersion": app.store.rv})
            return self._send(200, state)
        if path == "/_test/requests":
            if self.command in ("DELETE", "POST"):
                with app.counters.lock:
                    app.counters.reset()
                return self._send(200, {"reset": True})
            return self._send(200, app.counters.report(int(self._q.get("log") or 0)))
        if path == "/_test/tokens" and self.command == "POST":
            req = self._json_body() or {}
            if isinstance(req, dict) and "serviceAccount" in req:
                return self._service_account_token(req)
            node = req.get("node", "")
            if not isinstance(node, str) or not NAME_RE.match(node):
                raise ApiError(400, "BadRequest", "tokens: 'node' must be a node name, got %r"
                               % (node,))
            token = app.creds.node_token(node, rotate=bool(req.get("rotate")))
            return self._send(200, {"node": node, "user": "system:node:" + node,
                                    "token": token, "kubeconfig":
                                    app.creds.kubeconfig_path("node-" + node)})
        if path == "/_test/bulk" and self.command == "POST":
            return self._bulk(self._json_body() or {})
        if path == "/_test/state":
            return self._send(200, {"resourceVersion": app.store.rv,
                                    "minResourceVersion": app.store.min_rv,
                                    "events": len(app.store.events),
                                    "compaction": app.store.compaction})
        raise ApiError(404, "NotFound", "unknown control endpoint %s %s" % (self.command, path))

    def _service_account_token(self, req):
        app, sa = self.server.app, req.get("serviceAccount")
        if not isinstance(sa, str) or sa.count("/") != 1 or \
                not all(LABEL_RE.match(p) for p in sa.split("/")):
            raise ApiError(400, "BadRequest", "tokens: 'serviceAccount' must be NAMESPACE/NAME, "
                           "got %r" % (sa,))
        token = app.creds.service_account_token(sa, rotate=bool(req.get("rotate")))
        ns, name = sa.split("/")
        return self._send(200, {"serviceAccount": sa, "token": token,
                                "user": "system:serviceaccount:%s:%s" % (ns, name),
                                "kubeconfig": app.creds.kubeconfig_path("sa-%s-%s" % (ns, name)),
                                "inClusterDir": app.creds.service_account_dir(sa)})

    def _bulk(self, req):
        """Creates or replaces many objects in one request (benchmarks)."""
        app = self.server.app
        objs = req.get("objects") if isinstance(req, dict) else None
        if not isinstance(objs, list):
            raise ApiError(400, "BadRequest", "bulk: 'objects' must be a list")
        done, tokens = 0, bool(req.get("tokens"))
        for obj in objs:
            r = self._resource_of(obj)
            ns = obj.get("metadata", {}).get("namespace", "") if r.namespaced else ""
            name = obj.get("metadata", {}).get("name")
            if app.store.get(r.key, ns, name) is None:
                app.api.create(r, ns, obj, token=False)
                if tokens and r.key == NODES:
                    app.creds.node_token(name, save=False)
            else:
                app.api.update(r, ns, name, copy.deepcopy(obj), None)
                if r.status and "status" in obj:
                    app.api.update(r, ns, name, obj, "status")
            done += 1
        if tokens:
            app.creds.save()
        return self._send(200, {"applied": done, "resourceVersion": app.store.rv})

    def _resource_of(self, obj):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "bulk: every object must be a JSON object")
        av, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        for r in self.server.app.api.resources():
            if r.api_version == av and r.kind == kind:
                return r
        raise ApiError(400, "BadRequest", "bulk: no resource serves %s %s" % (av, kind))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address, family, ctx, app):
        self.address_family = family
        self.ctx, self.app = ctx, app
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The TLS handshake happens on the handler's thread, not the acceptor's.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)


class App:
    def __init__(self, store, creds, faults, address, verbose, watch_timeout, cluster_cidrs):
        self.store, self.creds, self.faults = store, creds, faults
        self.api = Api(store, creds, cluster_cidrs)
        self.counters = Counters()
        self.address, self.verbose, self.watch_timeout = address, verbose, watch_timeout


# Start-up ------------------------------------------------------------------------

def split_hostport(text):
    m = re.match(r"^\[([0-9a-fA-F:.]+)\]:(\d+)$|^([^:]+):(\d+)$", text)
    if not m:
        raise ValueError("--listen: expected HOST:PORT or [IPv6]:PORT, got %r" % text)
    return (m.group(1), int(m.group(2))) if m.group(1) else (m.group(3), int(m.group(4)))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", default="127.0.0.1:0",
                   help="HOST:PORT to serve on (0.0.0.0 or :: for every address; port 0 picks "
                        "a free port, written to STATE/port)")
    p.add_argument("--state-dir", required=True,
                   help="where ca.crt, *.kubeconfig, tokens.json, port, pid are written")
    p.add_argument("--advertise", help="address written into kubeconfigs (default: the listen "
                                       "address, or 127.0.0.1 for a wildcard)")
    p.add_argument("--san", action="append", default=[],
                   help="extra IP or DNS name for the server certificate (repeatable)")
    p.add_argument("--admin-token", help="fixed admin token (default: random, kept in "
                                         "tokens.json)")
    p.add_argument("--node-token", action="append", default=[], metavar="NODE",
                   help="create a token and kubeconfig for NODE at start (repeatable)")
    p.add_argument("--sa-token", action="append", default=[], metavar="NS/NAME",
                   help="create a ServiceAccount token, kubeconfig and in-cluster directory at "
                        "start (repeatable)")
    p.add_argument("--compaction", type=int, default=10000,
                   help="events kept for watches; older resourceVersions get 410 Gone")
    p.add_argument("--bookmark-interval", type=float, default=5.0,
                   help="seconds between BOOKMARK events on quiet watches")
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="default watch duration when the client sets no timeoutSeconds")
    p.add_argument("--fail-next", type=int, help="fail the next N API requests")
    p.add_argument("--fail-status", type=int, help="status of injected failures (500, 429...)")
    p.add_argument("--retry-after", type=int, help="Retry-After seconds on injected failures")
    p.add_argument("--delay", type=float, help="seconds to delay every API response")
    p.add_argument("--drop-watches-after", type=float,
                   help="cut every watch stream abruptly after this many seconds")
    p.add_argument("--peer-crd", default=PEER_CRD_FILE,
                   help="CRD (JSON) preinstalled at start (default: manifests/01-peer-crd.json)")
    p.add_argument("--no-peer-crd", action="store_true",
                   help="do not preinstall the Peer CRD (peers.skein.dev)")
    p.add_argument("--fresh", action="store_true",
                   help="ignore a store.json saved by a previous run in the state dir")
    p.add_argument("--kubeconfig-format", choices=("yaml", "json"), default="yaml")
    p.add_argument("--embed-ca", action="store_true",
                   help="write certificate-authority-data instead of a path")
    p.add_argument("--cluster-cidr", action="append", default=[],
                   help="allocate pod CIDRs to new Nodes without one from here, like "
                        "kube-controller-manager --allocate-node-cidrs (repeat once per family)")
    p.add_argument("--node-cidr-mask-size", type=int, default=24,
                   help="prefix length of IPv4 pod CIDRs (default 24)")
    p.add_argument("--node-cidr-mask-size-ipv6", type=int, default=64,
                   help="prefix length of IPv6 pod CIDRs (default 64)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p.parse_args(argv)


def cluster_cidrs(args):
    out = []
    for text in args.cluster_cidr:
        try:
            net = ipaddress.ip_network(text)
        except ValueError as e:
            sys.exit("server.py: --cluster-cidr %r: %s" % (text, e))
        prefix = args.node_cidr_mask_size if net.version == 4 else args.node_cidr_mask_size_ipv6
        if not net.prefixlen <= prefix <= net.max_prefixlen:
            sys.exit("server.py: --cluster-cidr %s: node mask size %d does not fit" % (text, prefix))
        out.append((net, prefix))
    return out


def main(argv):
    args = parse_args(argv)
    state = os.path.abspath(args.state_dir)
    os.makedirs(state, exist_ok=True)
    host, port = split_hostport(args.listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    wildcard = host in ("0.0.0.0", "::")
    advertise = args.advertise or ("127.0.0.1" if wildcard else host)
    sans = list(dict.fromkeys(["127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
                               "kubernetes.default.svc"] + ([] if wildcard else [host]) +
                              [advertise] + args.san))
    crt, key = make_certificates(state, sans)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    ctx.set_alpn_protocols(["http/1.1"])

    store = Store(compaction=args.compaction)
    snapshot = os.path.join(state, "store.json")
    if os.path.exists(snapshot) and not args.fresh:
        with open(snapshot) as f:
            store.restore(json.load(f))
    faults = Faults(fail_next=args.fail_next, fail_status=args.fail_status,
                    retry_after=args.retry_after, delay=args.delay,
                    drop_watches_after=args.drop_watches_after,
                    bookmark_interval=args.bookmark_interval)
    app = App(store, None, faults, "", args.verbose, args.watch_timeout,
              cluster_cidrs(args))
    httpd = Server((host, port), family, ctx, app)
    port = httpd.server_address[1]
    shown = "[%s]" % advertise if ":" in advertise else advertise
    app.address = "%s:%d" % (shown, port)
    app.creds = app.api.creds = Credentials(state, "https://" + app.address,
                                            os.path.join(state, "ca.crt"), args.admin_token,
                                            args.kubeconfig_format, args.embed_ca)
    for node in args.node_token:
        app.creds.node_token(node)
    for sa in args.sa_token:
        if sa.count("/") != 1:
            sys.exit("server.py: --sa-token: expected NAMESPACE/NAME, got %r" % sa)
        app.creds.service_account_token(sa)
    seed(app, None if args.no_peer_crd else args.peer_crd)
    write_file(os.path.join(state, "port"), "%d\n" % port, 0o644)
    write_file(os.path.join(state, "server.json"), json.dumps({
        "url": "https://" + app.address, "port": port, "ca": os.path.join(state, "ca.crt"),
        "adminToken": app.creds.admin, "adminKubeconfig": app.creds.kubeconfig_path("admin"),
        "pid": os.getpid()}, indent=1))
    write_file(os.path.join(state, "server.pid"), "%d\n" % os.getpid(), 0o644)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready https://%s state=%s" % (app.address, state), flush=True)
    httpd.serve_forever(poll_interval=0.2)
    store.drop_watches()
    write_file(snapshot, json.dumps(store.snapshot()))
    app.creds.save()
    try:
        os.unlink(os.path.join(state, "server.pid"))
    except OSError:
        pass
    return 0


def seed(app, crd_file):
    """The namespaces every cluster has, and the Peer CRD unless disabled."""
    ns = app.store.find_resource("", "v1", "namespaces")
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        if app.store.get(ns.key, "", name) is None:
            app.api.create(ns, "", {"metadata": {"name": name}})
    crd_res = app.store.resources[CRD_KEY]
    if crd_file:
        with open(crd_file) as f:
            crd = json.load(f)
        if app.store.get(CRD_KEY, "", crd["metadata"]["name"]) is None:
            app.api.create(crd_res, "", crd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
