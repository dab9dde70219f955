#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs every build, test and demo dependency of skein on Debian 12, as root.
# --no-install-recommends matters: plain wireguard-tools would pull in a kernel image.
set -euo pipefail

packages=(
  build-essential clang pkg-config make
  libmnl-dev libnftnl-dev libcurl4-openssl-dev libjansson-dev libsodium-dev
  libmicrohttpd-dev libcmocka-dev libyaml-dev
  iproute2 nftables iputils-ping iperf3 procps psmisc kmod
  wireguard-tools wireguard-go
  containernetworking-plugins
  python3 openssl ca-certificates curl jq
  graphviz valgrind musl-tools
  podman buildah
  qemu-system-x86 cpio busybox-static
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
