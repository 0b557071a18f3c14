#!/usr/bin/env bash
# t93: router mode, a peer given by host name. The state file names B as "peer-b.wgd.test:PORT";
# the name comes from a hosts file of namespace A's own (ip netns exec bind-mounts
# /etc/netns/NS/hosts over /etc/hosts). The supervisor resolves it (not the data plane), the
# tunnel works, `wg show` gives the address in use, the file keeps the name across a `wg set` of
# another field, and an endpoint set with `wg` replaces the name in the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/router.sh"
need_basics ping
router_binary
begin_test "router mode: an endpoint by host name"
setup_two_sides
router_peer_b
make_state_dir
mkdir -p "/etc/netns/$NS_A"
reg_dir "/etc/netns/$NS_A"
printf '%s peer-b.wgd.test\n' "$OUT4_B" >"/etc/netns/$NS_A/hosts"
write_state "$STATE" --endpoint "peer-b.wgd.test:$PORT_B"
check "the file names the peer by host" grep -q "\"endpoint\": \"peer-b.wgd.test:$PORT_B\"" "$STATE"
start_router || abort "router mode did not start"
check_eq "wg show: the address the name resolved to" "$OUT4_B:$PORT_B" \
  "$(wait_until 5 sh -c "ip netns exec $NS_A wg show $WG_A endpoints | grep -q $OUT4_B"; peer_field "$NS_A" "$WG_A" "$PUB_B" 3)"
check "A->B through the tunnel" tping "$NS_A" "$IN4_B"
check "the log tells of the resolution" grep -q "peer-b\|resolves to $OUT4_B" "${IMPL_LOG[router]}"
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" persistent-keepalive 25
check "a set of another field keeps the name in the file" grep -q "\"endpoint\": \"peer-b.wgd.test:$PORT_B\"" "$STATE"
showconf=$(nsx "$NS_A" wg showconf "$WG_A")
nsx "$NS_A" wg setconf "$WG_A" <(printf '%s\n' "$showconf")
check "wg setconf with the address in use keeps the name" grep -q "\"endpoint\": \"peer-b.wgd.test:$PORT_B\"" "$STATE"
nsx "$NS_A" wg set "$WG_A" peer "$PUB_B" endpoint "[$OUT6_B]:$PORT_B"
check "an endpoint set with wg replaces the name" grep -q "\"endpoint\": \"\[$OUT6_B\]:$PORT_B\"" "$STATE"
check "A->B over the new endpoint" tping "$NS_A" "$IN4_B"
finish
