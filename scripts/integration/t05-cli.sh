#!/usr/bin/env bash
# t05: wgd's own command line, beside wg: the key tools give what wg gives (so a firmware image
# can provision keys without wireguard-tools), and --cpus pins one named worker per CPU listed.
. "$(dirname "$0")/lib.sh"
need_basics
begin_test "wgd key tools against wg, and pinned workers"
if ! impl_is_wireguard_go A; then wgd=$(impl_of A)
elif ! impl_is_wireguard_go B; then wgd=$(impl_of B)
else skip_all "both sides are wireguard-go; these are wgd's own commands (set WGD_IMPL_A or WGD_IMPL_B)"; fi

# Key tools.
key=$("$wgd" genkey)
check "genkey: 44 base64 characters" sh -c "printf %s '$key' | grep -Eq '^[A-Za-z0-9+/]{43}=\$'"
check_eq "pubkey equals wg pubkey" "$(printf '%s\n' "$key" | wg pubkey)" "$(printf '%s\n' "$key" | "$wgd" pubkey)"
wgkey=$(wg genkey)
check_eq "wgd pubkey of a wg genkey key" "$(printf '%s\n' "$wgkey" | wg pubkey)" "$(printf '%s\n' "$wgkey" | "$wgd" pubkey)"
check "genkey output is clamped, as wg genkey's is" python3 -c "
import base64, sys
k = base64.b64decode(sys.argv[1])
sys.exit(0 if k[0] & 7 == 0 and k[31] & 128 == 0 and k[31] & 64 else 1)" "$key"
psk=$("$wgd" genpsk)
check "genpsk: a key wg accepts as preshared-key" sh -c "printf '%s\n' '$psk' | grep -Eq '^[A-Za-z0-9+/]{43}=\$'"
check_not "pubkey refuses garbage" sh -c "echo garbage | '$wgd' pubkey"
check_not "pubkey refuses a short key" sh -c "echo AAAA | '$wgd' pubkey"
check "--version" "$wgd" --version
check "--help" "$wgd" --help

# Workers: --cpus 0 gives one crypto worker, named and pinned to CPU 0.
make_ns "$NS_A"
ifname="${WG_A}c"
_WGT_SOCKS+=("$(sock_of "$ifname")")
bg_in_ns "$NS_A" "$WGT_TMP/cpus.log" env --default-signal "$wgd" -f --cpus 0 "$ifname"
pid=$BG_PID
wait_until 5 test -S "$(sock_of "$ifname")" || abort "wgd --cpus 0 did not start: $(cat "$WGT_TMP/cpus.log")"
threads=$(ps -L -o comm= -p "$pid" | sort | tr '\n' ' ')
info "threads: $threads"
check_eq "exactly one crypto worker with --cpus 0" 1 "$(ps -L -o comm= -p "$pid" | grep -c '^wgd-crypt-')"
tid=$(ps -L -o tid=,comm= -p "$pid" | awk '$2 == "wgd-crypt-0" { print $1 }')
check_eq "wgd-crypt-0 is pinned to CPU 0" "0" "$(taskset -pc "$tid" 2>/dev/null | sed 's/.*: //')"
kill_pid "$pid"
check_not "--cpus with garbage is refused" "$wgd" -f --cpus x "${WG_A}d"
check_not "--cpus with a descending range is refused" "$wgd" -f --cpus 3-1 "${WG_A}d"
check_not "no interface name is refused" "$wgd" -f
finish
