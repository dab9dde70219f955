#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Boots Debian's cloud kernel (which has WireGuard) under qemu with an
# initramfs holding busybox, the given binaries with their shared libraries,
# kernel modules and SCRIPT, runs SCRIPT as the payload of /init and exits
# with SCRIPT's status. The console goes to stdout. The kernel package is
# downloaded once with `apt-get download` into build/kernel-vm/ and reused.
#
# usage: hack/kernel-vm.sh [options] SCRIPT
#   --bin PATH[:DEST]   copy a program (and what ldd lists) to DEST
#                       (default /usr/bin/NAME); repeatable
#   --file SRC:DEST     copy a file; repeatable
#   --module NAME       load a module (with its dependencies) before SCRIPT;
#                       repeatable; wireguard and veth are always loaded
#   --timeout SEC       kill the VM after SEC seconds (default 300)
#   --mem MB            guest memory (default 512)
#   --forward GUEST_IP:PORT=HOST_PORT
#                       a virtio NIC (eth0 in the guest; give it 10.0.2.15/24)
#                       on qemu's user network with restrict=on: the guest's
#                       TCP connections to GUEST_IP:PORT (in 10.0.2.0/24)
#                       reach 127.0.0.1:HOST_PORT on this host, and nothing
#                       else leaves the VM; repeatable
# SCRIPT runs under busybox sh with PATH=/usr/sbin:/usr/bin:/sbin:/bin, proc,
# sys, devtmpfs and tmpfs /run and /tmp mounted, lo up.
# Exit status: SCRIPT's; 125 when the VM could not be prepared (no package,
# no tools); 124 when it booted but reported no result (hung or crashed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$ROOT/build/kernel-vm
bins=() files=() modules=(wireguard veth)
timeout_sec=300 mem=512 forwards=()

die() { echo "kernel-vm: $*" >&2; exit 125; }

while [ $# -gt 1 ]; do
	case $1 in
	--bin) bins+=("$2"); shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	--module) modules+=("$2"); shift 2 ;;
	--timeout) timeout_sec=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--forward)
		[[ $2 =~ ^10\.0\.2\.[0-9]+:[0-9]+=[0-9]+$ ]] ||
			die "--forward $2: want GUEST_IP:PORT=HOST_PORT with GUEST_IP in 10.0.2.0/24"
		forwards+=("$2"); shift 2 ;;
	*) die "unknown option $1" ;;
	esac
done
[ $# -eq 1 ] || die "usage: $0 [--bin PATH[:DEST]] [--file SRC:DEST] [--module M] [--timeout S] [--mem MB] SCRIPT"
script=$1
[ -f "$script" ] || die "$script: no such file"
for tool in qemu-system-x86_64 cpio depmod dpkg busybox; do
	command -v "$tool" >/dev/null || die "$tool not installed (hack/install-deps.sh)"
done
busybox_bin=$(command -v busybox)
if ldd "$busybox_bin" >/dev/null 2>&1; then die "$busybox_bin is not static (install busybox-static)"; fi

# The newest Debian cloud kernel the package lists know, downloaded once.
kernel_package() {
	apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' |
		awk '{print $1}' | sort -V | tail -1
}

fetch_kernel() {
	local deb pkg
	mkdir -p "$CACHE"
	deb=$(ls "$CACHE"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$deb" ]; then echo "$deb"; return; fi
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		apt-get update -qq >&2 || die "apt-get update failed"
		pkg=$(kernel_package)
	fi
	[ -n "$pkg" ] || die "no linux-image-*-cloud-amd64 package known to apt"
	if ! (cd "$CACHE" && apt-get download "$pkg" >&2); then
		apt-get update -qq >&2 || die "apt-get update failed"
		(cd "$CACHE" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
	fi
	ls "$CACHE"/linux-image-*-cloud-amd64_*.deb | sort -V | tail -1
}

# Unpacks the package once into CACHE/tree-NAME with modules.dep made.
unpack_kernel() {
	local deb=$1 tree version
	tree=$CACHE/tree-$(basename "$deb" .deb)
	if [ ! -f "$tree/.done" ]; then
		rm -rf "$tree"
		dpkg -x "$deb" "$tree" || die "dpkg -x $deb failed"
		version=$(ls "$tree/lib/modules")
		depmod -b "$tree" "$version" || die "depmod failed"
		touch "$tree/.done"
	fi
	echo "$tree"
}

# Prints module paths (relative to the modules dir) in load order.
module_order() {
	local dep=$1; shift
	awk -v want="$*" '
		{ sub(":", "", $1); path[$1] = $0; n = split($1, parts, "/")
		  name = parts[n]; sub(/\.ko.*$/, "", name); gsub("-", "_", name); byname[name] = $1 }
		function load(p,    f, n, i) {
			if (p in done) return
			done[p] = 1
			n = split(path[p], f, " ")
			for (i = 2; i <= n; i++) load(f[i])
			print p
		}
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				m = w[i]; gsub("-", "_", m)
				if (!(m in byname)) { print "missing module " w[i] > "/dev/stderr"; exit 1 }
				load(byname[m])
			}
		}' "$dep"
}

copy_with_libs() { # SRC DEST ROOTFS
	local src=$1 dest=$2 rootfs=$3 lib
	mkdir -p "$rootfs$(dirname "$dest")"
	cp -L "$src" "$rootfs$dest"
	for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$rootfs$lib" ] && continue
		mkdir -p "$rootfs$(dirname "$lib")"
		cp -L "$lib" "$rootfs$lib"
	done
}

build_initramfs() { # TREE OUT
	local tree=$1 out=$2 version moddir rootfs m b src dest
	version=$(ls "$tree/lib/modules")
	moddir=$tree/lib/modules/$version
	rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,var,etc,modules}
	cp "$busybox_bin" "$rootfs/bin/busybox"
	for b in $("$busybox_bin" --list); do
		[ -e "$rootfs/bin/$b" ] || ln -s busybox "$rootfs/bin/$b"
	done
	ln -s ../run "$rootfs/var/run"
	module_order "$moddir/modules.dep" "${modules[@]}" >"$rootfs/modules/order" ||
		die "resolving modules ${modules[*]}"
	while read -r m; do
		mkdir -p "$rootfs/modules/$(dirname "$m")"
		cp "$moddir/$m" "$rootfs/modules/$m"
	done <"$rootfs/modules/order"
	for b in "${bins[@]}"; do
		src=${b%%:*}; dest=${b#*:}
		[ "$dest" = "$b" ] && dest=/usr/bin/$(basename "$src")
		[ -x "$src" ] || die "--bin $src: not an executable"
		copy_with_libs "$src" "$dest" "$rootfs"
	done
	for b in "${files[@]}"; do
		src=${b%%:*}; dest=${b#*:}
		[ -f "$src" ] || die "--file $src: no such file"
		mkdir -p "$rootfs$(dirname "$dest")"
		cp "$src" "$rootfs$dest"
	done
	cp "$script" "$rootfs/test.sh"
	cat >"$rootfs/init" <<'EOF'
#!/bin/busybox sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
while read -r m; do
	insmod "/modules/$m" || echo "kernel-vm: insmod $m failed"
done </modules/order
ip link set lo up
echo   # the firmware's terminal escapes end the previous line
sh /test.sh
echo "KERNEL-VM-RESULT rc=$?"
sync
poweroff -f
EOF
	chmod +x "$rootfs/init"
	(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$out" || die "packing the initramfs"
	rm -rf "$rootfs"
}

deb=$(fetch_kernel)
tree=$(unpack_kernel "$deb")
kernel=$(ls "$tree"/boot/vmlinuz-*)
initrd=$(mktemp "$CACHE/initrd.XXXXXX")
log=$(mktemp "$CACHE/console.XXXXXX")
trap 'rm -f "$initrd" "$log"' EXIT
[ ${#forwards[@]} -eq 0 ] || modules+=(virtio_pci virtio_net)
build_initramfs "$tree" "$initrd"

# restrict=on: the guest reaches only the guestfwd targets (this host's
# loopback), never the host's networks or beyond.
net_args=()
if [ ${#forwards[@]} -gt 0 ]; then
	netdev=user,id=n0,restrict=on
	for f in "${forwards[@]}"; do
		# cmd: spawns one connection per guest connection (a tcp:
		# chardev would be a single connection for the VM's lifetime).
		netdev+=",guestfwd=tcp:${f%%=*}-cmd:$busybox_bin nc 127.0.0.1 ${f#*=}"
	done
	# shellcheck disable=SC2054 # qemu option values are comma-separated
	net_args=(-netdev "$netdev" -device virtio-net-pci,netdev=n0)
fi

# -nographic reads stdin: give it none. TCG: -enable-kvm hung on these machines.
timeout "$timeout_sec" qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp 1 \
	-kernel "$kernel" -initrd "$initrd" "${net_args[@]}" \
	-append "console=ttyS0 quiet panic=-1" -nographic -no-reboot </dev/null | tee "$log" || true
rc=$(sed -n 's/.*KERNEL-VM-RESULT rc=\([0-9]*\).*/\1/p' "$log" | tail -1)
if [ -z "$rc" ]; then
	echo "kernel-vm: the VM reported no result (timeout ${timeout_sec}s?)" >&2
	exit 124
fi
exit "$rc"
