#!/usr/bin/env bash
# t50: wg-quick up/down with config files, run inside the namespaces (never on the host), with
# WG_QUICK_USERSPACE_IMPLEMENTATION set to each side's implementation. AllowedIPs and Address
# use only the inner ranges (never /0, so wg-quick adds plain routes and no policy rules) and no
# DNS= line (so resolvconf is never called). This kernel has no WireGuard module, which is what
# makes wg-quick fall back to the userspace implementation; where the module exists the test
# skips, because wg-quick would then use the kernel and not the implementation under test.
. "$(dirname "$0")/lib.sh"
need_basics wg-quick ping
begin_test "wg-quick up/down inside namespaces"
if [ -e /sys/module/wireguard ]; then
  skip_all "the wireguard kernel module is loaded: wg-quick would use it instead of the userspace implementation"
fi
setup_two_sides

# wg-quick names the interface after the file: wq<id>a / wq<id>b.
QA="wq${WGT_ID}a"; QB="wq${WGT_ID}b"
CONF_A="$WGT_TMP/$QA.conf"; CONF_B="$WGT_TMP/$QB.conf"
PUB_A=$(genkey a); PUB_B=$(genkey b)
umask 077
cat >"$CONF_A" <<CONF
[Interface]
PrivateKey = $(cat "$WGT_TMP/a.key")
ListenPort = $PORT_A
Address = $IN4_A/24, $IN6_A/64
MTU = 1400

[Peer]
PublicKey = $PUB_B
AllowedIPs = $IN4_B/32, $IN6_B/128
Endpoint = $OUT4_B:$PORT_B
CONF
cat >"$CONF_B" <<CONF
[Interface]
PrivateKey = $(cat "$WGT_TMP/b.key")
ListenPort = $PORT_B
Address = $IN4_B/24, $IN6_B/64

[Peer]
PublicKey = $PUB_A
AllowedIPs = $IN4_A/32, $IN6_A/128
Endpoint = $OUT4_A:$PORT_A
CONF
umask 022

declare -A QPIDS=()
# quick SIDE up|down|save CONF: wg-quick inside the side's namespace, log appended.
quick() {
  local side=$1 verb=$2 conf=$3 ns impl
  if [ "$side" == A ]; then ns=$NS_A; else ns=$NS_B; fi
  impl=$(impl_of "$side")
  echo "### wg-quick $verb" >>"$WGT_TMP/wg-quick-$side.log"
  tmo 30 ip netns exec "$ns" env WG_QUICK_USERSPACE_IMPLEMENTATION="$impl" \
    wg-quick "$verb" "$conf" >>"$WGT_TMP/wg-quick-$side.log" 2>&1 7>&- 8>&-
}

# up SIDE NS IF CONF: wg-quick up plus the checks that the daemon is the one asked for.
up() {
  local side=$1 ns=$2 ifname=$3 conf=$4 pids p exe want
  reg_sock "$ifname"
  if ! check "$side: wg-quick up ($(impl_label "$side"))" quick "$side" up "$conf"; then
    _wgt_show_output "$WGT_TMP/wg-quick-$side.log"; return 1
  fi
  pids=$(pids_of_sock "$ns" "$ifname")
  for p in $pids; do reg_pid "$p"; done
  QPIDS[$ifname]=$pids
  check "$side: interface $ifname exists" ip -n "$ns" link show "$ifname"
  check "$side: UAPI socket exists" test -S "$(sock_of "$ifname")"
  want=$(readlink -f "$(command -v "$(impl_of "$side")")")
  exe=""
  for p in $pids; do exe="$exe$(readlink -f "/proc/$p/exe") "; done
  if [ -n "$pids" ] && [[ " $exe" == *" $want "* ]]; then pass "$side: the socket is held by $want (pid ${pids//$'\n'/ })"
  else fail "$side: the socket is held by $want (found pids '$pids', exe '$exe')"; fi
  check "$side: wg-quick fell back to the userspace implementation" \
    grep -q "Falling back to slow userspace implementation" "$WGT_TMP/wg-quick-$side.log"
}

# down SIDE NS IF CONF
down() {
  local side=$1 ns=$2 ifname=$3 conf=$4 p gone=1
  if ! check "$side: wg-quick down" quick "$side" down "$conf"; then
    _wgt_show_output "$WGT_TMP/wg-quick-$side.log"
  fi
  check "$side: interface gone after down" bash -c "! ip -n '$ns' link show '$ifname' 2>/dev/null"
  check "$side: socket removed within 5 s" wait_until 5 test ! -e "$(sock_of "$ifname")"
  for p in ${QPIDS[$ifname]}; do wait_until 5 pid_gone "$p" || gone=0; done
  if [ "$gone" == 1 ]; then pass "$side: daemon exited within 5 s of down"
  else fail "$side: daemon exited within 5 s of down (pids ${QPIDS[$ifname]})"; fi
}

echo "-- up"
up A "$NS_A" "$QA" "$CONF_A" || abort "wg-quick up A"
up B "$NS_B" "$QB" "$CONF_B" || abort "wg-quick up B"
check "A: addresses from Address=" bash -c "ip -n '$NS_A' addr show dev '$QA' | grep -q 'inet $IN4_A/24' && ip -n '$NS_A' addr show dev '$QA' | grep -q 'inet6 $IN6_A/64'"
check_eq "A: MTU from MTU = 1400" 1400 "$(ip -n "$NS_A" -o link show "$QA" | grep -o 'mtu [0-9]*' | cut -d' ' -f2)"
check_eq "B: automatic MTU (veth 1500 - 80)" 1420 "$(ip -n "$NS_B" -o link show "$QB" | grep -o 'mtu [0-9]*' | cut -d' ' -f2)"
check "A: interface is up" bash -c "ip -n '$NS_A' -o link show '$QA' | grep -q '[<,]UP[,>]'"
check "A: route to $IN4_B goes through $QA" bash -c "ip -n '$NS_A' route get $IN4_B | grep -q 'dev $QA'"
check "A: route to $IN6_B goes through $QA" bash -c "ip -n '$NS_A' -6 route get $IN6_B | grep -q 'dev $QA'"
check "A: no policy rules were added" bash -c "[ \$(ip -n '$NS_A' -4 rule show | wc -l) -eq 3 ]"

echo "-- traffic"
check "A->B v4" tping "$NS_A" "$IN4_B"
check "A->B v6" tping "$NS_A" "$IN6_B"
check "B->A v4" tping "$NS_B" "$IN4_A"
check "B->A v6" tping "$NS_B" "$IN6_A"
check "A->B v4, 1400-byte packets with DF (the MTU is honoured)" nsx "$NS_A" ping -c 2 -i 0.2 -w 5 -M "do" -s 1372 "$IN4_B"
hs=$(nsx "$NS_A" wg show "$QA" latest-handshakes | awk '{ print $2 }')
if [[ "$hs" =~ ^[0-9]+$ ]] && [ "$hs" -gt 0 ]; then pass "A: handshake done ($hs)"; else fail "A: handshake done (got '$hs')"; fi

echo "-- save"
cp "$CONF_A" "$WGT_TMP/before-save.conf"
check "A: wg-quick save" quick A save "$CONF_A"
check "A: saved file keeps the peer and the address" bash -c "grep -q '$PUB_B' '$CONF_A' && grep -q '$IN4_A/24' '$CONF_A'"

echo "-- down"
down A "$NS_A" "$QA" "$CONF_A"
down B "$NS_B" "$QB" "$CONF_B"

echo "-- up and down again under the same names"
up A "$NS_A" "$QA" "$CONF_A" && up B "$NS_B" "$QB" "$CONF_B" && check "A->B v4 after a restart" tping "$NS_A" "$IN4_B"
down A "$NS_A" "$QA" "$CONF_A"
down B "$NS_B" "$QB" "$CONF_B"
finish
