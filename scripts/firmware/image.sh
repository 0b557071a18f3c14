#!/usr/bin/env bash
# The firmware image for qemu: Debian's kernel (scripts/bootstrap unpacks it into
# .build-vm/kernel) and an initramfs holding BusyBox, the overlay (overlay/), the firmware wgd
# (scripts/build-release) with the shared libraries it needs, wg and iproute2's ip with theirs,
# the kernel modules WireGuard, veth, TUN, virtio and ext4 need, and the test image's own files
# (scripts/firmware/vm: init, rcS/rcK, the persistent disk on /data, the "WAN" veth, the
# kernel WireGuard peer, the boot test's checks). Built without root.
#
#   scripts/firmware/image.sh build [DIR]         # DIR (default .build-vm/image): vmlinuz, initramfs.cpio.gz
#   scripts/firmware/image.sh disk FILE           # a new, empty persistent disk (ext4, 32 MiB)
#   scripts/firmware/image.sh boot [DIR] [DISK] [KERNEL-ARGS...]
#                                                 # boots it on this terminal (Ctrl-A X quits);
#                                                 # DISK default DIR/disk.img, made when missing
# WGD_BIN: the wgd to put in (default: scripts/build-release's). QEMU_ACCEL: tcg (default) or kvm.
# QEMU_SMP: CPUs (default 2).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
kernel_dir=${WGD_VM_KERNEL:-$repo/.build-vm/kernel/current}

die() { echo "image.sh: $*" >&2; exit 1; }

# The modules the image loads, by name; their dependencies come from modules.dep.
modules=(
  virtio_pci virtio_blk  # the persistent disk
  crc32c_generic ext4    # its file system (ext4 checksums its metadata with crc32c)
  tun                    # wgd's interfaces
  veth                   # the "WAN" between the two namespaces
  wireguard              # the peer
)

kernel_release() {
  local d
  d=$(compgen -G "$kernel_dir/lib/modules/*/modules.dep" | head -n 1) ||
    die "no kernel in $kernel_dir (run scripts/bootstrap)"
  d=${d%/modules.dep}
  echo "${d##*/}"
}

# module_order: the .ko paths (relative to lib/modules/RELEASE) of $modules and everything they
# depend on, each after its dependencies.
module_order() {
  local dep=$1 m
  declare -A deps=() seen=()
  local line key rest
  while IFS= read -r line; do
    key=${line%%:*}; rest=${line#*:}
    deps[$key]=$rest
  done <"$dep"
  visit() {
    local ko=$1 d
    [ -n "${seen[$ko]:-}" ] && return 0
    seen[$ko]=1
    for d in ${deps[$ko]}; do visit "$d"; done
    echo "$ko"
  }
  for m in "${modules[@]}"; do
    local ko
    ko=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$dep" | cut -d: -f1) || die "no module $m in $dep"
    visit "$ko"
  done
}

# copy_binary FILE DEST-IN-ROOT: FILE and the shared libraries ldd resolves for it, each at the
# path the dynamic linker looks for it.
copy_binary() {
  local file=$1 dest=$2 lib
  install -D -m 0755 "$file" "$root/$dest"
  while read -r lib; do
    [ -n "$lib" ] || continue
    [ -e "$root$lib" ] && continue
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done < <(ldd "$file" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}

build() {
  local out=${1:-$repo/.build-vm/image} release wgd busybox applet
  release=$(kernel_release)
  busybox=$(command -v busybox) || die "no busybox (scripts/bootstrap installs busybox-static)"
  [[ $(ldd "$busybox" 2>&1) == *"not a dynamic"* ]] ||
    die "$busybox is not static (install busybox-static)"
  wgd=${WGD_BIN:-$("$repo/scripts/build-release")}
  [ -x "$wgd" ] || die "no wgd at $wgd"
  [ -d "$repo/overlay" ] || die "no overlay/ in $repo"

  mkdir -p "$out"
  root=$(mktemp -d "$out/.root.XXXXXX")
  trap 'rm -rf "$root"' EXIT

  # BusyBox and its applets (iproute2's ip replaces its ip: see S20net).
  install -D -m 0755 "$busybox" "$root/bin/busybox"
  while read -r applet; do
    case "$applet" in sbin/ip | bin/busybox) continue ;; esac
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
  done < <("$busybox" --list-full)
  mkdir -p "$root"/{dev,proc,sys,run,tmp,root,data,etc/wgd-vm}
  chmod 1777 "$root/tmp"
  mkdir -p "$root/var"
  ln -s ../run "$root/var/run"

  # The firmware binary (stripped as on the device), the tools the test drives it with.
  copy_binary "$wgd" /usr/sbin/wgd
  strip "$root/usr/sbin/wgd"
  copy_binary "$(command -v wg)" /usr/bin/wg
  copy_binary "$(command -v ip)" /sbin/ip

  # The kernel modules, and the order to load them in.
  local kmod="$kernel_dir/lib/modules/$release" ko
  module_order "$kmod/modules.dep" >"$root/etc/wgd-vm/modules"
  while read -r ko; do
    # Debian 12 builds them uncompressed (CONFIG_MODULE_COMPRESS_NONE); S01modules' insmod
    # would need a .ko.xz unpacked first.
    [[ $ko == *.ko ]] || die "$ko is compressed: unpack it here for BusyBox's insmod"
    install -D -m 0644 "$kmod/$ko" "$root/lib/modules/$release/$ko"
  done <"$root/etc/wgd-vm/modules"

  # The overlay as the firmware ships it, then the test image's files on top.
  cp -a "$repo/overlay/." "$root/"
  cp -a "$repo/scripts/firmware/vm/." "$root/"

  # The test image's settings: the state on the persistent disk, the public key beside it, and
  # a skeleton with the tunnel's address. Everything else as the overlay ships it.
  sed -i -e 's|^WGD_STATE=.*|WGD_STATE="/data/wgd/state.json"|' \
    -e 's|^WGD_PUBLIC_KEY_FILE=.*|WGD_PUBLIC_KEY_FILE="/data/wg0.pub"|' \
    -e 's|^WGD_SKELETON=.*|WGD_SKELETON="/usr/share/wgd-vm/state.json"|' "$root/etc/default/wgd"
  for v in 'WGD_STATE="/data/wgd/state.json"' 'WGD_PUBLIC_KEY_FILE="/data/wg0.pub"' 'WGD_SKELETON="/usr/share/wgd-vm/state.json"'; do
    grep -qxF "$v" "$root/etc/default/wgd" || die "overlay/etc/default/wgd has no ${v%%=*}= line to set"
  done
  mkdir -p "$root/usr/share/wgd-vm"
  python3 - "$root/usr/share/wgd/state.json" "$root/usr/share/wgd-vm/state.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
i = [i for i in d["interfaces"] if i["name"] == "wg0"]
assert i, "the overlay's skeleton has no wg0"
i[0]["addresses"] = ["192.0.2.1/24"]
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY

  (cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
    "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >"$out/initramfs.cpio.gz.tmp"
  mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
  ln -sf "$kernel_dir/boot/vmlinuz-$release" "$out/vmlinuz"
  echo "$out"
}

disk() {
  local file=${1:?usage: image.sh disk FILE}
  rm -f "$file"
  truncate -s 32M "$file"
  mke2fs -q -F -t ext4 -L wgd-data "$file"
}

boot() {
  local dir=${1:-$repo/.build-vm/image} disk_file
  shift || true
  disk_file=${1:-$dir/disk.img}
  shift || true
  [ -e "$dir/initramfs.cpio.gz" ] || die "no image in $dir (image.sh build $dir)"
  [ -e "$disk_file" ] || disk "$disk_file"
  exec qemu-system-x86_64 -accel "${QEMU_ACCEL:-tcg}" -cpu max -m 512 -smp "${QEMU_SMP:-2}" \
    -nographic -no-reboot -nic none \
    -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
    -drive "file=$disk_file,format=raw,if=virtio" \
    -append "console=ttyS0 panic=-1 quiet $*"
}

case "${1:-}" in
build | disk | boot) cmd=$1; shift; "$cmd" "$@" ;;
*) sed -n '9,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
