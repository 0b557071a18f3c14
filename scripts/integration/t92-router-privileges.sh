#!/usr/bin/env bash
# t92: router mode's privilege separation, read off /proc: the supervisor runs as the run user
# with CAP_NET_ADMIN alone and no_new_privs; the data plane as the same user with no capability,
# no_new_privs and a seccomp filter, holding no file but the TUN. A UAPI client of another uid is
# refused while root's `wg` works. A data plane killed with SIGKILL is back, passing traffic both
# ways, within 2 s, with no `wg` action; a supervisor killed with SIGKILL takes its data plane
# with it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/router.sh"
need_basics ping setpriv
router_binary
begin_test "router mode: privileges and the data plane's restart"
setup_two_sides
router_peer_b
make_state_dir
write_state "$STATE"
start_router || abort "router mode did not start"
uid=$(id -u "$RUN_USER")

field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
data_plane() { pgrep -P "$ROUTER_PID" -f -- "--data-plane $WG_A" | head -n 1; }

echo "-- the supervisor"
check_eq "supervisor: Uid is $RUN_USER's" "$uid" "$(field "$ROUTER_PID" Uid)"
check_eq "supervisor: CapEff is cap_net_admin only" "0000000000001000" "$(field "$ROUTER_PID" CapEff)"
check_eq "supervisor: CapPrm is cap_net_admin only" "0000000000001000" "$(field "$ROUTER_PID" CapPrm)"
check_eq "supervisor: CapInh is empty" "0000000000000000" "$(field "$ROUTER_PID" CapInh)"
check_eq "supervisor: NoNewPrivs" "1" "$(field "$ROUTER_PID" NoNewPrivs)"

dp_checks() {  # LABEL PID
  check_eq "$1: Uid is $RUN_USER's (not 0)" "$uid" "$(field "$2" Uid)"
  check_eq "$1: CapEff 0" "0000000000000000" "$(field "$2" CapEff)"
  check_eq "$1: CapPrm 0" "0000000000000000" "$(field "$2" CapPrm)"
  check_eq "$1: NoNewPrivs" "1" "$(field "$2" NoNewPrivs)"
  check_eq "$1: Seccomp 2 (filter)" "2" "$(field "$2" Seccomp)"
  local files
  # Descriptors 0-2 are what the supervisor was started with (here the test's log file).
  files=$(ls -l "/proc/$2/fd" 2>/dev/null | awk 'NR > 1 && $(NF - 2) + 0 > 2 { print $NF }' \
    | grep -vE '^(socket:|pipe:|anon_inode:|/dev/net/tun$)' || true)
  check_eq "$1: holds no file but the TUN (descriptors above 2)" "" "$files"
  # 4,096 everyday buffers of 1,600 bytes: 6,400 KiB locked, as the run user, without CAP_IPC_LOCK.
  local locked; locked=$(field "$2" VmLck)
  check "$1: its packet buffers are locked in memory (VmLck $locked kB)" test "${locked:-0}" -ge 6400
}
echo "-- the data plane"
dp=$(data_plane)
[ -n "$dp" ] || abort "no data-plane child of $ROUTER_PID"
dp_checks "data plane" "$dp"
check "A->B through the tunnel" tping "$NS_A" "$IN4_B"

echo "-- who may talk to the UAPI socket"
sock=$(sock_of "$WG_A")
check "root's wg show works" nsx "$NS_A" wg show "$WG_A"
check_not "a client of another uid (nobody) is refused" setpriv --reuid=nobody --regid=nogroup --clear-groups python3 "$WGT_PY" uapi-get "$sock"

echo "-- kill -9 the data plane: back within 2 s, both ways"
kill -KILL "$dp"
t0=$(date +%s%N)
check "A->B passes again" wait_until 2 nsx "$NS_A" ping -c 1 -W 1 "$IN4_B"
t1=$(date +%s%N)
info "A->B answered $(( (t1 - t0) / 1000000 )) ms after the kill"
check "B->A passes again (the restarted data plane greeted B)" wait_until 2 nsx "$NS_B" ping -c 1 -W 1 "$IN4_A"
dp2=$(data_plane)
check "a new data plane runs" test -n "$dp2" -a "$dp2" != "$dp"
[ -n "$dp2" ] && dp_checks "restarted data plane" "$dp2"
check "the log says why" grep -q "data plane ended (signal 9)" "${IMPL_LOG[router]}"

echo "-- kill -9 the supervisor: the data plane goes with it"
kill -KILL "$ROUTER_PID"
check "the data plane died with its supervisor" wait_until 2 pid_gone "$dp2"
finish
