#!/usr/bin/env bash
# Throughput and memory of one tunnel between two namespaces, for scripts/bench: iperf3 TCP for
# S seconds each way (one flow, then four), and each daemon's resident memory afterwards. Prints
# figures, never asserts. Which implementation runs each side: WGD_IMPL_A / WGD_IMPL_B, as in
# the integration tests (not a tNN test: run.sh does not run it).
. "$(dirname "$0")/lib.sh"
need_basics iperf3
seconds=${BENCH_SECONDS:-5}
label="$(basename "$(impl_label A)") <-> $(basename "$(impl_label B)")"
start_pair 4
tping "$NS_A" "$IN4_B" >/dev/null || abort "tunnel does not ping"

# tcp LABEL STREAMS [-R]: Gbit/s received.
tcp() {
  local json="$WGT_TMP/tcp-$RANDOM.json" spid
  bg_in_ns "$NS_B" "$WGT_TMP/iperf-server.log" timeout --foreground $((seconds + 20)) iperf3 -s -1 -B "$IN4_B" -p 5203
  spid=$BG_PID
  wait_until 5 sh -c "ip netns exec $NS_B ss -ltn | grep -q '$IN4_B:5203 '"
  tmo $((seconds + 15)) ip netns exec "$NS_A" iperf3 -c "$IN4_B" -B "$IN4_A" -p 5203 -t "$seconds" -P "$1" ${2:-} -J >"$json" 2>&1
  wait_until 5 pid_gone "$spid" || kill_pid "$spid"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["end"]; print("%.2f" % (d["sum_received"]["bits_per_second"]/1e9))' "$json" 2>/dev/null || echo "failed"
}

a_to_b=$(tcp 1) b_to_a=$(tcp 1 -R) a_to_b4=$(tcp 4) b_to_a4=$(tcp 4 -R)
rss() { ps -o rss= -p "${IMPL_PID[$1]}" | awk '{ printf "%.1f MB", $1 / 1024 }'; }
printf '%-28s TCP 1 flow: %s / %s Gbit/s (A->B / B->A); 4 flows: %s / %s Gbit/s; RSS A %s, B %s\n' \
  "$label" "$a_to_b" "$b_to_a" "$a_to_b4" "$b_to_a4" "$(rss "$WG_A")" "$(rss "$WG_B")"
WGT_FINISHED=1   # a benchmark has no pass/fail summary
exit 0           # the EXIT trap removes the namespaces and ends the daemons
