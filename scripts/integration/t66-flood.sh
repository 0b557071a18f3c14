#!/usr/bin/env bash
# t66: a handshake flood. 20,000 bogus initiations per second for 10 s at side A's port, from
# B's namespace: each passes mac1 (precomputed, 20,000 distinct ones, wgt.py gen-initiations) and
# has a random body, so a responder that is not under load spends a DH on each before it fails.
# flood.c sends them paced with sendmmsg and counts what comes back. Checks:
#   - A stays up and enters the under-load mode: cookie replies come back to the flooder;
#   - the legitimate peer B keeps its tunnel: iperf3 TCP B->A during the flood moves bytes (its
#     throughput is printed beside the same transfer without the flood, never asserted on), and
#     pings work during and after;
#   - A's memory stays under the bound its configuration implies (wgd only): VmRSS before, peak
#     (VmHWM, reset through clear_refs) after. All packet memory is reserved at start (README,
#     "Memory") and becomes resident as packets use it: at most the 4,096 everyday buffers of
#     1,600 B (6.25 MiB; the handshake queue takes its entries from them), the job pool's chunks,
#     (4,096/16 + 4,096) x 16 jobs x 120 B = 8.4 MB, and not the large class, 256 x 65,600 B =
#     16 MiB, which no datagram here (148 or at most 1,472 bytes) touches. So: peak <= before +
#     6.25 MiB + 8.4 MB + 2 MiB for the heap (threads' arenas; the rate limiter's fixed table is
#     already there).
# The flood comes over a link of its own (203.0.113.0/24), so that A's end of it counts only the
# flood: the rate that arrived, and the cookie replies A sent back, as seen on the wire, beside
# the sender's own figures.
# Functions here run through check and expect_strict, which shellcheck does not follow:
# shellcheck disable=SC2317
. "$(dirname "$0")/lib.sh"
need_basics iperf3 ping
begin_test "handshake flood: 20,000 initiations/s for 10 s"
build_flood
RATE=20000 DURATION=10
COUNT=$((RATE * DURATION))
# The flood's target; FLOOD_PORT=1 (any closed port) shows the cookie check failing.
FLOOD_PORT=${WGT_FLOOD_PORT:-$PORT_A}
start_pair 4
check "ping B->A before the flood" tping "$NS_B" "$IN4_A" || abort "tunnel does not ping"
VETH_C="ve${WGT_ID}c"; VETH_D="ve${WGT_ID}d"; FLOOD_A=203.0.113.1; FLOOD_B=203.0.113.2
make_veth "$NS_A" "$VETH_C" "$NS_B" "$VETH_D"
ip -n "$NS_A" addr add "$FLOOD_A/24" dev "$VETH_C"
ip -n "$NS_B" addr add "$FLOOD_B/24" dev "$VETH_D"
wait_until 5 nsx "$NS_B" ping -c 1 -W 1 "$FLOOD_A" || abort "the flood's link $FLOOD_B -> $FLOOD_A does not work"
PID_A=${IMPL_PID[$WG_A]}
tmo 30 python3 "$WGT_PY" gen-initiations "$WGT_TMP/init.rec" "$PUB_A" 20000 >/dev/null || abort "gen-initiations"

# iperf_b_to_a LABEL SECONDS: iperf3 TCP from B to A through the tunnel; prints the figure and
# sets IPERF_BYTES (0 when nothing arrived).
iperf_b_to_a() {
  local label=$1 t=$2 json="$WGT_TMP/iperf-$1.json" spid fig
  IPERF_BYTES=0
  iperf_server "$NS_A" "$IN4_A" "$WGT_TMP/iperf-server-$label.log"
  spid=$BG_PID
  if tmo $((t + 20)) ip netns exec "$NS_B" iperf3 -c "$IN4_A" -B "$IN4_B" -p 5201 -t "$t" -J >"$json" 2>&1; then
    fig=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%.3f %d" % (d["end"]["sum_received"]["bits_per_second"] / 1e9, d["end"]["sum_received"]["bytes"]))
' "$json" 2>/dev/null)
    if [ -n "$fig" ]; then
      IPERF_BYTES=${fig#* }
      echo "iperf3 B->A $label: ${fig% *} Gbit/s (${IPERF_BYTES} bytes in $t s)"
    fi
  fi
  [ "$IPERF_BYTES" -gt 0 ] || _wgt_show_output "$json"
  wait_until 5 pid_gone "$spid" || kill_pid "$spid"
}

echo "-- without the flood"
iperf_b_to_a "without the flood" 3
bytes_calm=$IPERF_BYTES
check "iperf3 B->A without the flood moved bytes ($bytes_calm)" test "$bytes_calm" -gt 0

# stat NAME: a counter of A's end of the flood's link (rx_packets, tx_packets)
stat() { nsx "$NS_A" cat "/sys/class/net/$VETH_C/statistics/$1"; }
echo 5 >"/proc/$PID_A/clear_refs" 2>/dev/null || info "cannot reset A's peak memory (clear_refs); VmHWM is since start"
rss0=$(proc_kb "$PID_A" VmRSS)
rx0=$(stat rx_packets); tx0=$(stat tx_packets)

echo "-- the flood: $COUNT initiations at $RATE/s to $FLOOD_A:$FLOOD_PORT"
bg_in_ns "$NS_B" "$WGT_TMP/flood.log" timeout --foreground 30 "$FLOOD" "$FLOOD_A" "$FLOOD_PORT" "$WGT_TMP/init.rec" "$COUNT" "$RATE" $((DURATION + 2)) 2
flood_pid=$BG_PID
sleep 1.5  # under load by now: the queue fills within milliseconds at this rate
check "daemon A running 1.5 s into the flood" pid_alive "$PID_A"
check "ping B->A during the flood" tping "$NS_B" "$IN4_A"
iperf_b_to_a "during the flood" 4
bytes_flood=$IPERF_BYTES
check "iperf3 B->A during the flood moved bytes ($bytes_flood)" test "$bytes_flood" -gt 0
check "ping A->B during the flood" tping "$NS_A" "$IN4_B"
wait_until 20 pid_gone "$flood_pid" || { info "flood still running after 20 s: ended"; kill_pid "$flood_pid"; }
wait "$flood_pid" 2>/dev/null
rx1=$(stat rx_packets); tx1=$(stat tx_packets)
line=$(grep '^sent ' "$WGT_TMP/flood.log")
echo "flood: ${line:-(no result line; log follows)}"
[ -n "$line" ] || _wgt_show_output "$WGT_TMP/flood.log"
sent=$(sed -n 's/^sent \([0-9]*\) of.*/\1/p' <<<"$line")
secs=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' <<<"$line")
cookies=$(sed -n 's/.*cookie replies \([0-9]*\).*/\1/p' <<<"$line")
info "rate on the wire: $((rx1 - rx0)) packets arrived on A's end of the flood's link," \
  "$(python3 -c 'import sys; print(round(int(sys.argv[1]) / float(sys.argv[2])))' $((rx1 - rx0)) "${secs:-1}" 2>/dev/null)/s over the sender's ${secs:-?} s"
info "cookie replies: ${cookies:-0} received by the flooder for ${sent:-0} initiations; A sent $((tx1 - tx0)) packets back on that link"
check "the flooder sent all $COUNT initiations (${sent:-0})" test "${sent:-0}" -eq "$COUNT"
expect_strict A "A answered the flood with cookie replies: it was under load (${cookies:-0})" test "${cookies:-0}" -gt 0

rss1=$(proc_kb "$PID_A" VmRSS); hwm=$(proc_kb "$PID_A" VmHWM)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
bound=$((rss0 + 4096 * 1600 / 1024 + (4096 / 16 + 4096) * 16 * 120 / 1024 + 2048))
info "A's memory: VmRSS $(mib "$rss0") MiB before the flood, $(mib "$rss1") MiB after; peak (VmHWM) $(mib "$hwm") MiB"
info "throughput B->A: $bytes_calm bytes in 3 s without the flood, $bytes_flood bytes in 4 s during it"
if impl_is_wireguard_go A; then
  skip "A's peak memory within its configured bound: wireguard-go documents no bound (Go's heap grows with the load)"
  info "A's drop counters: wireguard-go has none to read"
else
  check "A's peak memory $(mib "$hwm") MiB within the bound $(mib "$bound") MiB (before + buffers + job pool + 2 MiB)" test "$hwm" -le "$bound"
  info "A's drop counters after the flood: $(counters_of "$WG_A")"
fi
check "daemon A still running after the flood" pid_alive "$PID_A"
check "daemon B still running after the flood" pid_alive "${IMPL_PID[$WG_B]}"
check "ping B->A after the flood" tping "$NS_B" "$IN4_A"
check "ping A->B after the flood" tping "$NS_A" "$IN4_B"
finish
