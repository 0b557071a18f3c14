#!/usr/bin/env bash
# t80: a running wgd allocates nothing per packet. The LD_PRELOAD counter
# (scripts/malloc-counter.c) counts every malloc/calloc/realloc/memalign in the daemon and prints
# the count on SIGUSR2. After a warm-up, the count is read, at least 100,000 packets go each way
# (UDP, fixed size, so the packet count is known), and the count is read again: it must not
# have moved. The window holds no handshake (rekeying is 120 s away), and handshakes are the only
# path that allocates (OpenSSL's X25519 objects), so any allocation here is on the packet path.
. "$(dirname "$0")/lib.sh"
need_basics iperf3 ping cc
begin_test "zero heap allocations per packet in a running wgd"
impl_is_wireguard_go A && impl_is_wireguard_go B && skip_all "both sides are wireguard-go; allocation counting is a property of wgd (set WGD_IMPL_A or WGD_IMPL_B)"

root=$(cd "$(dirname "$0")/../.." && pwd)
counter="$WGT_TMP/malloc-counter.so"
cc -O2 -shared -fPIC -o "$counter" "$root/scripts/malloc-counter.c" -ldl || abort "cannot build the malloc counter"
for side in A B; do
  impl_is_wireguard_go $side && continue
  real=$(impl_of $side)
  printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$counter" "$real" >"$WGT_TMP/counted-$side"
  chmod +x "$WGT_TMP/counted-$side"
  export "WGD_IMPL_$side=$WGT_TMP/counted-$side"
done
start_pair 4
check "warm-up ping A->B" tping "$NS_A" "$IN4_B" || abort "tunnel does not ping"

# count SIDE: the daemon's current allocation count (SIGUSR2 makes the counter print it).
count() {
  local pid=${IMPL_PID[$1]} log="$WGT_TMP/$1.log" before after i
  before=$(grep -c "malloc-count:" "$log" 2>/dev/null || true)
  kill -USR2 "$pid"
  for ((i = 0; i < 50; i++)); do
    after=$(grep -c "malloc-count:" "$log" 2>/dev/null || true)
    [ "${after:-0}" -gt "${before:-0}" ] && break
    sleep 0.1
  done
  grep "malloc-count:" "$log" | tail -n 1 | awk '{ print $2 }'
}

# udp_blast SERVER_NS SERVER_ADDR CLIENT_NS CLIENT_ADDR SECONDS: prints packets sent.
udp_blast() {
  local json="$WGT_TMP/udp-$RANDOM.json" spid
  bg_in_ns "$1" "$WGT_TMP/iperf-server.log" timeout --foreground 30 iperf3 -s -1 -B "$2" -p 5202
  spid=$BG_PID
  wait_until 5 sh -c "ip netns exec $1 ss -lun | grep -q '$2:5202 '"
  tmo 25 ip netns exec "$3" iperf3 -u -c "$2" -B "$4" -p 5202 -b 500M -l 1000 -t "$5" -J >"$json" 2>&1
  wait_until 5 pid_gone "$spid" || kill_pid "$spid"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum"]["packets"])' "$json" 2>/dev/null || echo 0
}

# Warm-up, both ways at the measured rate: first-use costs (runtime metadata, queue overflow
# paths) are paid here, not counted below.
udp_blast "$NS_B" "$IN4_B" "$NS_A" "$IN4_A" 1 >/dev/null
udp_blast "$NS_A" "$IN4_A" "$NS_B" "$IN4_B" 1 >/dev/null
declare -A first
impl_is_wireguard_go A || first[A]=$(count "$WG_A")
impl_is_wireguard_go B || first[B]=$(count "$WG_B")
# Other daemons' sockets come and go in the shared socket directory, which every daemon watches:
# a file of this test's own name is made and removed there all through the measurement.
churn="$WGT_SOCK_DIR/wgt-$WGT_ID-churn"
( for ((i = 0; i < 300; i++)); do : >"$churn"; rm -f "$churn"; sleep 0.05; done ) 7>&- 8>&- &
churn_pid=$!
reg_pid "$churn_pid"
sent_ab=$(udp_blast "$NS_B" "$IN4_B" "$NS_A" "$IN4_A" 3)
sent_ba=$(udp_blast "$NS_A" "$IN4_A" "$NS_B" "$IN4_B" 3)
kill_pid "$churn_pid"
rm -f "$churn"
info "packets sent through the tunnel: A->B $sent_ab, B->A $sent_ba"
check "at least 100,000 packets each way" test "$sent_ab" -ge 100000 -a "$sent_ba" -ge 100000

for side in A B; do
  [ -n "${first[$side]:-}" ] || continue
  wg_if=$([ $side = A ] && echo "$WG_A" || echo "$WG_B")
  last=$(count "$wg_if")
  growth=$((last - ${first[$side]}))
  echo "heap allocations in wgd ($side) over $((sent_ab + sent_ba)) packets: $growth (count ${first[$side]} -> $last)"
  check_eq "wgd ($side) heap allocations while $((sent_ab + sent_ba)) packets passed" 0 "$growth"
done
check "ping A->B afterwards" tping "$NS_A" "$IN4_B"
finish
