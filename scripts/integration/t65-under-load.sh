#!/usr/bin/env bash
# t65: denial of service on the handshake path. Bursts of initiations that pass mac1 (random
# bodies, so each costs the responder a DH before it fails) from four senders at once, more than
# A's workers can consume, fill its handshake queue past 1/8: A is then "under load" and answers
# with cookie replies instead of spending DHs, and the tunnel keeps working through and after.
# (One sender is not enough: two wgd workers keep up with what one Python process can send.)
. "$(dirname "$0")/lib.sh"
need_basics ping
begin_test "handshake flood: cookie replies under load"
start_pair 4
check "ping A->B before the flood" tping "$NS_A" "$IN4_B" || abort "tunnel does not ping"

flood_pids=()
for i in 1 2 3 4; do
  bg_in_ns "$NS_B" "$WGT_TMP/flood-$i.log" python3 "$(dirname "$0")/wgt.py" flood "$OUT4_A" "$PORT_A" "$PUB_A" 20000 5
  flood_pids+=("$BG_PID")
done
for pid in "${flood_pids[@]}"; do wait_until 60 pid_gone "$pid" || kill_pid "$pid"; done
cat "$WGT_TMP"/flood-*.log
cookies=$(cat "$WGT_TMP"/flood-*.log | sed -n 's/.*cookie replies \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
info "cookie replies in all: $cookies of 80000 initiations"

info "A's drop counters are printed in its log at exit (LOG_LEVEL=verbose)"
expect_strict A "A answered the flood with cookie replies (under load)" test "${cookies:-0}" -gt 0
check "daemon A still running" pid_alive "${IMPL_PID[$WG_A]}"
check "ping A->B after the flood" tping "$NS_A" "$IN4_B"
check "ping B->A after the flood" tping "$NS_B" "$IN4_A"
finish
