#!/usr/bin/env bash
# t30: the `wg` command set against side A's daemon: set (listen-port, fwmark, private-key,
# peers, allowed-ips, endpoint, persistent-keepalive, preshared-key), setconf, addconf,
# syncconf, showconf round trip, `wg show all dump` format, and a big configuration
# (200 peers, 100,200 allowed IPs) in one setconf.
# The interface is never brought up and has no address: nothing here sends a packet anywhere
# but inside the namespace (which has only lo).
. "$(dirname "$0")/lib.sh"
need_basics
begin_test "wg commands against side A"
make_ns "$NS_A"
start_impl A "$NS_A" "$WG_A" || abort "start side A ($(impl_label A))"

W() { nsx "$NS_A" wg "$@"; }
show() { W show "$WG_A" "$@" 2>&1; }
# field of `wg show IF <what>` for one peer
peer_show() { show "$1" | awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }

K1=$(genkey k1); K2=$(genkey k2)
P1=$(genkey p1); P2=$(genkey p2); P3=$(genkey p3)
(umask 077; wg genpsk >"$WGT_TMP/psk")
PSK=$(cat "$WGT_TMP/psk")

echo "-- wg set: interface"
check "set listen-port 51820" W set "$WG_A" listen-port 51820
check_eq "show listen-port" 51820 "$(show listen-port)"
check "set listen-port 0 (pick a free port)" W set "$WG_A" listen-port 0
lp=$(show listen-port)
if [[ "$lp" =~ ^[0-9]+$ ]] && [ "$lp" -gt 0 ]; then pass "listen-port 0 gives a real port ($lp)"
else fail "listen-port 0 gives a real port (got '$lp')"; fi
check "set fwmark 0x1234" W set "$WG_A" fwmark 0x1234
check_eq "show fwmark" 0x1234 "$(show fwmark)"
check "set fwmark 0 (off)" W set "$WG_A" fwmark 0
check_eq "show fwmark after 0" off "$(show fwmark)"
check "set private-key (file)" W set "$WG_A" private-key "$WGT_TMP/k1.key"
check_eq "show private-key" "$(cat "$WGT_TMP/k1.key")" "$(show private-key)"
check_eq "show public-key derived from it" "$K1" "$(show public-key)"

echo "-- wg set: peers"
check "add peer P1 with allowed-ips, endpoint, keepalive, psk" \
  W set "$WG_A" peer "$P1" allowed-ips 198.51.100.0/24,fd00:2::/64 endpoint 203.0.113.5:51820 \
  persistent-keepalive 25 preshared-key "$WGT_TMP/psk"
check_eq "show peers" "$P1" "$(show peers)"
check_eq "show allowed-ips" "198.51.100.0/24 fd00:2::/64" "$(peer_show allowed-ips "$P1" | tr ' ' '\n' | sort | xargs)"
check_eq "show endpoints" "203.0.113.5:51820" "$(peer_show endpoints "$P1")"
check_eq "show persistent-keepalive" 25 "$(peer_show persistent-keepalive "$P1")"
check_eq "show preshared-keys" "$PSK" "$(peer_show preshared-keys "$P1")"
check "replace allowed-ips" W set "$WG_A" peer "$P1" allowed-ips 192.0.2.128/25
check_eq "allowed-ips replaced" "192.0.2.128/25" "$(peer_show allowed-ips "$P1")"
check "clear allowed-ips (empty list)" W set "$WG_A" peer "$P1" allowed-ips ""
check_eq "allowed-ips cleared" "(none)" "$(peer_show allowed-ips "$P1")"
check "allowed-ips normalised (host bits)" W set "$WG_A" peer "$P1" allowed-ips 192.0.2.77/24
check_eq "192.0.2.77/24 shows as 192.0.2.0/24" "192.0.2.0/24" "$(peer_show allowed-ips "$P1")"
check "endpoint over v6" W set "$WG_A" peer "$P1" endpoint "[fd00:1::9]:4000"
check_eq "v6 endpoint shown bracketed" "[fd00:1::9]:4000" "$(peer_show endpoints "$P1")"
check "persistent-keepalive off" W set "$WG_A" peer "$P1" persistent-keepalive off
check_eq "keepalive shows off" off "$(peer_show persistent-keepalive "$P1")"
check "preshared-key cleared (/dev/null)" W set "$WG_A" peer "$P1" preshared-key /dev/null
check_eq "psk shows (none)" "(none)" "$(peer_show preshared-keys "$P1")"
check "add peer P2 owning 192.0.2.7/32" W set "$WG_A" peer "$P2" allowed-ips 192.0.2.7/32
check "give 192.0.2.7/32 to P1 (moves it)" W set "$WG_A" peer "$P1" allowed-ips 192.0.2.0/24,192.0.2.7/32
check_eq "P2 lost 192.0.2.7/32" "(none)" "$(peer_show allowed-ips "$P2")"
check_eq "P1 has both" "192.0.2.0/24 192.0.2.7/32" "$(peer_show allowed-ips "$P1" | tr ' ' '\n' | sort | xargs)"
check "remove peer P2" W set "$WG_A" peer "$P2" remove
check_eq "only P1 left" "$P1" "$(show peers)"
check "remove a peer that does not exist" W set "$WG_A" peer "$P3" remove
check_eq "still only P1" "$P1" "$(show peers)"
check "own public key as a peer is ignored" W set "$WG_A" peer "$K1" allowed-ips 192.0.2.99/32
check_eq "no peer with our own key" "$P1" "$(show peers)"

echo "-- setconf / addconf / syncconf"
cat >"$WGT_TMP/c1.conf" <<CONF
[Interface]
PrivateKey = $(cat "$WGT_TMP/k2.key")
ListenPort = 51821
FwMark = 0x42

[Peer]
PublicKey = $P1
PresharedKey = $PSK
AllowedIPs = 192.0.2.1/32, fd00:3::/64
Endpoint = 198.51.100.7:51820
PersistentKeepalive = 5

[Peer]
PublicKey = $P2
AllowedIPs = 192.0.2.2/32
CONF
check "setconf" W setconf "$WG_A" "$WGT_TMP/c1.conf"
check_eq "showconf equals the file set (canonical)" "$(canon_conf "$WGT_TMP/c1.conf")" "$(showconf_canon "$NS_A" "$WG_A")"
check_eq "public key after setconf" "$K2" "$(show public-key)"
cat >"$WGT_TMP/c2.conf" <<CONF
[Peer]
PublicKey = $P3
AllowedIPs = 192.0.2.3/32
CONF
check "addconf (one more peer)" W addconf "$WG_A" "$WGT_TMP/c2.conf"
check_eq "three peers after addconf" "$(printf '%s\n' "$P1" "$P2" "$P3" | sort)" "$(show peers | sort)"
check_eq "interface untouched by addconf" "51821 0x42" "$(show listen-port) $(show fwmark)"
check_eq "P1 untouched by addconf" "192.0.2.1/32 fd00:3::/64" "$(peer_show allowed-ips "$P1" | tr ' ' '\n' | sort | xargs)"
cat >"$WGT_TMP/c3.conf" <<CONF
[Interface]
PrivateKey = $(cat "$WGT_TMP/k2.key")
ListenPort = 51822

[Peer]
PublicKey = $P1
AllowedIPs = 192.0.2.1/32
Endpoint = 198.51.100.7:51820
CONF
check "syncconf (keep P1 only, change port)" W syncconf "$WG_A" "$WGT_TMP/c3.conf"
check_eq "peers after syncconf" "$P1" "$(show peers)"
check_eq "P1 allowed-ips after syncconf" "192.0.2.1/32" "$(peer_show allowed-ips "$P1")"
check_eq "listen-port after syncconf" 51822 "$(show listen-port)"

echo "-- showconf round trip"
check "addconf P2, P3 back" W addconf "$WG_A" "$WGT_TMP/c1.conf"
W showconf "$WG_A" >"$WGT_TMP/s1.conf"
check "setconf (showconf output)" W setconf "$WG_A" "$WGT_TMP/s1.conf"
W showconf "$WG_A" >"$WGT_TMP/s2.conf"
check_eq "showconf -> setconf -> showconf identical (canonical)" "$(canon_conf "$WGT_TMP/s1.conf")" "$(canon_conf "$WGT_TMP/s2.conf")"
if cmp -s "$WGT_TMP/s1.conf" "$WGT_TMP/s2.conf"; then info "raw showconf byte-identical too"
else info "raw showconf differs only in order (peers are listed in the daemon's own order)"; fi

echo "-- wg show all dump / wg show dump format"
W show all dump >"$WGT_TMP/all.dump" 2>"$WGT_TMP/all.err"
check "wg show all dump lists $WG_A" grep -q "^$WG_A	" "$WGT_TMP/all.dump"
check "dump format (ours): 5-field interface line, 9-field peer lines" python3 - "$WGT_TMP/all.dump" "$WG_A" <<'PY'
import re, sys
lines = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith(sys.argv[2] + "\t")]
key = re.compile(r"^[A-Za-z0-9+/]{43}=$")
num = re.compile(r"^[0-9]+$")
assert lines, "no lines"
i = lines[0]
assert len(i) == 5, f"interface line has {len(i)} fields: {i}"
assert key.match(i[1]) and key.match(i[2]), i
assert num.match(i[3]) and (i[4] == "off" or num.match(i[4]) or re.match(r"^0x[0-9a-f]+$", i[4])), i
assert len(lines) == 3, f"expected 1 + 2 peer lines, got {len(lines)}"
for p in lines[1:]:
    assert len(p) == 9, f"peer line has {len(p)} fields: {p}"
    assert key.match(p[1]), p
    assert p[2] == "(none)" or key.match(p[2]), p
    assert p[3] == "(none)" or re.match(r"^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+$", p[3]), p
    assert p[4] == "(none)" or all(re.match(r"^[0-9a-f.:]+/\d+$", a) for a in p[4].split(",")), p
    assert num.match(p[5]) and num.match(p[6]) and num.match(p[7]), p
    assert p[8] == "off" or num.match(p[8]), p
print("ok")
PY
W show "$WG_A" dump >"$WGT_TMP/one.dump"
check_eq "wg show IF dump == wg show all dump minus the name column" \
  "$(sort "$WGT_TMP/one.dump")" "$(grep "^$WG_A	" "$WGT_TMP/all.dump" | cut -f 2- | sort)"
check "wg show interfaces lists $WG_A" bash -c "ip netns exec '$NS_A' wg show interfaces | tr ' ' '\n' | grep -qx '$WG_A'"

echo "-- big configuration: 200 peers, 100,200 allowed IPs"
n=$(python3 "$WGT_PY" gen-big-conf "$WGT_TMP/big.conf" "$WGT_TMP/k1.key" 200 500)
info "generated $(wc -c <"$WGT_TMP/big.conf") bytes, $n allowed IPs"
t0=$(date +%s.%N)
check "setconf of the big configuration" tmo 120 ip netns exec "$NS_A" wg setconf "$WG_A" "$WGT_TMP/big.conf"
t1=$(date +%s.%N)
info "setconf took $(python3 -c "print('%.2f' % ($t1 - $t0))") s"
check_eq "200 peers" 200 "$(show peers | wc -l)"
check_eq "wg show allowed-ips: 200 lines" 200 "$(show allowed-ips | wc -l)"
check_eq "wg show allowed-ips: 100200 entries" 100200 "$(show allowed-ips | awk '{ n += NF - 1 } END { print n }')"
t0=$(date +%s.%N)
tmo 120 ip netns exec "$NS_A" wg showconf "$WG_A" >"$WGT_TMP/big-s1.conf"
t1=$(date +%s.%N)
info "showconf took $(python3 -c "print('%.2f' % ($t1 - $t0))") s"
check_eq "big showconf equals the file set (canonical)" \
  "$(canon_conf "$WGT_TMP/big.conf" | md5sum)" "$(canon_conf "$WGT_TMP/big-s1.conf" | md5sum)"
check "big showconf fed back via setconf" tmo 120 ip netns exec "$NS_A" wg setconf "$WG_A" "$WGT_TMP/big-s1.conf"
tmo 120 ip netns exec "$NS_A" wg showconf "$WG_A" >"$WGT_TMP/big-s2.conf"
check_eq "big showconf round trip identical (canonical)" \
  "$(canon_conf "$WGT_TMP/big-s1.conf" | md5sum)" "$(canon_conf "$WGT_TMP/big-s2.conf" | md5sum)"
first=$(show peers | head -n 1)
check "remove one big peer" W set "$WG_A" peer "$first" remove
check_eq "its 501 allowed IPs are gone" 99699 "$(show allowed-ips | awk '{ n += NF - 1 } END { print n }')"
check "setconf back to a small configuration" W setconf "$WG_A" "$WGT_TMP/c3.conf"
check_eq "one peer, one allowed IP left" "1 1" "$(show peers | wc -l) $(show allowed-ips | awk '{ n += NF - 1 } END { print n }')"
check "daemon A still running" pid_alive "${IMPL_PID[$WG_A]}"
finish
