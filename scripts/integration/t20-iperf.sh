#!/usr/bin/env bash
# t20: iperf3 TCP for 3 s in each direction through the tunnel. The figures are printed
# ("iperf3 A->B: X Gbit/s") and never asserted on; only that the transfer worked. Then bursts
# of UDP datagrams of one flow over IPv4 and IPv6, each checked byte for byte: a receiver that
# coalesces them into UDP super-packets (USO) must hand the kernel datagrams it cuts back whole;
# sent with UDP_SEGMENT, they reach a sender that takes USO on its TUN as super-packets to cut.
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

# udp_errors NS: UDP checksum errors and datagrams to no socket, IPv4 and IPv6, in NS.
udp_errors() {
  nsx "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
    $1 == "Udp:" && $2 ~ /^[0-9]+$/ { s += $3 + $8 }
    $1 == "Udp6InCsumErrors" || $1 == "Udp6NoPorts" { s += $2 }
    END { print s + 0 }'
}

# udp_burst LABEL ADDR [gso]: 3,000 datagrams of 1,200 bytes A -> B at ADDR, port 5301.
udp_burst() {
  local label=$1 addr=$2 mode=${3:-} log="$WGT_TMP/burst-$RANDOM.log" rpid errors out
  errors=$(udp_errors "$NS_B")
  bg_in_ns "$NS_B" "$log" python3 "$WGT_PY" udp-burst-receive "$addr" 5301 3000 2
  rpid=$BG_PID
  if ! wait_until 5 grep -q ready "$log"; then
    fail "UDP burst $label: the receiver did not start"; _wgt_show_output "$log"; kill_pid "$rpid"; return
  fi
  tmo 30 ip netns exec "$NS_A" python3 "$WGT_PY" udp-burst-send "$addr" 5301 3000 1200 $mode 7>&- 8>&-
  wait_until 10 pid_gone "$rpid" || kill_pid "$rpid"
  out=$(grep '^received' "$log")
  info "UDP burst $label: $out"
  set -- $out
  # Some loss is UDP's right; a corrupt or duplicated datagram, or a checksum error, is ours.
  if [ "${4:-0}" -ge 2850 ] && [ "${6:-1}" -eq 0 ] && [ "${8:-1}" -eq 0 ]; then
    pass "UDP burst $label: ${4} of 3000 datagrams arrived whole, none corrupt or twice"
  else
    fail "UDP burst $label: ${out:-no result}"; _wgt_show_output "$log"
  fi
  check_eq "UDP burst $label: no checksum error or stray datagram at B" "$errors" "$(udp_errors "$NS_B")"
}

udp_burst "IPv4" "$IN4_B"
udp_burst "IPv6" "$IN6_B"
udp_burst "IPv4, sent with UDP_SEGMENT" "$IN4_B" gso
udp_burst "IPv6, sent with UDP_SEGMENT" "$IN6_B" gso
check "daemon A still running" pid_alive "${IMPL_PID[$WG_A]}"
check "daemon B still running" pid_alive "${IMPL_PID[$WG_B]}"
check "ping A->B after the transfers" tping "$NS_A" "$IN4_B"
finish
