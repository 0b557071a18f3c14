#!/usr/bin/env bash
# t90: router mode. `wgd --state FILE` brings up the interface the file describes (keys, port,
# addresses, peer), a `wg set` is in the file before `wg` returns, a restart after kill -9 gives
# the same `wg showconf`, SIGHUP applies an edited file as a diff (the untouched peer keeps its
# session) and refuses an invalid one, invalid files are refused at start and left byte for
# byte, and `ip link del` ends wgd cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/router.sh"
need_basics ping sha256sum
router_binary
begin_test "router mode: the state file"
setup_two_sides
router_peer_b
make_state_dir
write_state "$STATE" --routes

echo "-- files wgd must refuse, left as they were"
refuse() {  # DESC EXPECTED-TEXT FILE-CONTENT
  local bad="$STATE_DIR/bad.json" before out
  printf '%s' "$3" >"$bad"
  before=$(sha256sum <"$bad")
  out=$(nsx "$NS_A" timeout 5 "$WGD" --state "$bad" -f 2>&1); local rc=$?
  if [ $rc -eq 1 ] && grep -qF -- "$2" <<<"$out"; then pass "refused: $1 ($out)"
  else fail "refused: $1: exit $rc, wanted '$2' in: $out"; fi
  check_eq "left byte for byte: $1" "$before" "$(sha256sum <"$bad")"
}
good=$(cat "$STATE")
refuse "truncated" "line" "${good:0:200}"
refuse "wrong type" "listen_port" "${good/\"listen_port\": $PORT_A/\"listen_port\": \"$PORT_A\"}"
refuse "bad base64 key" "private_key" "${good/\"private_key\": \"/\"private_key\": \"!!}"
refuse "duplicate peer" "listed twice" "$(python3 - "$STATE" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p = d["interfaces"][0]["peers"]; p.append(dict(p[0]))
print(json.dumps(d))
PY
)"
refuse "deep nesting" "deep" "$(python3 -c 'print("[" * 5000 + "]" * 5000)')"
refuse "invalid UTF-8" "UTF-8" "$(printf '{"version": 1, "interfaces": [], "x": "\xff"}')"
out=$(nsx "$NS_A" "$WGD" --state "$STATE_DIR/missing.json" -f 2>&1)
check_eq "a missing file: exit 1" "1" "$?"

echo "-- up from the file"
start_router || abort "router mode did not start"
check_eq "the peer from the file" "$PUB_B" "$(nsx "$NS_A" wg show "$WG_A" peers)"
check_eq "the port from the file" "$PORT_A" "$(nsx "$NS_A" wg show "$WG_A" listen-port)"
check "address $IN4_A/24 from the file" sh -c "ip -n $NS_A -4 addr show dev $WG_A | grep -q 'inet $IN4_A/24'"
check "address $IN6_A/64 from the file" sh -c "ip -n $NS_A -6 addr show dev $WG_A | grep -q 'inet6 $IN6_A/64'"
check "link up" sh -c "ip -n $NS_A link show dev $WG_A | grep -q ',UP'"
check "routes: the peer's allowed IPs routed through it" sh -c "ip -n $NS_A -4 route show dev $WG_A | grep -q '^$IN4_B ' && ip -n $NS_A -6 route show dev $WG_A | grep -q '^$IN6_B '"
check "A->B through the tunnel" tping "$NS_A" "$IN4_B"
check "B->A v6 through the tunnel" tping "$NS_B" "$IN6_A"

echo "-- wg set is in the file before wg returns"
PUB_C=$(wg genkey | wg pubkey)
nsx "$NS_A" wg set "$WG_A" peer "$PUB_C" allowed-ips 203.0.113.0/24 persistent-keepalive 25 endpoint 198.51.100.77:1
check "routes follow wg set: 203.0.113.0/24 routed" sh -c "ip -n $NS_A -4 route show dev $WG_A | grep -q '^203.0.113.0/24 '"
check "the new peer is in the file" sh -c "python3 '$WGT_PY' state-peers '$STATE' | grep -qxF '$PUB_C'"
check_eq "the file's mode is 0600" "600" "$(stat -c %a "$STATE")"
check "no temp file left beside it" sh -c "! ls -A '$STATE_DIR' | grep -q tmp"
check "the file is valid" "$WGD" --state "$STATE" --check
nsx "$NS_A" wg set "$WG_A" listen-port $((PORT_A + 100))
nsx "$NS_B" wg set "$WG_B" peer "$PUB_A" endpoint "$OUT4_A:$((PORT_A + 100))"
check "the new port is in the file" grep -q "\"listen_port\": $((PORT_A + 100))" "$STATE"
check "A->B on the new port" tping "$NS_A" "$IN4_B"
before=$(showconf_canon "$NS_A" "$WG_A")

echo "-- kill -9, start again: the same configuration"
killed=$(router_pids)
for pid in $killed; do kill -KILL "$pid" 2>/dev/null; done
for pid in $killed; do wait_until 3 pid_gone "$pid"; done
# Until the kernel has closed the dead supervisor's listening socket, a connect still succeeds
# and the new wgd would rightly refuse to take the socket over.
for ((i = 0; i < 30; i++)); do _wgt_sock_ready "$(sock_of "$WG_A")" || break; sleep 0.1; done
# Nothing cleans up after kill -9: the socket file stays (wg removes a dead one), the TUN goes
# with its last descriptor.
wait_until 3 sh -c "! ip -n $NS_A link show dev $WG_A" || true
start_router || abort "restart after kill -9"
check_eq "showconf after kill -9 and restart is identical" "$before" "$(showconf_canon "$NS_A" "$WG_A")"
check "A->B again after the restart" tping "$NS_A" "$IN4_B"

echo "-- SIGHUP: an edited file applies as a diff"
hs_before=$(peer_field "$NS_A" "$WG_A" "$PUB_B" 5)
PUB_D=$(wg genkey | wg pubkey)
edit_state 'd["interfaces"][0]["peers"].append({"public_key": sys.argv[2], "allowed_ips": ["203.0.113.200/32"]})' "$PUB_D"
kill -HUP "$ROUTER_PID"
check "the peer added to the file appears" wait_until 3 sh -c "ip netns exec $NS_A wg show $WG_A peers | grep -qxF '$PUB_D'"
check_eq "the untouched peer kept its session (same handshake time)" "$hs_before" "$(peer_field "$NS_A" "$WG_A" "$PUB_B" 5)"
check "A->B still" tping "$NS_A" "$IN4_B"
echo "-- SIGHUP: an interface added to the file comes up (after the drop), and goes when removed"
WG_X="${WG_A}x"
reg_sock "$WG_X"
edit_state 'd["interfaces"].append({"name": sys.argv[2], "private_key": sys.argv[4], "listen_port": int(sys.argv[3]),
                        "fwmark": 0, "mtu": 1400, "addresses": ["203.0.113.1/24"], "peers": []})' \
  "$WG_X" "$((PORT_A + 200))" "$(cat "$WGT_TMP/a.key")"
kill -HUP "$ROUTER_PID"
check "the added interface answers wg" wait_until 3 sh -c "ip netns exec $NS_A wg show $WG_X listen-port | grep -qx $((PORT_A + 200))"
check "with its MTU" sh -c "ip -n $NS_A link show dev $WG_X | grep -q 'mtu 1400'"
check "with its address" sh -c "ip -n $NS_A addr show dev $WG_X | grep -q 'inet 203.0.113.1/24'"
edit_state 'd["interfaces"] = [i for i in d["interfaces"] if i["name"] != sys.argv[2]]' "$WG_X"
kill -HUP "$ROUTER_PID"
check "removed from the file: the interface goes" wait_until 3 sh -c "! ip -n $NS_A link show dev $WG_X"
check "and its socket" wait_until 3 sh -c "! test -e $(sock_of "$WG_X")"
check_eq "the other interface was not touched (same handshake time)" "$hs_before" "$(peer_field "$NS_A" "$WG_A" "$PUB_B" 5)"
edited=$(showconf_canon "$NS_A" "$WG_A")
cp "$STATE" "$STATE_DIR/good.json"
printf '{"version": 1, "interfaces": [' >"$STATE"
chown "$RUN_USER" "$STATE"
kill -HUP "$ROUTER_PID"
check "an invalid file on SIGHUP is logged" wait_until 3 grep -q "reload refused" "${IMPL_LOG[router]}"
check_eq "and the running configuration stays" "$edited" "$(showconf_canon "$NS_A" "$WG_A")"
check "wgd is still running" pid_alive "$ROUTER_PID"
check_eq "the invalid file was not overwritten" '{"version": 1, "interfaces": [' "$(cat "$STATE")"
cp "$STATE_DIR/good.json" "$STATE"

echo "-- ip link del: a clean exit, the file untouched"
sum=$(sha256sum <"$STATE")
ip -n "$NS_A" link del "$WG_A"
check "wgd exited" wait_until 3 pid_gone "$ROUTER_PID"
wait "$ROUTER_PID" 2>/dev/null; rc=$?
check_eq "with status 0" "0" "$rc"
check_eq "the file is untouched" "$sum" "$(sha256sum <"$STATE")"
finish
