#!/usr/bin/env bash
# t76: a random listen port (none given, or listen-port 0) that IPv4 got but IPv6 has taken is
# drawn again rather than failing (the kernel and wireguard-go retry too). The namespace's ephemeral range
# is cut to four ports and three of them are held on IPv6 only, so three draws in four collide.
. "$(dirname "$0")/lib.sh"
need_basics python3
begin_test "random listen ports: a port IPv6 holds is drawn again"
make_ns "$NS_A"
nsx "$NS_A" sysctl -qw net.ipv4.ip_local_port_range="40000 40003" || abort "cannot narrow the port range"

# Hold UDP 40000-40002 on IPv6 (v6-only) for the whole test.
holder="$WGT_TMP/hold.py"
cat >"$holder" <<'PY'
import socket, sys, time
held = []
for port in (40000, 40001, 40002):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::", port))
    held.append(s)
print("held", flush=True)
time.sleep(float(sys.argv[1]))
PY
bg_in_ns "$NS_A" "$WGT_TMP/hold.log" python3 "$holder" 60
hold_pid=$BG_PID
wait_until 5 grep -q held "$WGT_TMP/hold.log" || abort "could not hold the IPv6 ports"

for round in 1 2 3 4 5 6; do
  ifname="${WG_A}$round"
  if start_impl A "$NS_A" "$ifname"; then
    port=$(nsx "$NS_A" wg show "$ifname" listen-port)
    check_eq "round $round: started on the one port both families could bind" 40003 "$port"
    kill_pid "${IMPL_PID[$ifname]}"
  else
    fail "round $round: did not start while IPv6 held the port IPv4 drew"
  fi
done
kill_pid "$hold_pid"
finish
