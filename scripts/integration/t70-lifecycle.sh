#!/usr/bin/env bash
# t70: the daemon's life cycle, as wg-quick and a service manager rely on it:
#  - `ip link del IF` makes it exit (and remove its socket);
#  - SIGTERM and SIGINT make it exit, removing the socket file and the interface;
#  - deleting the socket file makes it exit;
#  - a second instance on the same name (same namespace, or another one: the socket directory is
#    shared) fails with a non-zero exit and leaves the first one working;
#  - a stale socket left by a killed instance does not stop a new one;
#  - invalid names ('/' in it, 16 characters) are refused and create nothing;
#  - without -f it daemonizes: returns 0 once the interface and the socket exist, without
#    holding the caller's stdout open;
#  - the socket is not accessible to group or others.
. "$(dirname "$0")/lib.sh"
need_basics
begin_test "daemon life cycle"
make_ns "$NS_A"
make_ns "$NS_B"
IMPL=$(impl_of A)
L() { echo "wg${WGT_ID}$1"; }   # wg<id>1, wg<id>2, ...: a fresh name per step

# stopped_checks WHAT PID IFNAME: the process, its socket and its interface are gone.
stopped_checks() {
  local what=$1 pid=$2 ifname=$3
  check "$what: daemon exits within 5 s" wait_until 5 pid_gone "$pid"
  check "$what: socket file removed" wait_until 2 test ! -e "$(sock_of "$ifname")"
  check "$what: interface gone" wait_until 2 bash -c "! ip -n '$NS_A' link show '$ifname' 2>/dev/null"
}

echo "-- ip link del"
n=$(L 1)
if start_impl A "$NS_A" "$n"; then
  mode=$(stat -c %a "$(sock_of "$n")")
  if (( (8#$mode & 8#077) == 0 )); then pass "socket mode $mode: no access for group or others"
  else fail "socket mode $mode gives group or others access"; fi
  check "ip link del $n" ip -n "$NS_A" link del "$n"
  stopped_checks "after ip link del" "${IMPL_PID[$n]}" "$n"
else fail "start $n"; fi

echo "-- signals"
for sig in TERM INT; do
  [ "$sig" == TERM ] && n=$(L 2) || n=$(L 3)
  if start_impl A "$NS_A" "$n"; then
    kill "-$sig" "${IMPL_PID[$n]}"
    stopped_checks "after SIG$sig" "${IMPL_PID[$n]}" "$n"
  else fail "start $n"; fi
done

echo "-- socket file deleted"
n=$(L 4)
if start_impl A "$NS_A" "$n"; then
  rm -f "$(sock_of "$n")"
  stopped_checks "after rm of the socket" "${IMPL_PID[$n]}" "$n"
else fail "start $n"; fi

echo "-- a second instance on the same name"
n=$(L 5)
if start_impl A "$NS_A" "$n"; then
  first=${IMPL_PID[$n]}
  tmo 10 ip netns exec "$NS_A" "$IMPL" -f "$n" >"$WGT_TMP/second.log" 2>&1; rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "same namespace: second instance refused (exit $rc)"
  else fail "same namespace: second instance refused (exit $rc)"; _wgt_show_output "$WGT_TMP/second.log"; fi
  tmo 10 ip netns exec "$NS_B" "$IMPL" -f "$n" >"$WGT_TMP/second-b.log" 2>&1; rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "other namespace: second instance refused (exit $rc)"
  else fail "other namespace: second instance refused (exit $rc)"; _wgt_show_output "$WGT_TMP/second-b.log"; fi
  check "first instance still running" pid_alive "$first"
  check_eq "the socket is still the first instance's" "$first" "$(pids_of_sock "$NS_A" "$n" | xargs)"
  check "first instance still answers wg set" nsx "$NS_A" wg set "$n" listen-port 51830
  check_eq "and wg show" 51830 "$(nsx "$NS_A" wg show "$n" listen-port)"
  check "first instance's interface still there" ip -n "$NS_A" link show "$n"
  check "no interface of that name left in the other namespace" bash -c "! ip -n '$NS_B' link show '$n' 2>/dev/null"
  kill_pid "$first"
else fail "start $n"; fi

echo "-- stale socket after SIGKILL"
n=$(L 6)
if start_impl A "$NS_A" "$n"; then
  kill -KILL "${IMPL_PID[$n]}"
  wait_until 5 pid_gone "${IMPL_PID[$n]}"
  wait "${IMPL_PID[$n]}" 2>/dev/null   # reap it quietly (no "Killed" job message)
  if [ -S "$(sock_of "$n")" ]; then info "SIGKILL left the socket file behind (expected: nothing can clean up)"; fi
  wait_until 5 bash -c "! ip -n '$NS_A' link show '$n' 2>/dev/null"
  if check "a new instance starts over a stale socket" start_impl A "$NS_A" "$n" reuse-stale-socket; then
    check "and answers" nsx "$NS_A" wg show "$n"
    kill_pid "${IMPL_PID[$n]}"
  fi
else fail "start $n"; fi

echo "-- invalid names"
bad="x${WGT_ID}/y"
reg_sock "$bad"
tmo 10 ip netns exec "$NS_A" "$IMPL" -f "$bad" >"$WGT_TMP/bad1.log" 2>&1; rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "name with '/' refused (exit $rc)"
else fail "name with '/' refused (exit $rc)"; fi
check "nothing created for it under $WGT_SOCK_DIR" test ! -e "$WGT_SOCK_DIR/x${WGT_ID}"
[ -d "$WGT_SOCK_DIR/x${WGT_ID}" ] && rm -rf "${WGT_SOCK_DIR:?}/x${WGT_ID}"
long="wg${WGT_ID}0123456789abcdef"; long=${long:0:16}
reg_sock "$long"
tmo 10 ip netns exec "$NS_A" "$IMPL" -f "$long" >"$WGT_TMP/bad2.log" 2>&1; rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "16-character name refused (exit $rc)"
else fail "16-character name refused (exit $rc)"; fi
check "no socket for it" test ! -e "$(sock_of "$long")"

echo "-- without -f: daemonizes"
n=$(L 7)
reg_sock "$n"
t0=$(date +%s%N)
tmo 10 ip netns exec "$NS_A" "$IMPL" "$n" >"$WGT_TMP/daemon.log" 2>&1 7>&- 8>&-; rc=$?
# no waiting here: wg-quick runs `wg setconf` the moment this returns
ifup=0; [ -n "$(ip -n "$NS_A" link show "$n" 2>/dev/null)" ] && ifup=1
sockup=0; [ -S "$(sock_of "$n")" ] && sockup=1
t1=$(date +%s%N)
check_eq "returns 0" 0 "$rc"
check_eq "the interface exists when it returns" 1 "$ifup"
check_eq "the socket exists when it returns" 1 "$sockup"
info "returned after $(( (t1 - t0) / 1000000 )) ms"
pids=$(pids_of_sock "$NS_A" "$n")
for p in $pids; do reg_pid "$p"; done
if [ -n "$pids" ]; then pass "a daemon process holds the socket (pid ${pids//$'\n'/ })"
else fail "a daemon process holds the socket"; fi
check "it answers wg set / wg show" bash -c "ip netns exec '$NS_A' wg set '$n' listen-port 51831 && [ \"\$(ip netns exec '$NS_A' wg show '$n' listen-port)\" == 51831 ]"
check "ip link del stops it" ip -n "$NS_A" link del "$n"
for p in $pids; do check "daemon $p exits within 5 s" wait_until 5 pid_gone "$p"; done
check "its socket is removed" wait_until 2 test ! -e "$(sock_of "$n")"

n=$(L 8)
reg_sock "$n"
tmo 10 bash -c "ip netns exec '$NS_A' '$IMPL' '$n' | cat >/dev/null" 2>>"$WGT_TMP/daemon.log" 7>&- 8>&-; rc=$?
check_eq "with stdout on a pipe it still returns at once (exit 0, not 124)" 0 "$rc"
pids=$(pids_of_sock "$NS_A" "$n")
for p in $pids; do reg_pid "$p"; done
ip -n "$NS_A" link del "$n" 2>/dev/null
for p in $pids; do wait_until 5 pid_gone "$p"; done
finish
