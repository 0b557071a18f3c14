#!/usr/bin/env bash
# t10: the overlay's provisioning script, under BusyBox sh with a PATH of BusyBox applets only
# (what a Buildroot image has), against the real wgd binary:
#  - first boot: the state file from the skeleton (0600, its new directory 0700), a generated
#    key, the public key printed and written to the label file;
#  - idempotent: a second run prints the same key and leaves the file's bytes and inode alone;
#  - a factory key is taken when present, and never replaces a key the file has;
#  - a missing factory key: a key is generated; an invalid one: refused, file unchanged;
#  - a corrupt state file: refused (status 3), never regenerated, left byte for byte;
#  - no such interface (4), the RNG not ready in time (6), a read-only file system (7, as root
#    in a mount namespace of its own), wgd missing (8), bad usage (2);
#  - no temp file is left behind by any of them; the overlay's scripts pass shellcheck.
# shellcheck disable=SC2317 # functions run through check, which shellcheck does not follow
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
need_cmds busybox sha256sum stat
root=$(cd "$(dirname "$0")/../.." && pwd)
begin_test "wgd-provision under BusyBox sh"
provision="$root/overlay/usr/sbin/wgd-provision"
wgd=${WGD_BIN:-$("$root/scripts/build-release" 2>/dev/null)} || abort "cannot build wgd"
[ -x "$wgd" ] || abort "no wgd binary at $wgd"

# A PATH of BusyBox applets and nothing else.
applets="$WGT_TMP/bin"
mkdir -p "$applets"
for applet in $(busybox --list); do ln -s "$(command -v busybox)" "$applets/$applet"; done

# bbrun DIR ARGS...: wgd-provision under busybox sh with DIR's defaults file; sets OUT, ERR, RC.
bbrun() {
  local dir=$1; shift
  OUT=$(env -i PATH="$applets" WGD_DEFAULTS="$dir/defaults" WGD_BIN="${BIN:-$wgd}" TMPDIR="$dir" \
    busybox sh "$provision" "$@" 2>"$dir/err")
  RC=$?
  ERR=$(cat "$dir/err")
}

# fresh NAME: a device directory with a defaults file that points everything into it.
fresh() {
  local dir="$WGT_TMP/$1"
  mkdir -p "$dir/factory"
  cp "$root/overlay/usr/share/wgd/state.json" "$dir/skeleton.json"
  cat >"$dir/defaults" <<EOF
WGD_STATE="$dir/etc/wgd/state.json"
WGD_SKELETON="$dir/skeleton.json"
WGD_INTERFACE="wg0"
WGD_FACTORY_KEY="$dir/factory/wg0.key"
WGD_PUBLIC_KEY_FILE="$dir/wg0.pub"
WGD_RNG_WAIT="20"
WGD_USER="$(id -un)"
EOF
  echo "$dir"
}
fingerprint() { echo "$(sha256sum <"$1" | cut -d' ' -f1) $(stat -c '%i %a' "$1")"; }
no_temp_files() { ! find "$@" -name '.wgd-provision.*' -o -name 'wgd-provision.*' -o -name '.tmp*' | grep -q .; }

echo "-- first boot: skeleton, a generated key, the label"
d=$(fresh first)
bbrun "$d"
check_eq "first run exits 0" 0 "$RC" || echo "    stderr: $ERR"
state="$d/etc/wgd/state.json"
check "the state file is valid" "$wgd" --state "$state" --check
check_eq "the printed key is the state file's" "$("$wgd" --state "$state" --public-key wg0)" "$OUT"
check_eq "the label file holds it" "$OUT" "$(cat "$d/wg0.pub" 2>/dev/null)"
check_eq "state file mode 0600" 600 "$(stat -c %a "$state")"
check_eq "its new directory is 0700" 700 "$(stat -c %a "$d/etc/wgd")"
check_eq "label file mode 0644" 644 "$(stat -c %a "$d/wg0.pub" 2>/dev/null)"
case "$ERR" in *"no factory key at $d/factory/wg0.key; generating one"*) pass "a missing factory key is said, then a key generated" ;;
  *) fail "a missing factory key is said: $ERR" ;; esac
check "the generated key is a real key (44 base64 characters)" grep -Eq '^[A-Za-z0-9+/]{43}=$' <<<"$OUT"

echo "-- again: idempotent"
first_key=$OUT before=$(fingerprint "$state") label_before=$(fingerprint "$d/wg0.pub")
bbrun "$d"
check_eq "second run exits 0" 0 "$RC"
check_eq "same public key" "$first_key" "$OUT"
check_eq "state file untouched (bytes, inode, mode)" "$before" "$(fingerprint "$state")"
check_eq "label file untouched" "$label_before" "$(fingerprint "$d/wg0.pub")"
check "no temp file left" no_temp_files "$d"

echo "-- a factory key"
d=$(fresh factory)
"$wgd" genkey >"$d/factory/wg0.key"
bbrun "$d"
check_eq "exits 0" 0 "$RC" || echo "    stderr: $ERR"
check_eq "the factory key's public key" "$("$wgd" pubkey <"$d/factory/wg0.key")" "$OUT"
echo "-- a factory key never replaces a key the file has"
key_before=$OUT before=$(fingerprint "$d/etc/wgd/state.json")
"$wgd" genkey >"$d/factory/wg0.key"
bbrun "$d"
check_eq "exits 0" 0 "$RC"
check_eq "the key stays" "$key_before" "$OUT"
check_eq "state file untouched" "$before" "$(fingerprint "$d/etc/wgd/state.json")"

echo "-- an invalid factory key"
d=$(fresh badfactory)
echo "not-a-key" >"$d/factory/wg0.key"
mkdir -p "$d/etc/wgd" && cp "$d/skeleton.json" "$d/etc/wgd/state.json"
before=$(fingerprint "$d/etc/wgd/state.json")
bbrun "$d"
check_eq "status 5" 5 "$RC"
check_eq "state file unchanged" "$before" "$(fingerprint "$d/etc/wgd/state.json")"
check_eq "nothing printed on stdout" "" "$OUT"
check "no label written" test ! -e "$d/wg0.pub"

echo "-- a corrupt state file is refused, never regenerated"
d=$(fresh corrupt)
mkdir -p "$d/etc/wgd"
head -c 60 "$d/skeleton.json" >"$d/etc/wgd/state.json"   # a torn write
before=$(fingerprint "$d/etc/wgd/state.json")
bbrun "$d"
check_eq "status 3" 3 "$RC"
check_eq "the corrupt file is left byte for byte" "$before" "$(fingerprint "$d/etc/wgd/state.json")"
case "$ERR" in *"invalid state file"*"line"*) pass "the reason names the file's problem: $ERR" ;;
  *) fail "the reason names the file's problem: $ERR" ;; esac
check "no temp file left" no_temp_files "$d"

echo "-- no such interface"
d=$(fresh noif)
bbrun "$d" -i wg7
check_eq "status 4" 4 "$RC"
check "the state file was created, without any key" "$wgd" --state "$d/etc/wgd/state.json" --check
check_eq "wg0 still has no key" 4 "$("$wgd" --state "$d/etc/wgd/state.json" --public-key wg0 >/dev/null 2>&1; echo $?)"

echo "-- the kernel's RNG not ready: genkey blocks past the wait"
d=$(fresh rng)
# getrandom(2) cannot be made to block on a running machine: a wgd whose genkey never returns
# stands in for one on a box without entropy, and is wgd for everything else.
cat >"$d/slow-wgd" <<EOF
#!/bin/sh
[ "\$1" = genkey ] && exec sleep 30
exec "$wgd" "\$@"
EOF
chmod +x "$d/slow-wgd"
t0=$SECONDS
BIN="$d/slow-wgd" bbrun "$d" -w 1
check_eq "status 6" 6 "$RC"
check "it gave up after the wait, not after genkey" test $((SECONDS - t0)) -le 10
check_eq "the interface still has no key" 4 "$("$wgd" --state "$d/etc/wgd/state.json" --public-key wg0 >/dev/null 2>&1; echo $?)"
case "$ERR" in *"random number generator"*) pass "the reason says so: $ERR" ;; *) fail "the reason: $ERR" ;; esac

echo "-- usage and a missing wgd"
d=$(fresh usage)
bbrun "$d" -x
check_eq "an unknown option: status 2" 2 "$RC"
bbrun "$d" -w soon
check_eq "a wait that is not a number: status 2" 2 "$RC"
BIN="$d/none" bbrun "$d"
check_eq "no wgd: status 8" 8 "$RC"
check "nothing created without wgd" test ! -e "$d/etc/wgd/state.json"

echo "-- a read-only file system"
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
  skip "a read-only mount needs root and unshare (CI runs as root)"
else
  d=$(fresh readonly)
  mkdir -p "$d/etc/wgd"
  cp "$d/skeleton.json" "$d/etc/wgd/state.json"
  before=$(fingerprint "$d/etc/wgd/state.json")
  # A bind mount of the state directory made read-only, in a mount namespace of this test's own.
  # shellcheck disable=SC2016 # the inner sh expands its own arguments
  OUT=$(unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' sh \
    "$d/etc/wgd" env -i PATH="$applets" WGD_DEFAULTS="$d/defaults" WGD_BIN="$wgd" TMPDIR="$d" \
    busybox sh "$provision" -p "" 2>"$d/err")
  RC=$? ERR=$(cat "$d/err")
  check_eq "status 7" 7 "$RC"
  check_eq "state file unchanged" "$before" "$(fingerprint "$d/etc/wgd/state.json")"
  case "$ERR" in *"Read-only file system"*) pass "the reason says so: $ERR" ;; *) fail "the reason: $ERR" ;; esac
  check "no temp file left" no_temp_files "$d"
fi

echo "-- the overlay's shell scripts pass shellcheck"
if command -v shellcheck >/dev/null; then
  check "shellcheck" shellcheck -s sh "$provision" "$root/overlay/etc/init.d/S42wgd" "$root/overlay/etc/default/wgd"
else
  skip "shellcheck is not installed (scripts/bootstrap installs it)"
fi
finish
