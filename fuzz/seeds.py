#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes fuzz/corpus/<harness>/ seeds from the real fixtures
(tests/fixtures/kind-node.json, the documented conflist and Peer, the
UAPI reply wireguard-go gives). Run from the repository root; the
output is committed, so this runs only when a fixture changes."""
import copy, json, os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
KEY_A = "GOu4YmjCmpcdSxe2Qts7sYBmHWCGLxg91OJj0A9Znjg="
KEY_B = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
HEX_A = "01" * 32


def write(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


with open(os.path.join(ROOT, "tests", "fixtures", "kind-node.json")) as f:
    kind = json.load(f)

skein = copy.deepcopy(kind)
skein["metadata"]["annotations"].update({
    "skein.dev/location": "aws", "skein.dev/leader": "true",
    "skein.dev/force-endpoint": "[2001:db8::1]:51820",
    "skein.dev/persistent-keepalive": "25",
    "skein.dev/allowed-location-ips": "192.168.10.0/24,fd00:1::/64",
    "skein.dev/public-key": KEY_A, "skein.dev/endpoint": "node.example.com:51820",
    "skein.dev/internal-ip": "172.18.0.2/16", "skein.dev/wireguard-ip": "10.4.0.1/16",
    "skein.dev/discovered-endpoints": compact({KEY_B: {"IP": "198.51.100.7", "Port": 4000}}),
})
kilo = copy.deepcopy(kind)
kilo["metadata"]["annotations"].update({
    "kilo.squat.ai/location": "gcp", "kilo.squat.ai/key": KEY_B,
    "kilo.squat.ai/force-internal-ip": "10.0.0.5/24",
})
for name, node in (("kind-node", kind), ("skein-node", skein), ("kilo-node", kilo)):
    write("fuzz_kube_node", name + ".json", compact(node))

peer = {"apiVersion": "skein.dev/v1alpha1", "kind": "Peer", "metadata": {"name": "laptop"},
        "spec": {"publicKey": KEY_A, "allowedIPs": ["10.5.0.1/32", "fd00:5::/64"],
                 "persistentKeepalive": 25, "presharedKey": KEY_B,
                 "endpoint": {"ip": "203.0.113.7", "port": 51820}}}
dns_peer = copy.deepcopy(peer)
dns_peer["spec"]["endpoint"] = {"dns": "vpn.example.com", "port": 51820}
write("fuzz_kube_peer", "peer.json", compact(peer))
write("fuzz_kube_peer", "dns-peer.json", compact(dns_peer))

events = [{"type": "ADDED", "object": skein}, {"type": "MODIFIED", "object": kilo},
          {"type": "DELETED", "object": peer}, {"type": "BOOKMARK",
          "object": {"kind": "Node", "metadata": {"resourceVersion": "12"}}},
          {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}]
stream = "\n".join(compact(e) for e in events) + "\n"
write("fuzz_kube_watch", "stream-chunk7", b"\x06" + stream.encode())
write("fuzz_kube_watch", "stream-whole", b"\x10" + stream.encode())

conflist = {"cniVersion": "1.1.0", "name": "skein", "plugins": [
    {"type": "skein", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"], "mtu": 1420,
     "dataDir": "/var/lib/cni/skein", "logFile": "/var/log/skein-cni.log"},
    {"type": "portmap", "capabilities": {"portMappings": True}}]}
plugin = {"cniVersion": "0.4.0", "name": "skein", "type": "skein", "podCIDRs": ["10.244.1.0/24"],
          "prevResult": {"cniVersion": "0.4.0",
                         "interfaces": [{"name": "eth0", "mac": "0a:58:0a:f4:01:05",
                                         "sandbox": "/var/run/netns/p"}],
                         "ips": [{"version": "4", "address": "10.244.1.5/24",
                                  "gateway": "10.244.1.1", "interface": 0}],
                         "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}]}}
gc = {"cniVersion": "1.1.0", "name": "skein", "type": "skein", "podCIDRs": ["10.244.1.0/24"],
      "cni.dev/valid-attachments": [{"containerID": "abc", "ifname": "eth0"}]}
write("fuzz_cni_config", "conflist.json", json.dumps(conflist))
write("fuzz_cni_config", "plugin-prevresult.json", compact(plugin))
write("fuzz_cni_config", "gc.json", compact(gc))

write("fuzz_cni_env", "add", "CNI_COMMAND=ADD\nCNI_CONTAINERID=abc-1.x_y\nCNI_IFNAME=eth0\n"
      "CNI_NETNS=/var/run/netns/p\nCNI_PATH=/opt/cni/bin\nCNI_ARGS=K8S_POD_NAME=a;IgnoreUnknown=1\n")
write("fuzz_cni_env", "del", "CNI_COMMAND=DEL\nCNI_CONTAINERID=abc\nCNI_IFNAME=eth0\nCNI_PATH=/x\n")
write("fuzz_cni_env", "gc", "CNI_COMMAND=GC\nCNI_PATH=/x\n")

head = ("apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "contexts:\n- name: dev\n  context: {cluster: k, user: u, namespace: skein}\n")
write("fuzz_kubeconfig", "files.yaml", head + "clusters:\n- name: k\n  cluster:\n"
      "    server: https://10.0.0.1:6443/\n    certificate-authority: pki/ca.crt\n"
      "users:\n- name: u\n  user:\n    client-certificate: /etc/u.crt\n    client-key: u.key\n"
      "    token: abc.def\n")
write("fuzz_kubeconfig", "data.yaml", head + "clusters:\n- {name: k, cluster: {server: "
      "'https://k:6443', certificate-authority-data: QUJD, insecure-skip-tls-verify: true}}\n"
      "users:\n- {name: u, user: {client-certificate-data: QUJD, client-key-data: QUJD, "
      "tokenFile: /run/token}}\n")
write("fuzz_kubeconfig", "config.json", compact({
    "apiVersion": "v1", "current-context": "dev",
    "contexts": [{"name": "dev", "context": {"cluster": "k", "user": "u"}}],
    "clusters": [{"name": "k", "cluster": {"server": "https://[fd00::1]:6443"}}],
    "users": [{"name": "u", "user": {"token": "t"}}]}))

write("fuzz_wg_uapi", "reply", b"\x04" + (
    "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
    "listen_port=51820\nfwmark=0\npublic_key=" + HEX_A + "\npreshared_key=" + "00" * 32 + "\n"
    "protocol_version=1\nendpoint=192.0.2.1:51820\nlast_handshake_time_sec=1700000000\n"
    "last_handshake_time_nsec=5\ntx_bytes=100\nrx_bytes=200\npersistent_keepalive_interval=25\n"
    "allowed_ip=10.1.0.0/24\nallowed_ip=fd00::/64\npublic_key=" + "02" * 32 + "\n"
    "endpoint=[2001:db8::1%3]:4000\nerrno=0\n\n").encode())
write("fuzz_wg_uapi", "error", b"\x00errno=2\n\n")

for i, (sel, text) in enumerate([(0, "10.244.1.0/24"), (0, "fd00:10:244:1::/64"), (1, "172.18.0.2"),
                                 (1, "2001:db8::1/128"), (2, "::ffff:1.2.3.4"), (3, "[2001:db8::1]:51820"),
                                 (3, "node.example.com:51820"), (3, "192.0.2.1:51820"), (4, KEY_A),
                                 (5, "10.244.1.5,fd00:10:244:1::5|abc-1|eth0")]):
    write("fuzz_parse", "seed%d" % i, bytes([sel]) + text.encode())
