#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The real kubectl applies manifests/ to the test API server (twice: the
# second run changes nothing), and every object is checked: kinds, RBAC
# verbs exactly the minimum, the CRD's schema rejecting bad Peers, the
# DaemonSets' probes, capabilities and mounts matching the agent's flags.
. "$(dirname "$0")/lib.sh"
. "$SKEIN_ROOT/tests/apiserver/lib.sh"
M=$SKEIN_ROOT/manifests

D=$(mktemp -d /tmp/skein-manifests.XXXXXX)
on_exit "rm -rf $D"
# No preinstalled CRD: the manifests alone must create it.
if ! apiserver_start "$D/srv" --no-peer-crd; then
	fail "server starts"; exit 1
fi

dump() { # FILE: every object skein installs, as one JSON list
	{
		kctl get namespace skein-system -o json
		kctl get crd peers.skein.dev -o json
		kctl get clusterrole skein -o json
		kctl get clusterrolebinding skein -o json
		kctl -n skein-system get serviceaccounts,configmaps,daemonsets -o json
	} 2>/dev/null | python3 -c 'import json, sys
dec, text, objs = json.JSONDecoder(), sys.stdin.read(), []
i = 0
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    o, i = dec.raw_decode(text, i)
    objs += o["items"] if o.get("kind") == "List" else [o]
print(json.dumps(objs))' >"$1"
}

writes() { # the write requests counted by the server so far
	api GET /_test/requests >/dev/null
	jq_py "$APISERVER_DIR/out" 'sum(v for k, v in d["byVerb"].items() if k in ("create", "update", "patch", "delete"))'
}

if kctl apply -f "$M" >"$D/apply1" 2>&1; then pass "kubectl apply -f manifests/"
else fail "kubectl apply -f manifests/"; sed 's/^/    /' "$D/apply1"; fi
check "first apply creates all 7 objects" test "$(grep -c ' created$' "$D/apply1")" = 7
dump "$D/objs1"
w1=$(writes)
if kctl apply -f "$M" >"$D/apply2" 2>&1; then pass "kubectl apply -f manifests/ again"
else fail "kubectl apply -f manifests/ again"; sed 's/^/    /' "$D/apply2"; fi
check "second apply: every object unchanged" test "$(grep -c ' unchanged$' "$D/apply2")" = 7
dump "$D/objs2"
check "second apply: no resourceVersion changed" python3 -c 'import json, sys
rvs = lambda f: sorted((o["kind"], o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in json.load(open(f)))
a, b = rvs(sys.argv[1]), rvs(sys.argv[2])
sys.exit(0 if a == b and len(a) == 7 else 1)' "$D/objs1" "$D/objs2"
check "second apply: no write request reached the server" test "$(writes)" = "$w1"
check "kubectl apply is not recursive: no userspace DaemonSet yet" \
	bash -c "! grep -q skein-userspace '$D/apply1'"

# Changing a manifest and applying again sends a strategic merge patch; the
# stored DaemonSet must then be exactly the changed manifest.
mkdir -p "$D/m2"
cp "$M"/*.yaml "$M"/*.json "$D/m2/"
python3 - "$D/m2/04-daemonset.yaml" <<'PY'
import sys
f = sys.argv[1]
p = open(f).read()
p = p.replace("        - --log-level=$(LOG_LEVEL)\n", "")          # an arg removed
p = p.replace("          periodSeconds: 10\n", "          periodSeconds: 15\n")  # a value changed
p = p.replace("        - name: state\n          mountPath: /var/lib/skein\n",
              "        - name: state\n          mountPath: /var/lib/skein\n          readOnly: false\n"
              "        - name: extra\n          mountPath: /run/extra\n")  # a mount added
p = p.replace("      volumes:\n", "      volumes:\n      - name: extra\n        emptyDir: {}\n")
p = p.replace("        - name: LOG_LEVEL\n          valueFrom:\n            configMapKeyRef: {name: skein, key: log-level}\n", "")
open(f, "w").write(p)
PY
kctl apply -f "$D/m2" >"$D/apply3" 2>&1
check "a changed DaemonSet is configured" grep -q '^daemonset.apps/skein configured' "$D/apply3"
kctl -n skein-system get daemonset skein -o json >"$D/ds3.json"
kctl create --dry-run=client -o json -f "$D/m2/04-daemonset.yaml" >"$D/ds3-want.json"
check "the stored DaemonSet is exactly the changed manifest" python3 -c 'import json, sys
got, want = (json.load(open(f)) for f in sys.argv[1:3])
old = next(o for o in json.load(open(sys.argv[3])) if o["kind"] == "DaemonSet")
t = want["spec"]["template"]["spec"]
changed = t["containers"][0]["readinessProbe"]["periodSeconds"] == 15 and \
    any(v["name"] == "extra" for v in t["volumes"]) and want["spec"] != old["spec"]
sys.exit(0 if changed and got["spec"] == want["spec"] else 1)' "$D/ds3.json" "$D/ds3-want.json" "$D/objs2"
kctl apply -f "$M" >/dev/null 2>&1
kctl -n skein-system get daemonset skein -o json >"$D/ds4.json"
check "applying the original again restores it" python3 -c 'import json, sys
got = json.load(open(sys.argv[1]))
want = next(o for o in json.load(open(sys.argv[2])) if o["kind"] == "DaemonSet")
sys.exit(0 if got["spec"] == want["spec"] else 1)' "$D/ds4.json" "$D/objs2"

# Every object, checked in Python (no jq here). Each check prints PASS/FAIL.
# kubectl turns the userspace variant's YAML into JSON without storing it.
kctl create --dry-run=client -o json -f "$M/userspace/daemonset.yaml" >"$D/userspace.json" ||
	fail "kubectl reads manifests/userspace/daemonset.yaml"
python3 - "$D/objs2" "$D/userspace.json" <<'EOF'
import json, re, sys

objs = {(o["kind"], o["metadata"]["name"]): o for o in json.load(open(sys.argv[1]))}
failed = False

def check(name, ok, detail=""):
    global failed
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok or not detail else " (%s)" % detail))
    failed |= not ok

kinds = sorted(k for k, _ in objs)
check("kinds present", kinds == sorted(["Namespace", "CustomResourceDefinition", "ClusterRole",
      "ClusterRoleBinding", "ServiceAccount", "ConfigMap", "DaemonSet"]), kinds)

role = objs.get(("ClusterRole", "skein"), {})
rules = sorted((tuple(r.get("apiGroups", [])), tuple(r.get("resources", [])),
                tuple(sorted(r.get("verbs", []))), tuple(r.get("resourceNames", [])),
                tuple(r.get("nonResourceURLs", []))) for r in role.get("rules", []))
want = sorted([(("",), ("nodes",), ("get", "list", "patch", "watch"), (), ()),
               (("skein.dev",), ("peers",), ("get", "list", "watch"), (), ())])
check("RBAC: exactly nodes get/list/watch/patch and peers get/list/watch", rules == want, rules)
binding = objs.get(("ClusterRoleBinding", "skein"), {})
check("RBAC: the binding gives that role to the skein ServiceAccount",
      binding.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": "skein"} and
      binding.get("subjects") == [{"kind": "ServiceAccount", "name": "skein",
                                   "namespace": "skein-system"}])

crd = objs.get(("CustomResourceDefinition", "peers.skein.dev"), {}).get("spec", {})
ver = (crd.get("versions") or [{}])[0]
check("CRD: skein.dev, cluster-scoped Peer, v1alpha1 served and stored",
      crd.get("group") == "skein.dev" and crd.get("scope") == "Cluster" and
      crd.get("names", {}).get("kind") == "Peer" and len(crd.get("versions", [])) == 1 and
      ver.get("name") == "v1alpha1" and ver.get("served") and ver.get("storage"))
cols = [c["jsonPath"] for c in ver.get("additionalPrinterColumns", [])]
check("CRD: printer columns for key, allowed IPs, endpoint",
      {".spec.publicKey", ".spec.allowedIPs", ".spec.endpoint.ip"} <= set(cols), cols)

cm = objs.get(("ConfigMap", "skein"), {}).get("data", {})

def check_daemonset(label, ds, wireguard):
    spec = ds.get("spec", {}).get("template", {}).get("spec", {})
    agent = next((c for c in spec.get("containers", []) if c["name"] == "skein-agent"), {})
    args = agent.get("args", [])
    flags = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
    check(label + ": tolerates every taint", {"operator": "Exists"} in spec.get("tolerations", []))
    check(label + ": system-node-critical, hostNetwork, skein ServiceAccount",
          spec.get("priorityClassName") == "system-node-critical" and spec.get("hostNetwork") is True
          and spec.get("serviceAccountName") == "skein")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        sc = c.get("securityContext", {})
        caps = sc.get("capabilities", {})
        allowed = {"skein-agent": ["NET_ADMIN", "NET_RAW"], "wireguard-go": ["NET_ADMIN"]}
        check("%s: %s drops all capabilities but %s, not privileged" % (
              label, c["name"], allowed.get(c["name"], "none")),
              caps.get("drop") == ["ALL"] and sorted(caps.get("add", [])) ==
              allowed.get(c["name"], []) and not sc.get("privileged") and
              sc.get("allowPrivilegeEscalation") is False, sc)
        check("%s: %s image is ghcr.io/skein-dev/skein:0.1.0" % (label, c["name"]),
              c.get("image") == "ghcr.io/skein-dev/skein:0.1.0", c.get("image"))
    check(label + ": agent flags", flags.get("hostname") == "$(NODE_NAME)" and
          flags.get("listen") == ":1107" and flags.get("wireguard") == wireguard and
          flags.get("cni-conf") == "/etc/cni/net.d/10-skein.conflist", flags)
    env = {e["name"]: e.get("valueFrom", {}) for e in agent.get("env", [])}
    check(label + ": NODE_NAME from spec.nodeName",
          env.get("NODE_NAME", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName")
    used = set(re.findall(r"\$\((\w+)\)", " ".join(args)))
    check(label + ": every $(VAR) in the args is defined", used <= set(env), used - set(env))
    refs = {e["configMapKeyRef"]["key"] for e in env.values() if "configMapKeyRef" in e}
    check(label + ": ConfigMap keys all passed as flags, none missing",
          refs == set(cm) and all(env[n]["configMapKeyRef"]["name"] == "skein"
                                  for n in env if "configMapKeyRef" in env[n]), (refs, set(cm)))
    for key in ("mesh-granularity", "subnet", "service-cidr", "mtu", "encapsulate"):
        check("%s: --%s comes from the ConfigMap" % (label, key),
              re.fullmatch(r"\$\((\w+)\)", flags.get(key, "")) is not None and
              env.get(flags[key][2:-1], {}).get("configMapKeyRef", {}).get("key") == key)
    port = int(flags.get("listen", ":0").rsplit(":", 1)[1])
    for probe in ("readinessProbe", "livenessProbe"):
        get = agent.get(probe, {}).get("httpGet", {})
        check("%s: %s is GET /healthz on the --listen port" % (label, probe),
              get.get("path") == "/healthz" and get.get("port") == port, get)
    res = agent.get("resources", {})
    check(label + ": agent requests 20m/32Mi, limit 64Mi (what bench_kube measured)",
          res.get("requests") == {"cpu": "20m", "memory": "32Mi"} and
          res.get("limits") == {"memory": "64Mi"}, res)
    vols = {v["name"]: v for v in spec.get("volumes", [])}

    def host_dir(c, path):
        """The hostPath behind the mount of c that holds path, or None."""
        for m in c.get("volumeMounts", []):
            if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/"):
                hp = vols.get(m["name"], {}).get("hostPath")
                return hp and hp["path"] + path[len(m["mountPath"]):], m
        return None, None
    conf, mount = host_dir(agent, flags.get("cni-conf", ""))
    check(label + ": --cni-conf is on the host's /etc/cni/net.d, writable",
          conf == "/etc/cni/net.d/10-skein.conflist" and not mount.get("readOnly"), conf)
    key_dir, mount = host_dir(agent, "/var/lib/skein")
    check(label + ": /var/lib/skein (the key) is the host's, writable",
          key_dir == "/var/lib/skein" and not mount.get("readOnly"), key_dir)
    init = spec.get("initContainers", [])
    installer = next((c for c in init if c["name"] == "install-cni"), {})
    cmd = installer.get("command", [])
    dest = next((a.split("=", 1)[1] for a in cmd if a.startswith("--install-cni=")), "")
    target, mount = host_dir(installer, dest)
    check(label + ": the init container runs skein-agent --install-cni into the host's /opt/cni/bin, writable",
          cmd[:1] == ["skein-agent"] and len(cmd) == 2 and target == "/opt/cni/bin" and
          mount is not None and not mount.get("readOnly"), cmd)
    mounted = {v for c in init + spec.get("containers", []) for v in
               (m["name"] for m in c.get("volumeMounts", []))}
    check(label + ": every volume is mounted, no other host paths",
          mounted == set(vols) and {v["hostPath"]["path"] for v in vols.values() if "hostPath" in v}
          <= {"/opt/cni/bin", "/etc/cni/net.d", "/var/lib/skein", "/dev/net/tun"}, vols)
    return spec, agent, flags

ds = objs.get(("DaemonSet", "skein"), {})
main_spec, main_agent, main_flags = check_daemonset("DaemonSet", ds, "auto")

# The userspace variant: applied on its own (kubectl apply is not recursive).
us = json.load(open(sys.argv[2]))
spec, agent, flags = check_daemonset("userspace DaemonSet", us, "userspace")
sidecar = next((c for c in spec.get("initContainers", []) if c["name"] == "wireguard-go"), {})
check("userspace: wireguard-go is a native sidecar on skein0",
      sidecar.get("restartPolicy") == "Always" and sidecar.get("command", [None])[0] == "wireguard-go"
      and sidecar.get("command", [])[-1] == "skein0", sidecar.get("command"))
vols = {v["name"]: v for v in spec.get("volumes", [])}
shared = [m["name"] for m in sidecar.get("volumeMounts", []) if m["mountPath"] == "/var/run/wireguard"]
check("userspace: /var/run/wireguard is one emptyDir in both containers",
      len(shared) == 1 and "emptyDir" in vols.get(shared[0], {}) and
      any(m["name"] == shared[0] and m["mountPath"] == "/var/run/wireguard"
          for m in agent.get("volumeMounts", [])))
check("userspace: same agent flags but --wireguard",
      {k: v for k, v in flags.items() if k != "wireguard"} ==
      {k: v for k, v in main_flags.items() if k != "wireguard"})
terms = lambda s: s["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
try:
    a, b = terms(main_spec)[0]["matchExpressions"][0], terms(spec)[0]["matchExpressions"][0]
    ok = a["key"] == b["key"] == "skein.dev/wireguard" and a["values"] == b["values"] == ["userspace"] \
        and {a["operator"], b["operator"]} == {"In", "NotIn"}
except (KeyError, IndexError):
    ok = False
check("userspace and kernel DaemonSets split the nodes by skein.dev/wireguard", ok)
sys.exit(0)
EOF

# The ServiceAccount's token, authorized by the applied RBAC objects alone,
# may do what the agent does and nothing else.
sa=$(klite sa-token skein-system/skein --show-token)
klite node add n1 >/dev/null
merge=application/merge-patch+json
while IFS='|' read -r want method path body; do
	got=$(api "$method" "$path" "$body" "$merge" "$sa")
	check "RBAC in effect: skein's ServiceAccount $method $path: $want" test "$got" = "$want"
done <<EOF
200|GET|/api/v1/nodes?limit=10|
200|GET|/api/v1/nodes?watch=1&timeoutSeconds=1|
200|GET|/api/v1/nodes/n1|
200|PATCH|/api/v1/nodes/n1|{"metadata":{"annotations":{"skein.dev/x":"1"}}}
200|GET|/apis/skein.dev/v1alpha1/peers|
200|GET|/apis/skein.dev/v1alpha1/peers?watch=1&timeoutSeconds=1|
403|PATCH|/api/v1/nodes/n1/status|{"status":{}}
403|DELETE|/api/v1/nodes/n1|
403|POST|/api/v1/nodes|{"metadata":{"name":"n2"}}
403|POST|/apis/skein.dev/v1alpha1/peers|{"metadata":{"name":"p"}}
403|GET|/api/v1/namespaces/kube-system/secrets|
403|GET|/api/v1/namespaces/skein-system/configmaps/skein|
403|GET|/api/v1/pods|
EOF
check "the ServiceAccount has in-cluster files" test -s "$D/srv/serviceaccount/skein-system/skein/token" -a \
	"$(cat "$D/srv/serviceaccount/skein-system/skein/namespace")" = skein-system

# The real kubectl must get 422 for each bad Peer, and accept a good one.
key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
peer() { # NAME SPEC-JSON: applies a Peer, kubectl's output in $D/peer.out
	printf '{"apiVersion":"skein.dev/v1alpha1","kind":"Peer","metadata":{"name":"%s"},"spec":%s}\n' "$1" "$2" >"$D/peer.json"
	kctl apply -f "$D/peer.json" >"$D/peer.out" 2>&1
}
check "a good Peer is accepted" peer good '{"publicKey":"'"$key"'","allowedIPs":["10.5.0.1/32","fd00::1/128"],"endpoint":{"ip":"192.0.2.1","port":51820},"persistentKeepalive":25}'
while IFS='|' read -r what spec; do
	if peer bad "$spec"; then fail "CRD rejects a Peer with $what"
	elif grep -q 'is invalid' "$D/peer.out"; then pass "CRD rejects a Peer with $what"
	else fail "CRD rejects a Peer with $what (not a validation error: $(head -1 "$D/peer.out"))"; fi
done <<EOF
a 43-character key|{"publicKey":"${key:1}","allowedIPs":["10.5.0.1/32"]}
a key with a bad character|{"publicKey":"${key:0:10}!${key:11}","allowedIPs":["10.5.0.1/32"]}
no key|{"allowedIPs":["10.5.0.1/32"]}
no allowed IPs|{"publicKey":"$key","allowedIPs":[]}
an allowed IP that is no CIDR|{"publicKey":"$key","allowedIPs":["10.5.0.1"]}
an allowed IP with prefix 33|{"publicKey":"$key","allowedIPs":["10.5.0.1/33"]}
port 0|{"publicKey":"$key","allowedIPs":["10.5.0.1/32"],"endpoint":{"ip":"192.0.2.1","port":0}}
port 65536|{"publicKey":"$key","allowedIPs":["10.5.0.1/32"],"endpoint":{"ip":"192.0.2.1","port":65536}}
both ip and dns|{"publicKey":"$key","allowedIPs":["10.5.0.1/32"],"endpoint":{"ip":"192.0.2.1","dns":"a.example","port":1}}
a negative keepalive|{"publicKey":"$key","allowedIPs":["10.5.0.1/32"],"persistentKeepalive":-1}
EOF
check "no bad Peer was stored" bash -c "! kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/srv/kubectl-cache get peer bad >/dev/null 2>&1"

check "the userspace variant applies" bash -c "
	kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/srv/kubectl-cache apply -f $M/userspace/ >/dev/null"
check "server-side apply of manifests/ works too" bash -c "
	kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/srv/kubectl-cache apply --server-side --force-conflicts -f $M >/dev/null"

# The agent must accept every flag the DaemonSets pass, with the ConfigMap's
# values: getopt parses (and checks) them all before the final --version.
resolved_args() { # DAEMONSET-JSON: the agent's args with $(VARS) filled in, one a line
	python3 - "$1" "$D/objs2" <<'PY'
import json, re, sys
ds = json.load(open(sys.argv[1]))
cm = next(o for o in json.load(open(sys.argv[2])) if o["kind"] == "ConfigMap")["data"]
agent = next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "skein-agent")
env = {"NODE_NAME": "node-1"}
env.update({e["name"]: cm[e["valueFrom"]["configMapKeyRef"]["key"]] for e in agent["env"]
            if "configMapKeyRef" in e.get("valueFrom", {})})
for a in agent["args"]:
    print(re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a))
PY
}
if [ -x "$BIN/skein-agent" ]; then
	python3 -c 'import json, sys
print(json.dumps(next(o for o in json.load(open(sys.argv[1])) if o["kind"] == "DaemonSet")))' \
		"$D/objs2" >"$D/ds.json"
	for ds in "$D/ds.json" "$D/userspace.json"; do
		mapfile -t args < <(resolved_args "$ds")
		if out=$("$BIN/skein-agent" "${args[@]}" --version 2>&1) && [ -n "$out" ]; then
			pass "skein-agent accepts the args of $(basename "$ds" .json): ${args[*]}"
		else
			fail "skein-agent accepts the args of $(basename "$ds" .json): $out"
		fi
		# The init container's flags, checked by getopt the same way (the
		# final --version exits before anything is installed).
		mapfile -t args < <(jq_py "$ds" '"\n".join(next(c for c in d["spec"]["template"]["spec"]["initContainers"] if c["name"] == "install-cni")["command"][1:])')
		if out=$("$BIN/skein-agent" "${args[@]}" --version 2>&1) && [ -n "$out" ]; then
			pass "skein-agent accepts the install-cni args of $(basename "$ds" .json): ${args[*]}"
		else
			fail "skein-agent accepts the install-cni args of $(basename "$ds" .json): $out"
		fi
	done
else
	skip "skein-agent flags (bin/skein-agent not built)"
fi
