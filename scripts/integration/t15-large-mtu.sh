#!/usr/bin/env bash
# t15: large MTUs, as wireguard-go's tests/netns.sh runs them: both tunnels at MTU 34,736 (its
# 34816 - 1500 + 1420) over a link that carries the ~34.8 kB datagrams unfragmented; pings of
# every size class and TCP both ways. Then only one side large: the other still receives the
# large side's full datagrams. Then back to 1420.
. "$(dirname "$0")/lib.sh"
need_basics ping iperf3
begin_test "large MTUs (34,736) both ways, and back"
start_pair 4
check "warm-up ping A->B at MTU 1420" tping "$NS_A" "$IN4_B" || abort "tunnel does not ping"

BIG=34736
set_mtus() {  # WG_MTU_A WG_MTU_B
  nsx "$NS_A" ip link set mtu 40000 dev "$VETH_A"
  nsx "$NS_B" ip link set mtu 40000 dev "$VETH_B"
  nsx "$NS_A" ip link set mtu "$1" dev "$WG_A"
  nsx "$NS_B" ip link set mtu "$2" dev "$WG_B"
  sleep 1.2   # wgd re-reads its MTU every second
}

# big_pings FROM_NS DEST LABEL: DF pings whose packets fill the large MTU, and sizes around the
# everyday buffer's edge.
big_pings() {
  local ns=$1 dst=$2 label=$3 size
  for size in 1472 1600 9000 $((BIG - 28)); do
    check "$label: ${size}-byte ICMP payload, DF set" nsx "$ns" ping -c 2 -i 0.2 -w 5 -M do -s "$size" "$dst"
  done
}

tcp() {  # LABEL SERVER_NS SERVER_ADDR CLIENT_NS
  local spid json="$WGT_TMP/iperf-$RANDOM.json" i bytes
  bg_in_ns "$2" "$WGT_TMP/iperf-server.log" timeout --foreground 30 iperf3 -s -1 -B "$3" -p 5201
  spid=$BG_PID
  for ((i = 0; i < 50; i++)); do nsx "$2" ss -ltn 2>/dev/null | grep -q "$3:5201 " && break; sleep 0.1; done
  tmo 25 ip netns exec "$4" iperf3 -c "$3" -p 5201 -t 2 -J >"$json" 2>&1
  bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' "$json" 2>/dev/null)
  if [[ "$bytes" =~ ^[0-9]+$ ]] && [ "$bytes" -gt 10000000 ]; then pass "$1: TCP moved $bytes bytes in 2 s"
  else fail "$1: TCP moved '${bytes:-nothing}' (the tunnel stalls on large segments)"; _wgt_show_output "$json"; fi
  wait_until 5 pid_gone "$spid" || kill_pid "$spid"
}

echo "-- both sides at MTU $BIG"
set_mtus "$BIG" "$BIG"
big_pings "$NS_A" "$IN4_B" "A->B"
big_pings "$NS_B" "$IN4_A" "B->A"
check "A->B IPv6, 30000-byte payload" nsx "$NS_A" ping -c 2 -i 0.2 -w 5 -M do -s 30000 "$IN6_B"
tcp "A->B at MTU $BIG" "$NS_B" "$IN4_B" "$NS_A"
tcp "B->A at MTU $BIG" "$NS_A" "$IN4_A" "$NS_B"

echo "-- only A large: B's everyday buffers meet A's large datagrams"
set_mtus "$BIG" 1420
check "A->B 9000-byte payload, A at $BIG, B at 1420" nsx "$NS_A" ping -c 3 -i 0.3 -w 6 -M do -s 9000 "$IN4_B"

echo "-- back to 1420"
set_mtus 1420 1420
check "A->B at 1420 again" tping "$NS_A" "$IN4_B"
check "B->A at 1420 again" tping "$NS_B" "$IN4_A"
check "daemon A still running" pid_alive "${IMPL_PID[$WG_A]}"
check "daemon B still running" pid_alive "${IMPL_PID[$WG_B]}"
finish
