#!/usr/bin/env bash
# t20: iperf3 TCP for 3 s in each direction through the tunnel. The figures are printed
# ("iperf3 A->B: X Gbit/s") and never asserted on; only that the transfer worked.
. "$(dirname "$0")/lib.sh"
need_basics iperf3 ping
begin_test "iperf3 TCP through the tunnel, 3 s each direction"
start_pair 4
check "warm-up ping A->B" tping "$NS_A" "$IN4_B" || abort "tunnel does not ping"

# run_iperf LABEL SERVER_NS SERVER_ADDR CLIENT_NS CLIENT_ADDR
run_iperf() {
  local label=$1 sns=$2 saddr=$3 cns=$4 caddr=$5 spid json="$WGT_TMP/iperf-$RANDOM.json" gbps
  # -1: the server serves one client and exits; it is killed by PID at cleanup anyway.
  iperf_server "$sns" "$saddr" "$WGT_TMP/iperf-server.log"
  spid=$BG_PID
  if tmo 25 ip netns exec "$cns" iperf3 -c "$saddr" -B "$caddr" -p 5201 -t 3 -J >"$json" 2>&1; then
    gbps=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%.3f %d" % (d["end"]["sum_received"]["bits_per_second"] / 1e9, d["end"]["sum_received"]["bytes"]))
' "$json" 2>/dev/null)
    if [ -n "$gbps" ] && [ "${gbps#* }" -gt 0 ]; then
      echo "iperf3 $label: ${gbps% *} Gbit/s"
      pass "iperf3 $label transferred ${gbps#* } bytes"
    else
      fail "iperf3 $label: no bytes received"; _wgt_show_output "$json"
    fi
  else
    fail "iperf3 $label: client failed"; _wgt_show_output "$json"
  fi
  wait_until 5 pid_gone "$spid" || kill_pid "$spid"
}

run_iperf "A->B" "$NS_B" "$IN4_B" "$NS_A" "$IN4_A"
run_iperf "B->A" "$NS_A" "$IN4_A" "$NS_B" "$IN4_B"
check "daemon A still running" pid_alive "${IMPL_PID[$WG_A]}"
check "daemon B still running" pid_alive "${IMPL_PID[$WG_B]}"
check "ping A->B after the transfers" tping "$NS_A" "$IN4_B"
finish
