#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every RBAC object in manifests/ (any file, any kind) grants skein exactly
# what test_manifests.sh asserts for the skein ClusterRole and nothing
# more: no second role or binding, no wildcard, no secrets, and the binding
# names only skein's ServiceAccount. A mutated copy of the manifests (a verb
# added, a cluster-admin binding added) must make the check fail, so the
# check itself is shown to bite.
source "$(dirname "$0")/lib.sh"

D=$(mktemp -d /tmp/skein-rbac.XXXXXX)
on_exit "rm -rf $D"

rbac_check() { # DIR: prints a reason per violation, exits non-zero on any
	python3 - "$1" <<'EOF_PY'
import json, os, sys, yaml

WANT = {("", "nodes"): {"get", "list", "watch", "patch"},
        ("skein.dev", "peers"): {"get", "list", "watch"}}
RBAC = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
bad = []
for root, _, files in os.walk(sys.argv[1]):
    for f in sorted(files):
        path = os.path.join(root, f)
        text = open(path).read()
        docs = [json.loads(text)] if f.endswith(".json") else list(yaml.safe_load_all(text))
        for d in docs:
            if not isinstance(d, dict) or d.get("kind") not in RBAC:
                continue
            name = "%s %s/%s" % (f, d["kind"], d.get("metadata", {}).get("name"))
            if d["kind"] in ("Role", "ClusterRole"):
                if d["metadata"].get("name") != "skein" or d["kind"] != "ClusterRole":
                    bad.append("%s: a role other than ClusterRole skein" % name)
                for r in d.get("rules", []):
                    if r.get("nonResourceURLs") or r.get("resourceNames"):
                        bad.append("%s: nonResourceURLs/resourceNames rule" % name)
                    for g in r.get("apiGroups", []):
                        for res in r.get("resources", []):
                            extra = set(r.get("verbs", [])) - WANT.get((g, res), set())
                            if extra:
                                bad.append("%s: %s/%s verbs %s beyond the minimum" %
                                           (name, g or "core", res, sorted(extra)))
            else:
                ref = d.get("roleRef", {})
                if d["kind"] != "ClusterRoleBinding" or ref.get("name") != "skein" or \
                        ref.get("kind") != "ClusterRole":
                    bad.append("%s: binds %s %s" % (name, ref.get("kind"), ref.get("name")))
                if d.get("subjects") != [{"kind": "ServiceAccount", "name": "skein",
                                          "namespace": "skein-system"}]:
                    bad.append("%s: subjects %s" % (name, d.get("subjects")))
for b in bad:
    print("    " + b)
sys.exit(1 if bad else 0)
EOF_PY
}

check "RBAC in manifests/: only ClusterRole skein, nodes get/list/watch/patch, peers get/list/watch" \
	rbac_check "$SKEIN_ROOT/manifests"

cp -r "$SKEIN_ROOT/manifests" "$D/verb"
sed -i 's/verbs: \["get", "list", "watch"\]/verbs: ["get", "list", "watch", "create"]/' "$D/verb/02-rbac.yaml"
if grep -q '"create"' "$D/verb/02-rbac.yaml" && ! rbac_check "$D/verb" >"$D/out"; then
	pass "an added verb (peers create) is refused: $(tr -s ' ' <"$D/out" | head -1)"
else
	fail "an added verb (peers create) is refused"
fi

cp -r "$SKEIN_ROOT/manifests" "$D/admin"
cat >"$D/admin/99-extra.yaml" <<'EOF_YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: skein-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: skein, namespace: skein-system}]
EOF_YAML
if ! rbac_check "$D/admin" >"$D/out"; then
	pass "a second binding (cluster-admin) is refused: $(tr -s ' ' <"$D/out" | head -1)"
else
	fail "a second binding (cluster-admin) is refused"
fi
