#!/usr/bin/env bash
# t67: 1,000,000 datagrams of junk at side A's port from B's namespace, while B pings A through
# the tunnel: random bytes, empty ones, each message type cut short, unknown types (0, 5, 255)
# at real sizes, nonzero reserved bytes, initiations and responses of the exact size with a bad
# mac1, cookie replies and data messages for receiver indices no one has, and replays of five
# real data packets captured from the tunnel (wgt.py gen-garbage: 50,000 distinct datagrams,
# flood.c sends them 20 times over, as fast as the socket takes them). Checks:
#   - every datagram that reached A's socket and was not the tunnel's own is dropped and counted
#     (wgd only: the drop counters, read with SIGUSR1, grow by what the namespace's UDP layer
#     delivered to sockets, less the tunnel's own datagrams; the kernel counts what it dropped
#     itself when the socket's buffer was full);
#   - no replay is delivered: A's TUN receives only the pings' echo requests (its rx_packets),
#     and A's endpoint for B does not move to the replayer's port;
#   - the tunnel keeps working during the junk (pings) and after it; both daemons stay up.
# Functions here run through check and expect_strict, which shellcheck does not follow, and
# awk programs are in single quotes on purpose:
# shellcheck disable=SC2317,SC2016
. "$(dirname "$0")/lib.sh"
need_basics tcpdump ping
begin_test "1,000,000 junk datagrams, replays and unknown indices"
build_flood
COUNT=${WGT_GARBAGE_COUNT:-1000000}
start_pair 4
check "ping B->A before the junk" tping "$NS_B" "$IN4_A" || abort "tunnel does not ping"

echo "-- five real data packets B->A, captured on A's veth"
# UDP length over 40: data messages with a payload (a keepalive is 32 bytes of UDP payload).
bg_in_ns "$NS_A" "$WGT_TMP/tcpdump.log" timeout --foreground 20 tcpdump -i "$VETH_A" -nn -U -c 5 \
  -w "$WGT_TMP/data.pcap" "udp and dst port $PORT_A and udp[8] = 4 and udp[4:2] > 40"
tcpdump_pid=$BG_PID
wait_until 5 grep -q "listening on" "$WGT_TMP/tcpdump.log" || abort "tcpdump did not start"
nsx "$NS_B" ping -c 5 -i 0.2 -s 300 -w 5 "$IN4_A" >/dev/null
wait_until 5 pid_gone "$tcpdump_pid" || kill_pid "$tcpdump_pid"
check "captured data packets to replay" python3 "$WGT_PY" pcap-udp-payloads "$WGT_TMP/data.pcap" "$WGT_TMP/replay.rec"
tmo 60 python3 "$WGT_PY" gen-garbage "$WGT_TMP/garbage.rec" "$PUB_A" 50000 "$WGT_TMP/replay.rec" >"$WGT_TMP/mix.txt" \
  || abort "gen-garbage"
info "the mix, 50,000 distinct datagrams sent $((COUNT / 50000)) times over: $(cat "$WGT_TMP/mix.txt")"

# udp_stat FIELD: a counter of the Udp line in A's namespace (InDatagrams, RcvbufErrors, ...).
udp_stat() {
  nsx "$NS_A" awk -v f="$1" '$1 == "Udp:" && !n { for (i = 2; i <= NF; i++) h[i] = $i; n = 1; next }
                             $1 == "Udp:" { for (i = 2; i <= NF; i++) if (h[i] == f) print $i }' /proc/net/snmp
}
tun_rx() { nsx "$NS_A" cat "/sys/class/net/$WG_A/statistics/rx_packets"; }
veth_rx() { nsx "$NS_A" cat "/sys/class/net/$VETH_A/statistics/rx_packets"; }
ep_a_for_b() { peer_field "$NS_A" "$WG_A" "$PUB_B" 3; }
WGD_A=1; impl_is_wireguard_go A && WGD_A=0

ep0=$(ep_a_for_b)
if [ "$WGD_A" -eq 1 ]; then c0=$(counters_of "$WG_A"); info "A's drop counters before: $c0"; fi
in0=$(udp_stat InDatagrams); buf0=$(udp_stat RcvbufErrors); err0=$(udp_stat InErrors)
tun0=$(tun_rx); veth0=$(veth_rx)

echo "-- $COUNT junk datagrams to $OUT4_A:$PORT_A, pings B->A meanwhile"
bg_in_ns "$NS_B" "$WGT_TMP/ping.log" timeout --foreground 40 ping -i 0.1 -c 400 -w 40 "$IN4_A"
ping_pid=$BG_PID
sleep 0.5
t0=$SECONDS
tmo 60 ip netns exec "$NS_B" "$FLOOD" "$OUT4_A" "$PORT_A" "$WGT_TMP/garbage.rec" "$COUNT" 0 45 1 >"$WGT_TMP/flood.log" 2>&1
line=$(grep '^sent ' "$WGT_TMP/flood.log")
echo "junk: ${line:-(no result line)}"
[ -n "$line" ] || _wgt_show_output "$WGT_TMP/flood.log"
sent=$(sed -n 's/^sent \([0-9]*\) of.*/\1/p' <<<"$line")
check "daemon A running right after the junk" pid_alive "${IMPL_PID[$WG_A]}"
# The pings go on for a moment after the junk, then stop: a ping sent after SIGINT's moment is
# not counted, so the counts below are taken once it has ended.
sleep 1
kill -INT "$ping_pid" 2>/dev/null
wait_until 5 pid_gone "$ping_pid" || kill_pid "$ping_pid"
wait "$ping_pid" 2>/dev/null
sleep 0.5  # the last echo reply's keepalive, if any
pings_tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$WGT_TMP/ping.log")
pings_rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$WGT_TMP/ping.log")
info "pings B->A during the junk: ${pings_tx:-0} sent, ${pings_rx:-0} answered, over $((SECONDS - t0)) s"

in1=$(udp_stat InDatagrams); buf1=$(udp_stat RcvbufErrors); err1=$(udp_stat InErrors)
tun1=$(tun_rx); veth1=$(veth_rx)
delivered=$((in1 - in0)) kdropped=$((buf1 - buf0)) kerr=$((err1 - err0))
info "A's namespace: $((veth1 - veth0)) packets arrived on its veth; UDP delivered $delivered datagrams to sockets," \
  "dropped $kdropped with the socket's buffer full (InErrors +$kerr)"
check "the junk was all sent (${sent:-0} of $COUNT)" test "${sent:-0}" -eq "$COUNT"
check "pings B->A went through during the junk (${pings_rx:-0} of ${pings_tx:-0})" test "${pings_rx:-0}" -gt 0

# What the daemon read that was not junk: the pings' data packets (and a keepalive or two).
legit=$((${pings_tx:-0} + 4))
if [ "$WGD_A" -eq 1 ]; then
  c1=$(counters_of "$WG_A")
  info "A's drop counters after: $c1"
  # The receive path's reasons: noRoute and noEndpoint are the transmit side's alone (A's own
  # kernel sends to the TUN, e.g. IPv6 solicitations no peer routes).
  rx_drops() { counters_total "$(tr ' ' '\n' <<<"$1" | grep -v -E '^(noRoute|noEndpoint)=' | tr '\n' ' ')"; }
  counted=$(($(rx_drops "$c1") - $(rx_drops "$c0")))
  info "junk that reached A's socket: $((delivered - ${pings_tx:-0})) (delivered less the pings' packets); dropped and counted by A: $counted"
  counted_all() { [ "$counted" -ge $((delivered - legit)) ] && [ "$counted" -le "$delivered" ]; }
  check "every junk datagram A read was dropped and counted ($counted of $((delivered - ${pings_tx:-0})), within $legit for the tunnel's own)" counted_all
  check "A's counters add up to the junk sent, with the kernel's drops ($counted + $kdropped of ${sent:-0}, within $legit)" \
    test $((counted + kdropped)) -ge $((${sent:-0} - legit))
else
  skip "junk dropped and counted: wireguard-go has no drop counters to read (SIGUSR1 would end it)"
fi
tun=$((tun1 - tun0))
info "A's TUN received $tun packets during the junk, for ${pings_tx:-0} echo requests; the junk held" \
  "$(($(grep -o 'replay=[0-9]*' "$WGT_TMP/mix.txt" | cut -d= -f2) * COUNT / 50000)) replays of real data packets"
check "no replay was delivered: A's TUN got at most the pings ($tun <= ${pings_tx:-0} + 2)" test "$tun" -le $((${pings_tx:-0} + 2))
check_eq "A's endpoint for B did not move to the replayer's port" "$ep0" "$(ep_a_for_b)"
check "daemon A still running" pid_alive "${IMPL_PID[$WG_A]}"
check "daemon B still running" pid_alive "${IMPL_PID[$WG_B]}"
check "ping B->A after the junk" tping "$NS_B" "$IN4_A"
check "ping A->B after the junk" tping "$NS_A" "$IN4_B"
finish
