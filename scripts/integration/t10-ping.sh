#!/usr/bin/env bash
# t10: ping both ways, inner v4 and v6, first over an outer v4 transport, then (peers removed
# and re-added) over an outer v6 transport; `wg show dump` shows handshakes and traffic.
. "$(dirname "$0")/lib.sh"
need_basics ping
begin_test "ping through the tunnel, outer v4 then outer v6"
start_pair 4

# dump_checks SIDE NS IF PEERPUB EXPECTED_ENDPOINT
dump_checks() {
  local side=$1 ns=$2 ifname=$3 peer=$4 ep=$5 hs rx tx e
  hs=$(peer_field "$ns" "$ifname" "$peer" 5)
  rx=$(peer_field "$ns" "$ifname" "$peer" 6)
  tx=$(peer_field "$ns" "$ifname" "$peer" 7)
  e=$(peer_field "$ns" "$ifname" "$peer" 3)
  if [[ "$hs" =~ ^[0-9]+$ ]] && [ "$hs" -gt 0 ]; then pass "$side: dump latest-handshake nonzero ($hs)"
  else fail "$side: dump latest-handshake nonzero (got '$hs')"; fi
  if [[ "$rx" =~ ^[0-9]+$ ]] && [ "$rx" -gt 0 ] && [[ "$tx" =~ ^[0-9]+$ ]] && [ "$tx" -gt 0 ]; then
    pass "$side: dump transfer rx=$rx tx=$tx nonzero"
  else fail "$side: dump transfer nonzero (rx '$rx', tx '$tx')"; fi
  check_eq "$side: dump endpoint is $ep" "$ep" "$e"
}

pings() {
  local fam=$1
  check "A->B inner v4 over outer v$fam" tping "$NS_A" "$IN4_B"
  check "A->B inner v6 over outer v$fam" tping "$NS_A" "$IN6_B"
  check "B->A inner v4 over outer v$fam" tping "$NS_B" "$IN4_A"
  check "B->A inner v6 over outer v$fam" tping "$NS_B" "$IN6_A"
}

echo "-- round 1: outer IPv4"
pings 4
dump_checks A "$NS_A" "$WG_A" "$PUB_B" "$OUT4_B:$PORT_B"
dump_checks B "$NS_B" "$WG_B" "$PUB_A" "$OUT4_A:$PORT_A"
iface=$(nsx "$NS_A" wg show "$WG_A" dump | head -n 1 | cut -f 3)
check_eq "A: dump interface line has listen-port $PORT_A" "$PORT_A" "$iface"

echo "-- round 2: outer IPv6 (peers removed and re-added; only A is given an endpoint)"
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" remove
nsx "$NS_B" wg set "$WG_B" peer "$PUB_A" remove
check_eq "A: no peers after remove" "" "$(nsx "$NS_A" wg show "$WG_A" peers)"
check_eq "B: no peers after remove" "" "$(nsx "$NS_B" wg show "$WG_B" peers)"
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" endpoint "[$OUT6_B]:$PORT_B" allowed-ips "$IN4_B/32,$IN6_B/128"
nsx "$NS_B" wg set "$WG_B" peer "$PUB_A" allowed-ips "$IN4_A/32,$IN6_A/128"
check_eq "A: re-added peer starts with latest-handshake 0" "0" "$(peer_field "$NS_A" "$WG_A" "$PUB_B" 5)"
check_eq "B: re-added peer has no endpoint yet" "(none)" "$(peer_field "$NS_B" "$WG_B" "$PUB_A" 3)"
# A speaks first: B can only learn A's endpoint from A's packets, which come over IPv6.
check "A->B inner v4 over outer v6 (A initiates)" tping "$NS_A" "$IN4_B"
pings 6
dump_checks A "$NS_A" "$WG_A" "$PUB_B" "[$OUT6_B]:$PORT_B"
dump_checks B "$NS_B" "$WG_B" "$PUB_A" "[$OUT6_A]:$PORT_A"
echo "-- round 3: an IPv4-mapped IPv6 endpoint ([::ffff:a.b.c.d], which wg passes through)"
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" remove
nsx "$NS_B" wg set "$WG_B" peer "$PUB_A" remove
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" endpoint "[::ffff:$OUT4_B]:$PORT_B" allowed-ips "$IN4_B/32,$IN6_B/128"
nsx "$NS_B" wg set "$WG_B" peer "$PUB_A" allowed-ips "$IN4_A/32,$IN6_A/128"
expect_strict A "A->B with a v4-mapped endpoint (A initiates) [wireguard-go: sends to the mapped address on its v6 socket, which fails]" \
  tping "$NS_A" "$IN4_B"
# Either way, carry on from a plain IPv4 endpoint.
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" endpoint "$OUT4_B:$PORT_B"
# A side that failed to reach B is between handshake retransmissions, which come every
# REKEY_TIMEOUT (5 s) plus jitter, and a new endpoint does not start one at once: allow one.
wait_until 8 nsx "$NS_A" ping -c 1 -W 1 "$IN4_B" || true
check "A->B after setting a plain v4 endpoint" tping "$NS_A" "$IN4_B"
check "B->A back over the endpoint B learned" tping "$NS_B" "$IN4_A"

echo "-- full-size packets: tunnel MTU 1500 on both sides (the outer link carries 1600)"
# A peer's datagrams follow its MTU, not ours: 1500-byte inner packets make 1532-byte datagrams.
for side in "$NS_A $VETH_A $WG_A" "$NS_B $VETH_B $WG_B"; do
  set -- $side
  nsx "$1" ip link set mtu 1600 dev "$2"
  nsx "$1" ip link set mtu 1500 dev "$3"
done
sleep 1.2   # wgd re-reads its MTU every second
check "A->B 1500-byte packets, DF set" nsx "$NS_A" ping -c 3 -i 0.2 -w 5 -M do -s 1472 "$IN4_B"
check "B->A 1500-byte packets, DF set" nsx "$NS_B" ping -c 3 -i 0.2 -w 5 -M do -s 1472 "$IN4_A"
check "A->B 1500-byte IPv6 packets" nsx "$NS_A" ping -c 3 -i 0.2 -w 5 -M do -s 1452 "$IN6_B"
finish
