#!/usr/bin/env bash
# t15: the overlay's init script, /etc/init.d/S42wgd, under BusyBox sh with BusyBox applets
# only (start-stop-daemon included), driving the real wgd in router mode. It runs in a mount
# and network namespace of its own: /run is a tmpfs there (the pidfile and the UAPI socket),
# /etc/default holds this test's settings, /usr/sbin gains wgd and wgd-provision.
#  - start on a first boot: provisioning creates the state file and its key (the public key
#    is on the console line), wgd runs as user wgd with its pidfile, the interface is up and
#    answers `wg`;
#  - start again: refused while running; the same key;
#  - reload: an edit of the state file reaches the running interface, same PID;
#  - a `wg set` lands in the state file; restart: a new PID, the peer back from the file;
#  - stop: wgd and its data plane gone, pidfile removed, the port free at once;
#  - a start whose provisioning fails (a corrupt state file) starts nothing and says so.
# shellcheck disable=SC2317 # functions run through check, which shellcheck does not follow
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmds busybox unshare nsenter wg ip python3
need_tun
root=$(cd "$(dirname "$0")/../.." && pwd)
begin_test "S42wgd start, stop, reload and restart"
wgd=${WGD_BIN:-$("$root/scripts/build-release" 2>/dev/null)} || abort "cannot build wgd"
id wgd >/dev/null 2>&1 || skip_all "no user wgd (scripts/bootstrap creates it as root)"

# The namespaces: held open by a sleeping process, entered with nsenter for each step.
unshare -m -n --propagation private sleep 600 &
holder=$!
reg_pid "$holder"
wait_until 5 test "$(readlink /proc/$holder/ns/net)" != "$(readlink /proc/self/ns/net)" || abort "unshare"
inside() { nsenter -t "$holder" -m -n "$@"; }

chmod 711 "$WGT_TMP"
applets="$WGT_TMP/bin" sbin="$WGT_TMP/sbin" defaults="$WGT_TMP/default"
mkdir -p "$applets" "$sbin" "$defaults" "$WGT_TMP/state"
for applet in $(busybox --list); do ln -s "$(command -v busybox)" "$applets/$applet"; done
# /usr/sbin as it was, plus the image's two programs.
for f in /usr/sbin/*; do ln -s "$f" "$sbin/$(basename "$f")"; done
cp "$wgd" "$sbin/wgd" && cp "$root/overlay/usr/sbin/wgd-provision" "$sbin/wgd-provision"
state="$WGT_TMP/state/wg/state.json"
python3 - "$root/overlay/usr/share/wgd/state.json" "$WGT_TMP/skeleton.json" "$WG_A" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["interfaces"][0].update(name=sys.argv[3], addresses=["192.0.2.1/24"])
json.dump(d, open(sys.argv[2], "w"))
PY
cat >"$defaults/wgd" <<EOF
WGD_STATE="$state"
WGD_SKELETON="$WGT_TMP/skeleton.json"
WGD_INTERFACE="$WG_A"
WGD_FACTORY_KEY="$WGT_TMP/factory.key"
WGD_RNG_WAIT="20"
EOF
inside sh -c "mount -t tmpfs -o mode=755 tmpfs /run && mount --bind '$defaults' /etc/default && mount --bind '$sbin' /usr/sbin && ip link set lo up" \
  || abort "the namespace's mounts"

# init ACTION: S42wgd ACTION as rcS runs it, inside; sets OUT and RC.
init() {
  OUT=$(inside env -i PATH="$applets" busybox sh "$root/overlay/etc/init.d/S42wgd" "$1" 2>&1)
  RC=$?
  echo "    \$ S42wgd $1: $OUT"
}
supervisor() { inside cat /run/wgd.pid 2>/dev/null; }
children() { local p; p=$(supervisor); [ -n "$p" ] && pgrep -P "$p"; }

echo "-- start, first boot"
init start
check_eq "start exits 0" 0 "$RC"
key=$(inside "$wgd" --state "$state" --public-key "$WG_A" 2>&1)
case "$OUT" in "Starting wgd: "*"OK ($key)") pass "the console line carries the new public key" ;;
  *) fail "the console line: $OUT (key $key)" ;; esac
pid=$(supervisor)
check "the pidfile names a running wgd" test -n "$pid" -a -d "/proc/$pid"
check_eq "the supervisor runs as user wgd" "$(id -u wgd)" "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
check "it has a data plane" test -n "$(children)"
check_eq "wg sees the provisioned key" "$key" "$(inside wg show "$WG_A" public-key 2>&1)"
check "the interface has the skeleton's address" sh -c "nsenter -t $holder -n ip -o addr show dev $WG_A | grep -q 192.0.2.1/24"

echo "-- start while running"
init start
check_eq "a second start is refused" 1 "$RC"
check_eq "the same wgd runs on" "$pid" "$(supervisor)"

echo "-- reload: SIGHUP, the edited file reaches the interface"
peer=$(wg genkey | wg pubkey)
python3 - "$state" "$peer" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
d["interfaces"][0]["peers"] = [{"public_key": sys.argv[2], "allowed_ips": ["192.0.2.2/32"]}]
open(sys.argv[1] + ".edit", "w").write(json.dumps(d))
os.chown(sys.argv[1] + ".edit", os.stat(sys.argv[1]).st_uid, os.stat(sys.argv[1]).st_gid)
os.rename(sys.argv[1] + ".edit", sys.argv[1])
PY
init reload
check_eq "reload exits 0" 0 "$RC"
wait_until 5 sh -c "nsenter -t $holder -m -n wg show $WG_A peers | grep -q '$peer'"
check "the new peer is on the interface" sh -c "nsenter -t $holder -m -n wg show $WG_A peers | grep -q '$peer'"
check_eq "same PID after reload" "$pid" "$(supervisor)"

echo "-- wg set persists; restart brings it back from the file"
inside wg set "$WG_A" peer "$peer" allowed-ips 192.0.2.2/32,192.0.2.3/32 persistent-keepalive 25
check "the change is in the state file" grep -q 192.0.2.3/32 "$state"
init restart
check_eq "restart exits 0" 0 "$RC"
new=$(supervisor)
check "a new wgd (PID $new, was $pid)" test -n "$new" -a "$new" != "$pid" -a -d "/proc/$new"
check "the old one is gone" pid_gone "$pid"
check_eq "the peer's allowed IPs, back from the file" "192.0.2.2/32 192.0.2.3/32" \
  "$(inside wg show "$WG_A" allowed-ips | awk '{ $1 = ""; print substr($0, 2) }' | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "the same key" "$key" "$(inside wg show "$WG_A" public-key)"

echo "-- stop"
kids=$(children)
init stop
check_eq "stop exits 0" 0 "$RC"
check "the supervisor is gone" pid_gone "$new"
gone=1; for k in $kids; do pid_alive "$k" && gone=0; done
check_eq "its data plane is gone" 1 "$gone"
check "the pidfile is removed" inside test ! -e /run/wgd.pid
check "the interface is gone" sh -c "! nsenter -t $holder -n ip link show $WG_A 2>/dev/null"
check "port 51820 is free at once" inside python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(('0.0.0.0', 51820))"
init stop
check_eq "stop when stopped fails" 1 "$RC"

echo "-- a start whose provisioning fails starts nothing"
cp "$state" "$WGT_TMP/state.good"
head -c 40 "$WGT_TMP/state.good" >"$state"
init start
check_eq "start exits 3 (provisioning: corrupt state file)" 3 "$RC"
case "$OUT" in *"FAIL (provisioning, status 3)"*) pass "the console says provisioning failed" ;; *) fail "console: $OUT" ;; esac
check "no wgd was started" inside test ! -e /run/wgd.pid
check_eq "the corrupt file is left as it was" "$(head -c 40 "$WGT_TMP/state.good" | sha256sum)" "$(sha256sum <"$state")"

kill_pid "$holder"
finish
