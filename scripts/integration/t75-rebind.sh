#!/usr/bin/env bash
# t75: `ip link del` frees the interface's UDP port at once. The kernel's WireGuard closes its
# sockets while the link is deleted, and wireguard-go's tests/netns.sh relies on that: it deletes
# the interface, starts a new daemon of the same name at once and sets the same listen port
# ("Address already in use" while the old daemon still holds it). Side A's implementation only.
#  - same namespace, five rounds: a daemon started as netns.sh starts it (daemonizing) with
#    listen-port P, a peer and its link up; `ip link del`; with no pause, a new daemon of that
#    name, then `wg set listen-port P`: both succeed, the new daemon alone holds P, the old one
#    exits within 5 s;
#  - interfaces moved to another namespace the moment their daemon is ready (netns.sh's first
#    topology: created in one namespace, used from another): the daemons live on (a move is not
#    a deletion; strict: wireguard-go loses that race);
#  - an interface moved to another namespace and deleted there: at once a new daemon of that
#    name in the first namespace gets P there too (the old sockets stayed in the first
#    namespace), and the old daemon exits.
. "$(dirname "$0")/lib.sh"
need_basics ss
begin_test "ip link del frees the listen port at once"
make_ns "$NS_A"
make_ns "$NS_B"
IMPL=$(impl_of A)
P=$PORT_A
PEER=$(genkey peer)
L() { echo "wg${WGT_ID}$1"; }

# udp_holders NS PORT: the PIDs with a UDP socket bound to PORT in NS (sorted, one line).
udp_holders() {
  nsx "$1" ss -uapnH "sport = :$2" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | xargs
}

# start_daemon NS IFNAME [CMD...]: IMPL IFNAME, daemonizing, as netns.sh runs it, then CMD the
# moment it returns. Sets DAEMON (the PID holding the UAPI socket, registered for cleanup) or,
# when it did not start or CMD failed, WHY (and fails).
start_daemon() {
  local ns=$1 ifname=$2 rc p then=0
  shift 2
  DAEMON=; WHY=
  reg_sock "$ifname"
  tmo 10 ip netns exec "$ns" "$IMPL" "$ifname" >>"$WGT_TMP/daemon-$ifname.log" 2>&1 </dev/null 7>&- 8>&-; rc=$?
  [ "$rc" -eq 0 ] && [ $# -gt 0 ] && { "$@" || then=1; }
  DAEMON=$(pids_of_sock "$ns" "$ifname" | xargs)
  for p in $DAEMON; do reg_pid "$p"; done
  [ "$rc" -eq 0 ] || { WHY="exit $rc: $(tail -n 3 "$WGT_TMP/daemon-$ifname.log")"; return 1; }
  [ "$then" -eq 0 ] || { WHY="$* failed"; return 1; }
  [ -n "$DAEMON" ] || { WHY="no process holds $(sock_of "$ifname")"; return 1; }
}

# set_port NS IFNAME: what netns.sh's configure_peers does right after the daemon started.
set_port() {
  nsx "$1" wg set "$2" private-key "$WGT_TMP/a.key" listen-port "$P" peer "$PEER" allowed-ips 192.0.2.2/32
}

genkey a >/dev/null
n=$(L 1)
echo "-- same namespace, 5 rounds of ip link del + new daemon + listen-port $P"
start_daemon "$NS_A" "$n" || abort "start $n: $WHY"
old=$DAEMON
set_port "$NS_A" "$n" || abort "first wg set listen-port $P"
ip -n "$NS_A" link set "$n" up
check_eq "the first daemon holds port $P" "$old" "$(udp_holders "$NS_A" "$P")"
for round in 1 2 3 4 5; do
  ip -n "$NS_A" link del "$n" || { fail "round $round: ip link del $n"; break; }
  # No pause here: netns.sh starts the next daemon the moment ip returns.
  if ! start_daemon "$NS_A" "$n"; then
    fail "round $round: a new daemon of the same name starts at once ($WHY)"
    wait_until 5 pid_gone "$old"
    break
  fi
  new=$DAEMON
  pass "round $round: a new daemon of the same name starts at once"
  out=$(set_port "$NS_A" "$n" 2>&1); rc=$?
  if [ "$rc" -eq 0 ]; then pass "round $round: wg set listen-port $P at once"
  else fail "round $round: wg set listen-port $P at once (exit $rc: $out)"; fi
  ip -n "$NS_A" link set "$n" up
  check "round $round: the old daemon ($old) exits within 5 s" wait_until 5 pid_gone "$old"
  check_eq "round $round: only the new daemon ($new) holds port $P" "$new" "$(udp_holders "$NS_A" "$P")"
  old=$new
done
ip -n "$NS_A" link del "$n" 2>/dev/null
wait_until 5 pid_gone "$old"

echo "-- interface moved to another namespace the moment the daemon is ready"
# moved_at_once: five daemons, each moved to NS_B as soon as it returns (netns.sh's first
# topology); each must live on and take wg set in NS_A. A move is not a deletion.
moved_at_once() {
  local i m bad=0
  for i in 3 4 5 6 7; do
    m=$(L $i)
    if ! start_daemon "$NS_A" "$m" ip -n "$NS_A" link set "$m" netns "$NS_B"; then
      echo "$m: $WHY"; bad=1; continue
    fi
    if ! set_port "$NS_A" "$m" || ! pid_alive "$DAEMON"; then echo "$m: the daemon did not survive the move"; bad=1; fi
    ip -n "$NS_B" link del "$m" 2>/dev/null
    wait_until 5 pid_gone "$DAEMON"
  done
  return $bad
}
# wireguard-go's parent returns before its child has looked the interface up by name
# (SIOCGIFINDEX, tun/tun_linux.go): moved away by then, the child exits.
expect_strict A "5 daemons moved to another namespace the moment they are ready live on" moved_at_once

echo "-- interface moved to another namespace, deleted there"
m=$(L 2)
if start_daemon "$NS_A" "$m" && old=$DAEMON && wait_until 5 nsx "$NS_A" wg show "$m" \
    && ip -n "$NS_A" link set "$m" netns "$NS_B"; then
  check "after the move, the daemon takes wg set listen-port $P" set_port "$NS_A" "$m"
  ip -n "$NS_B" link set "$m" up
  check_eq "and holds port $P in the first namespace" "$old" "$(udp_holders "$NS_A" "$P")"
  ip -n "$NS_B" link del "$m" || fail "ip -n B link del $m"
  if start_daemon "$NS_A" "$m"; then
    new=$DAEMON
    pass "a new daemon of the same name starts at once"
    out=$(set_port "$NS_A" "$m" 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then pass "wg set listen-port $P at once, in the first namespace"
    else fail "wg set listen-port $P at once, in the first namespace (exit $rc: $out)"; fi
    check_eq "only the new daemon ($new) holds port $P" "$new" "$(udp_holders "$NS_A" "$P")"
    ip -n "$NS_A" link del "$m" 2>/dev/null
    wait_until 5 pid_gone "$new"
  else
    fail "a new daemon of the same name starts at once ($WHY)"
  fi
  check "the old daemon ($old) exits within 5 s" wait_until 5 pid_gone "$old"
else
  fail "start $m and move it to the other namespace ($WHY)"
fi
finish
