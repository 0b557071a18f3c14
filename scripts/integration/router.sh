# shellcheck shell=bash
# Router-mode helpers for the integration tests (sourced after lib.sh): a state file written for
# side A, and `wgd --state` started and stopped in namespace A.
#
#   router_binary             sets WGD to the wgd under test (side A), or skips the test
#   write_state FILE [ARGS]   state file for WG_A: its key, PORT_A, MTU 1420, the inner
#                             addresses, and B as its peer (python3 "$WGT_PY" state-file --help)
#   start_router [ARGS...]    `wgd --state $STATE -f ARGS` in NS_A; sets ROUTER_PID; waits for
#                             the socket to answer
#   router_pids               the supervisor's PID and its data planes' (children)

router_binary() {
  impl_is_wireguard_go A && skip_all "router mode is wgd's own: side A must be wgd (WGD_IMPL_A)"
  WGD=$(impl_of A)
}

STATE_DIR="$WGT_TMP/state"
STATE="$STATE_DIR/state.json"
RUN_USER=${WGD_USER:-wgd}

# make_state_dir: the state file's directory, the run user's (router mode replaces the file
# there as that user); the test's temp directory becomes traversable (0711) to reach it.
make_state_dir() {
  id "$RUN_USER" >/dev/null 2>&1 || skip_all "no user $RUN_USER (scripts/bootstrap creates it as root)"
  chmod 711 "$WGT_TMP"
  mkdir -m 700 "$STATE_DIR"
  chown "$RUN_USER" "$STATE_DIR"
}

write_state() {
  local file=$1; shift
  python3 "$WGT_PY" state-file "$file" --name "$WG_A" --key "$WGT_TMP/a.key" --port "$PORT_A" \
    --address "$IN4_A/24" --address "$IN6_A/64" \
    --peer "$PUB_B" --endpoint "$OUT4_B:$PORT_B" --allowed "$IN4_B/32,$IN6_B/128" "$@"
}

start_router() {
  local log="$WGT_TMP/router.log" sock i
  sock=$(sock_of "$WG_A")
  reg_sock "$WG_A"
  ip netns exec "$NS_A" env --default-signal LOG_LEVEL=verbose "$WGD" --state "$STATE" -f "$@" >>"$log" 2>&1 </dev/null 7>&- 8>&- &
  ROUTER_PID=$!
  reg_pid "$ROUTER_PID"
  IMPL_LOG[router]=$log
  for ((i = 0; i < 50; i++)); do
    _wgt_sock_ready "$sock" && return 0
    pid_alive "$ROUTER_PID" || break
    sleep 0.1
  done
  _wgt_sock_ready "$sock" && return 0
  echo "start_router: no answer on $sock within 5 s; log:" >&2
  sed 's/^/    | /' "$log" >&2
  return 1
}

# The B side of the tunnel, and the keys of both: B runs as a wireguard-go-compatible daemon.
router_peer_b() {
  PUB_A=$(genkey a); PUB_B=$(genkey b)
  start_impl B "$NS_B" "$WG_B" || abort "start side B ($(impl_label B))"
  nsx "$NS_B" wg set "$WG_B" private-key "$WGT_TMP/b.key" listen-port "$PORT_B" \
    peer "$PUB_A" endpoint "$OUT4_A:$PORT_A" allowed-ips "$IN4_A/32,$IN6_A/128" || abort "configure B"
  ip -n "$NS_B" addr add "$IN4_B/24" dev "$WG_B" || abort "address B"
  ip -n "$NS_B" addr add "$IN6_B/64" dev "$WG_B" nodad || abort "address B v6"
  ip -n "$NS_B" link set "$WG_B" up || abort "link B up"
}

router_pids() {
  echo "$ROUTER_PID"
  pgrep -P "$ROUTER_PID" 2>/dev/null || true
}

# edit_state PYTHON: rewrites $STATE with PYTHON run on its parsed JSON `d` (extra arguments are
# sys.argv[2:]), replaced by rename as an editor would, then given back to the run user.
edit_state() {
  local code=$1; shift
  python3 - "$STATE" "$@" <<PY
import json, os, sys
d = json.load(open(sys.argv[1]))
$code
tmp = sys.argv[1] + ".edit"
with open(tmp, "w") as f: json.dump(d, f, indent=2)
os.chmod(tmp, 0o600); os.rename(tmp, sys.argv[1])
PY
  chown "$RUN_USER" "$STATE"
}
