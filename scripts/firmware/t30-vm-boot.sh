#!/usr/bin/env bash
# t30: the firmware image booted in qemu (TCG) against the Linux kernel's WireGuard, twice on
# the same persistent disk. Boot 1: init runs the overlay's S42wgd, provisioning generates the
# key, wgd comes up in router mode as user wgd; the test image's S90peer brings up the kernel's
# WireGuard in a second namespace across a veth and introduces it to wgd with `wg set`; pings
# both ways, `wg show` on both sides; reboot. Boot 2: the same public key, the same peer from
# the state file, the tunnel back by itself, no `wg set`. The VM's checks print "WGD-VM: PASS/
# FAIL" lines (scripts/firmware/vm/etc/init.d/S99wgdvm), relayed here one by one; the host
# compares the two boots. The transcripts are printed.
#   WGD_BIN=path            the wgd to boot (default: scripts/build-release's)
#   WGD_VM_KERNEL_ARGS=...  more kernel arguments for both boots, e.g. wgdvm.skip=S42wgd (boots
#                           without starting wgd: the checks must fail)
#   WGD_VM_BOOT_TIMEOUT=N   seconds per boot (default 60)
#   WGD_VM_KERNEL=DIR       an unpacked kernel package (default .build-vm/kernel/current)
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE="$REPO/scripts/firmware/image.sh"
BOOT_TIMEOUT=${WGD_VM_BOOT_TIMEOUT:-60}
echo "== $WGT_NAME: the firmware image in qemu against the kernel's WireGuard, rebooted on its disk"

missing=()
for c in qemu-system-x86_64 busybox mke2fs wg ip python3 gzip strip ldd; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
compgen -G "${WGD_VM_KERNEL:-$REPO/.build-vm/kernel/current}/boot/vmlinuz-*" >/dev/null ||
  missing+=("Debian's kernel in ${WGD_VM_KERNEL:-.build-vm/kernel/current}")
if [ ${#missing[@]} -gt 0 ]; then
  # CI runs scripts/bootstrap as root, which installs all of it: there, missing is a failure.
  [ "$(id -u)" -eq 0 ] && abort "missing: ${missing[*]} (scripts/bootstrap installs them)"
  skip_all "missing: ${missing[*]} (scripts/bootstrap installs them; it needs root for the packages)"
fi

info "image: $IMAGE build $WGT_TMP/image"
if ! "$IMAGE" build "$WGT_TMP/image" >"$WGT_TMP/image.log" 2>&1; then
  sed 's/^/    | /' "$WGT_TMP/image.log"
  abort "the image did not build"
fi
pass "the image built ($(du -k "$WGT_TMP/image/initramfs.cpio.gz" | cut -f1) KiB initramfs, kernel $(basename "$(readlink -f "$WGT_TMP/image/vmlinuz")"))"
"$IMAGE" disk "$WGT_TMP/disk.img" || abort "the persistent disk"

# boot N: boots the image once (wgdvm.test=N), prints the transcript; sets T (the transcript
# file), BOOT_RC and BOOT_SECONDS.
boot() {
  local n=$1 t0=$SECONDS pid
  T="$WGT_TMP/boot$n.txt"
  # shellcheck disable=SC2086 # the extra kernel arguments are split on purpose
  timeout --foreground "$BOOT_TIMEOUT" "$IMAGE" boot "$WGT_TMP/image" "$WGT_TMP/disk.img" \
    "wgdvm.test=$n" ${WGD_VM_KERNEL_ARGS:-} </dev/null >"$T.raw" 2>&1 7>&- 8>&- &
  pid=$!
  reg_pid "$pid"
  wait "$pid"
  BOOT_RC=$?
  BOOT_SECONDS=$((SECONDS - t0))
  # The console's escape sequences (SeaBIOS clears the screen) and carriage returns out.
  sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc/\n/g' -e 's/\r$//' "$T.raw" >"$T"
  echo "-- boot $n: the VM's console"
  sed "s/^/  boot$n | /" "$T"
}

# vm_value NAME: the value of the last "WGD-VM: INFO NAME VALUE" line in $T.
vm_value() { sed -n "s/^WGD-VM: INFO $1 //p" "$T" | tail -n 1 | sed 's/ *$//'; }

# checks_of N: the checks every boot has; sets KEY (provisioning's) and the VM's values.
checks_of() {
  local n=$1 line
  if [ "$BOOT_RC" -eq 0 ]; then pass "boot $n: qemu ended by itself in $BOOT_SECONDS s"
  elif [ "$BOOT_RC" -eq 124 ]; then fail "boot $n: qemu still running after $BOOT_TIMEOUT s (killed)"
  else fail "boot $n: qemu exited with status $BOOT_RC"; fi
  check "boot $n: init ran the overlay's S42wgd, which started wgd (status 0)" \
    grep -qx "rcS: /etc/init.d/S42wgd start: status 0" "$T"
  # S42wgd prints "Starting wgd: " then "OK (KEY)"; provisioning's messages (standard error)
  # may come between the two.
  KEY=$(sed -n '\|^rcS: /etc/init.d/S42wgd start$|,\|^rcS: /etc/init.d/S42wgd start: |p' "$T" |
    sed -n 's/^.*OK (\([A-Za-z0-9+/]\{43\}=\))$/\1/p' | tail -n 1)
  if [ -n "$KEY" ]; then pass "boot $n: S42wgd printed the public key provisioning gave it ($KEY)"
  else fail "boot $n: S42wgd printed a public key: no 'OK (KEY)' line from it"; fi
  check_eq "boot $n: the printed key is wg0's (wg show wg0 public-key)" "$KEY" "$(vm_value wgd-public-key)"
  check_not "boot $n: no kernel panic, oops or BUG on the console" grep -E "Kernel panic|Oops|BUG:|Call Trace" "$T"
  # The VM's own checks, one line each.
  while IFS= read -r line; do
    case "$line" in
    "WGD-VM: PASS "*) pass "boot $n: ${line#WGD-VM: PASS }" ;;
    "WGD-VM: FAIL "*) fail "boot $n: ${line#WGD-VM: FAIL }" ;;
    esac
  done <"$T"
  line=$(sed -n "s/^WGD-VM: END boot $n (\(.*\))$/\1/p" "$T")
  if [ -n "$line" ]; then pass "boot $n: the VM's checks ran to the end ($line)"
  else fail "boot $n: the VM's checks did not run to the end (no 'WGD-VM: END boot $n')"; fi
  info "boot $n: $BOOT_SECONDS s from qemu's start to its exit; the checks began at $(vm_value uptime-at-checks) s of the kernel's uptime, ended at $(vm_value uptime-at-end) s"
}

boot 1
checks_of 1
KEY1=$KEY KERNEL1=$(vm_value kernel-public-key)
check "boot 1: provisioning generated the key (no factory key)" grep -qx "wgd-provision: wg0: a new key" "$T"
check "boot 1: the test introduced the kernel peer with wg set (first boot)" grep -q "^S90peer: first boot: wg set wg0 peer " "$T"
check "boot 1: S42wgd stopped wgd at the reboot" grep -qx "Stopping wgd: OK" "$T"
check "boot 1: ended in a reboot" grep -q "reboot: Restarting system" "$T"

boot 2
checks_of 2
if [ -n "$KEY1" ]; then check_eq "boot 2: the same public key as boot 1" "$KEY1" "$KEY"
else fail "boot 2: the same public key as boot 1: boot 1 printed none"; fi
if [ -n "$KERNEL1" ]; then check_eq "boot 2: the same peer as boot 1 (the kernel's key)" "$KERNEL1" "$(vm_value wgd-peers)"
else fail "boot 2: the same peer as boot 1: boot 1 had no kernel key"; fi
check_not "boot 2: provisioning made no key (it kept the one in the state file)" grep -q "^wgd-provision: wg0: " "$T"
check "boot 2: wgd was not told about its peer again" grep -qx "S90peer: the kernel side from /data/peer; wgd is not touched" "$T"
check "boot 2: ended in a power-off" grep -q "reboot: Power down" "$T"
finish
