# shellcheck shell=bash
# Integration-test library for wgd: sourced by scripts/integration/tNN-*.sh.
#
# What it gives a test:
#   - results:   pass / fail / skip / xfail, check, check_eq, expect_strict, finish
#                (the last line a test prints is exactly "N passed, M failed[, K skipped]")
#   - skipping:  need_root, need_cmds, need_netns, need_tun, skip_all (prints "SKIP: why", exit 77)
#   - plumbing:  make_ns, make_veth, nsx, setup_two_sides, start_impl, configure_pair,
#                all of it registered for cleanup by an EXIT/INT/TERM trap
#   - the implementation under test: WGD_IMPL_A / WGD_IMPL_B ("wireguard-go", the default,
#     or a path to a wgd binary); impl_of, impl_is_wireguard_go
#
# Rules this file keeps (the machine is shared):
#   - everything happens inside network namespaces this process creates; addresses come only
#     from 192.0.2.0/24 (inner v4), 198.51.100.0/24 (outer v4), 203.0.113.0/24 (t60's second
#     link; t30's configuration text), fd00::/64 (inner v6), fd00:1::/64 and fd00:2::/64
#     (outer v6), and other fd00::/8 prefixes as configuration text only;
#   - every name carries WGT_ID, the PID of the test in base 36 (at most 5 characters for
#     pid_max 4194304), so interface names are 2 + 5 + 1 = 8 characters at most (the limit is
#     15) and unique on the machine, which matters: /var/run/wireguard is shared by all
#     namespaces;
#   - every loop and every wait is bounded; processes are ended by the PIDs recorded when they
#     were started (checked against their start time, so a recycled PID is never hit).

# ---------------------------------------------------------------------------------------------
# Basics

WGT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WGT_PY="$WGT_DIR/wgt.py"
WGT_NAME=$(basename "$0" .sh)
WGT_SOCK_DIR=/var/run/wireguard

_wgt_b36() {
  local n=$1 s="" digits=0123456789abcdefghijklmnopqrstuvwxyz i
  for ((i = 0; i < 8 && n > 0; i++)); do s=${digits:n%36:1}$s; n=$((n / 36)); done
  echo "${s:-0}"
}
WGT_ID=$(_wgt_b36 $$)

# Fixed plan of names and addresses (see the header for the ranges).
NS_A="wgt-$WGT_ID-a"; NS_B="wgt-$WGT_ID-b"
VETH_A="ve${WGT_ID}a"; VETH_B="ve${WGT_ID}b"
WG_A="wg${WGT_ID}a";   WG_B="wg${WGT_ID}b"
OUT4_A=198.51.100.1; OUT4_B=198.51.100.2
OUT6_A=fd00:1::1;    OUT6_B=fd00:1::2
IN4_A=192.0.2.1;     IN4_B=192.0.2.2
IN6_A=fd00::1;       IN6_B=fd00::2
PORT_A=51820;        PORT_B=51821

WGT_PASS=0; WGT_FAIL=0; WGT_SKIP=0; WGT_XFAIL=0
WGT_FINISHED=0
WGT_T0=$SECONDS

# Cleanup registry.
_WGT_PIDS=()            # "pid:starttime"
_WGT_NSS=()             # namespace names
_WGT_SOCKS=()           # socket paths we may have caused to exist
_WGT_DIRS=()            # directories this test made outside $WGT_TMP (e.g. /etc/netns/NS)
declare -A IMPL_PID=()  # IFNAME -> PID of the daemon started by start_impl
declare -A IMPL_LOG=()  # IFNAME -> its log file

# fds 7 and 8 keep the test's own stdout and stderr: a signal that lands while a shell function
# runs with its output redirected (e.g. `nsx ... >file`) runs the traps inside that redirection,
# so cleanup and finish switch back to these. Launchers close them in what they start.
exec 7>&1 8>&2

WGT_TMP=$(mktemp -d "/tmp/wgt-$WGT_ID.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
chmod 700 "$WGT_TMP"

# ---------------------------------------------------------------------------------------------
# Results

_wgt_record() {  # KIND  -> appends to the runner's results file when there is one
  [ -n "${WGT_RESULTS:-}" ] && echo "$1" >>"$WGT_RESULTS"
  return 0
}
pass()  { WGT_PASS=$((WGT_PASS + 1)); echo "PASS: $*"; _wgt_record P; }
fail()  { WGT_FAIL=$((WGT_FAIL + 1)); echo "FAIL: $*"; _wgt_record F; }
skip()  { WGT_SKIP=$((WGT_SKIP + 1)); echo "SKIP: $*"; _wgt_record S; }
# An expected failure counts as passed (the expectation held) and is listed separately.
xfail() { WGT_XFAIL=$((WGT_XFAIL + 1)); WGT_PASS=$((WGT_PASS + 1)); echo "XFAIL(wireguard-go): $*"; _wgt_record X; }
info()  { echo "  info: $*"; }

# check DESC CMD [ARGS...]: PASS when the command exits 0; on FAIL its output is shown.
check() {
  local desc=$1; shift
  local out="$WGT_TMP/check.out"
  if "$@" >"$out" 2>&1; then pass "$desc"; return 0; fi
  fail "$desc"; _wgt_show_output "$out"; return 1
}

# check_not DESC CMD...: PASS when the command exits non-zero.
check_not() {
  local desc=$1; shift
  local out="$WGT_TMP/check.out"
  if "$@" >"$out" 2>&1; then fail "$desc"; _wgt_show_output "$out"; return 1; fi
  pass "$desc"; return 0
}

check_eq() {  # DESC EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then pass "$1"; return 0; fi
  fail "$1"; echo "    expected: $(printf %q "$2")"; echo "    actual:   $(printf %q "$3")"; return 1
}

_wgt_show_output() {
  [ -s "$1" ] || return 0
  sed -n '1,25s/^/    | /p' "$1"
  local n; n=$(wc -l <"$1")
  [ "$n" -le 25 ] || echo "    | ... ($n lines)"
}

# expect_strict SIDE DESC CMD...: a check of the contract wgd must meet and wireguard-go is
# known not to (e.g. all-or-nothing UAPI sets). PASS when CMD succeeds; when it fails, XFAIL if
# SIDE's implementation is wireguard-go, FAIL otherwise (so wgd gets no slack).
expect_strict() {
  local side=$1 desc=$2; shift 2
  local out="$WGT_TMP/check.out"
  if "$@" >"$out" 2>&1; then
    if impl_is_wireguard_go "$side"; then pass "$desc (XPASS: wireguard-go met the strict contract)"
    else pass "$desc"; fi
    return 0
  fi
  if impl_is_wireguard_go "$side"; then xfail "$desc"; _wgt_show_output "$out"; return 0; fi
  fail "$desc"; _wgt_show_output "$out"; return 1
}

# Prints the summary (its last line is exactly "N passed, M failed[, K skipped]") and exits:
# 0 when nothing failed, 77 when everything was skipped, 1 otherwise.
finish() {
  exec 1>&7 2>&8
  WGT_FINISHED=1
  _wgt_summary
  if [ "$WGT_FAIL" -gt 0 ]; then exit 1; fi
  if [ "$WGT_PASS" -eq 0 ] && [ "$WGT_SKIP" -gt 0 ]; then exit 77; fi
  exit 0
}

_wgt_summary() {
  local s="$WGT_PASS passed, $WGT_FAIL failed"
  [ "$WGT_SKIP" -gt 0 ] && s="$s, $WGT_SKIP skipped"
  if [ "$WGT_FAIL" -gt 0 ]; then _wgt_dump_logs; fi
  echo "-- $WGT_NAME: $((SECONDS - WGT_T0)) s; xfail: $WGT_XFAIL (counted as passed)"
  echo "$s"
}

_wgt_dump_logs() {
  local f
  for f in "$WGT_TMP"/*.log; do
    [ -s "$f" ] || continue
    echo "    --- tail of $(basename "$f")"
    tail -n 15 "$f" | sed 's/^/    | /'
  done
}

# skip_all REASON: the whole test cannot run here.
skip_all() {
  exec 1>&7 2>&8
  echo "SKIP: $WGT_NAME: $*"
  WGT_SKIP=$((WGT_SKIP + 1)); _wgt_record S
  WGT_FINISHED=1
  _wgt_summary
  exit 77
}

# abort REASON: setup failed; the remaining checks would mean nothing.
abort() {
  fail "$* (aborting $WGT_NAME)"
  finish
}

# ---------------------------------------------------------------------------------------------
# Preconditions

need_root() {
  [ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces, TUN devices, /var/run/wireguard); run with sudo"
}

need_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || skip_all "missing commands: ${missing[*]} (Debian: apt-get install wireguard-tools wireguard-go iperf3 ncat tcpdump iproute2 iputils-ping python3)"
}

need_tun() {
  [ -c /dev/net/tun ] || skip_all "/dev/net/tun is missing (no TUN support in this kernel/container)"
}

# Creates a throw-away namespace to prove namespaces work here; skips with the reason if not.
need_netns() {
  local probe="wgt-$WGT_ID-probe" err
  if ! err=$(ip netns add "$probe" 2>&1); then
    skip_all "cannot create network namespaces (ip netns add: $err)"
  fi
  ip netns del "$probe" 2>/dev/null
  return 0
}

# The usual preamble: root, tools, TUN, namespaces, and the implementations asked for.
need_basics() {
  need_root
  need_cmds ip wg timeout python3 "$@"
  need_tun
  need_netns
  _wgt_check_impl A
  _wgt_check_impl B
}

# ---------------------------------------------------------------------------------------------
# The implementation under test

# impl_of SIDE: the command that runs side A or B.
impl_of() {
  local v
  case "$1" in
    A) v=${WGD_IMPL_A:-wireguard-go} ;;
    B) v=${WGD_IMPL_B:-wireguard-go} ;;
    *) echo "impl_of: side must be A or B" >&2; return 1 ;;
  esac
  echo "$v"
}

# True when SIDE runs wireguard-go (by name or by a path whose last component is wireguard-go).
impl_is_wireguard_go() {
  local v; v=$(impl_of "$1")
  [ "$(basename "$v")" == "wireguard-go" ]
}

impl_label() { if impl_is_wireguard_go "$1"; then echo wireguard-go; else impl_of "$1"; fi; }

_wgt_check_impl() {
  local v; v=$(impl_of "$1")
  if [ "$v" == "wireguard-go" ]; then
    command -v wireguard-go >/dev/null || skip_all "wireguard-go not installed (apt-get install wireguard-go)"
  elif [ ! -x "$v" ]; then
    # Asked for explicitly and missing: that is an error, not a skip.
    fail "WGD_IMPL_$1=$v is not an executable file"
    finish
  fi
}

# ---------------------------------------------------------------------------------------------
# Processes

_wgt_starttime() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# reg_pid PID: end this process at cleanup (only if it is still the same process).
reg_pid() { _WGT_PIDS+=("$1:$(_wgt_starttime "$1")"); }

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != "Z" ] && [ "$st" != "X" ]
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s, at most SECONDS*10 times.
wait_until() {
  local t=$1 i; shift
  for ((i = 0; i < t * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  "$@" >/dev/null 2>&1
}

pid_gone() { ! pid_alive "$1"; }

# kill_pid PID [SIG]: SIG (default TERM) to a registered PID, then KILL after 3 s if needed.
kill_pid() {
  local pid=$1 sig=${2:-TERM} e st
  for e in "${_WGT_PIDS[@]}"; do
    [ "${e%%:*}" == "$pid" ] || continue
    st=${e#*:}
    pid_alive "$pid" || return 0
    [ "$(_wgt_starttime "$pid")" == "$st" ] || return 0   # recycled PID: not ours any more
    kill "-$sig" "$pid" 2>/dev/null
    wait_until 3 pid_gone "$pid" && { wait "$pid" 2>/dev/null; return 0; }
    kill -KILL "$pid" 2>/dev/null
    wait_until 2 pid_gone "$pid"
    wait "$pid" 2>/dev/null
    return 0
  done
  return 0
}

# tmo SECONDS CMD...: `timeout` that stays in the test's process group (--foreground), so a
# TERM or INT sent to the group (run.sh's timeout, Ctrl-C) reaches CMD at once and the test's
# trap runs without waiting for CMD's own time limit. Use it for every bounded command.
tmo() { timeout --foreground "$@"; }

# nsx NS CMD...: run CMD inside namespace NS.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@" 7>&- 8>&-; }

# bg_in_ns NS LOG CMD...: start CMD in the background inside NS; sets BG_PID and registers it.
bg_in_ns() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null 7>&- 8>&- &
  BG_PID=$!
  reg_pid "$BG_PID"
}

# ---------------------------------------------------------------------------------------------
# Namespaces and links

make_ns() {  # NAME
  local err
  err=$(ip netns add "$1" 2>&1) || abort "ip netns add $1: $err"
  _WGT_NSS+=("$1")
  ip -n "$1" link set lo up
}

# make_veth NS1 IF1 NS2 IF2: a veth pair created inside NS1 with its peer moved to NS2, so
# neither end ever appears in the host's namespace.
make_veth() {
  local err
  err=$(ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" 2>&1) \
    || abort "veth $2/$4: $err"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

# setup_two_sides: namespaces A and B joined by a veth pair with outer v4 and v6 addresses.
setup_two_sides() {
  make_ns "$NS_A"
  make_ns "$NS_B"
  make_veth "$NS_A" "$VETH_A" "$NS_B" "$VETH_B"
  ip -n "$NS_A" addr add "$OUT4_A/24" dev "$VETH_A"
  ip -n "$NS_B" addr add "$OUT4_B/24" dev "$VETH_B"
  ip -n "$NS_A" addr add "$OUT6_A/64" dev "$VETH_A" nodad
  ip -n "$NS_B" addr add "$OUT6_B/64" dev "$VETH_B" nodad
  wait_until 5 nsx "$NS_A" ping -c 1 -W 1 "$OUT4_B" || abort "outer v4 $OUT4_A -> $OUT4_B does not work"
  wait_until 5 nsx "$NS_A" ping -c 1 -W 1 "$OUT6_B" || abort "outer v6 $OUT6_A -> $OUT6_B does not work"
}

# ---------------------------------------------------------------------------------------------
# Daemons

sock_of() { echo "$WGT_SOCK_DIR/$1.sock"; }

# start_impl SIDE NS IFNAME [reuse-stale-socket]: runs "IMPL -f IFNAME" inside NS in the
# background (log in $WGT_TMP/IFNAME.log), records the PID in IMPL_PID[IFNAME], and waits at
# most 5 s for the UAPI socket to answer. Returns non-zero (with a message) when the daemon died or the socket never came.
# A socket file already there is refused (a name collision) unless reuse-stale-socket is given
# (for a socket this test left behind on purpose).
start_impl() {
  local side=$1 ns=$2 ifname=$3 reuse=${4:-} impl sock log i
  impl=$(impl_of "$side") || return 1
  sock=$(sock_of "$ifname")
  log="$WGT_TMP/$ifname.log"
  if [ -e "$sock" ] && [ "$reuse" != reuse-stale-socket ]; then
    echo "start_impl: $sock already exists: name collision, refusing to touch it" >&2
    return 1
  fi
  _WGT_SOCKS+=("$sock")
  # env --default-signal: bash starts background commands with SIGINT and SIGQUIT ignored;
  # the daemon gets the default dispositions a service manager or a terminal would give it.
  ip netns exec "$ns" env --default-signal "$impl" -f "$ifname" >"$log" 2>&1 </dev/null 7>&- 8>&- &
  local pid=$!
  reg_pid "$pid"
  IMPL_PID[$ifname]=$pid
  IMPL_LOG[$ifname]=$log
  for ((i = 0; i < 50; i++)); do
    _wgt_sock_ready "$sock" "$reuse" && return 0
    pid_alive "$pid" || break
    sleep 0.1
  done
  _wgt_sock_ready "$sock" "$reuse" && return 0
  echo "start_impl: $impl -f $ifname (pid $pid) gave no socket $sock within 5 s; log:" >&2
  sed 's/^/    | /' "$log" >&2
  return 1
}

# Ready = the socket exists and answers a UAPI get (so the daemon is fully up: e.g. wireguard-go
# installs its signal handlers only after it created the socket).
_wgt_sock_ready() {
  [ -S "$1" ] || return 1
  python3 "$WGT_PY" uapi-get "$1" 2>/dev/null | grep -qx "errno=0"
}

# reg_dir DIR: remove DIR (made by this test, outside $WGT_TMP) at cleanup.
reg_dir() { _WGT_DIRS+=("$1"); }

# reg_sock IFNAME: remove IFNAME's socket file at cleanup if something left it behind.
reg_sock() { _WGT_SOCKS+=("$(sock_of "$1")"); }

# pids_of_sock NS IFNAME: the PIDs holding IFNAME's listening UAPI socket (as seen from NS).
pids_of_sock() {
  nsx "$1" ss -xlpn 2>/dev/null | grep -F "$(sock_of "$2") " | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

# build_flood: compiles flood.c (the fast UDP sender of t66 and t67) into $WGT_TMP/flood and sets
# FLOOD; skips the test when there is no C compiler.
build_flood() {
  command -v cc >/dev/null 2>&1 || skip_all "no C compiler for flood.c (apt-get install gcc libc6-dev)"
  FLOOD="$WGT_TMP/flood"
  cc -O2 -Wall -o "$FLOOD" "$WGT_DIR/flood.c" >"$WGT_TMP/flood-cc.out" 2>&1 \
    || { _wgt_show_output "$WGT_TMP/flood-cc.out"; abort "cc flood.c"; }
}

# proc_kb PID FIELD: kB of FIELD (VmRSS, VmHWM) in /proc/PID/status.
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# counters_of IFNAME: a wgd's drop counters ("noBuffer=0 ... sendFailed=0"), from the line it
# logs on SIGUSR1 (wgd only: SIGUSR1 ends wireguard-go). Waits at most 3 s for the new line.
counters_of() {
  local log=${IMPL_LOG[$1]} pid=${IMPL_PID[$1]} before i
  before=$(grep -c 'dropped: noBuffer=' "$log")
  kill -USR1 "$pid" 2>/dev/null || return 1
  for ((i = 0; i < 30; i++)); do
    [ "$(grep -c 'dropped: noBuffer=' "$log")" -gt "$before" ] && break
    sleep 0.1
  done
  grep 'dropped: noBuffer=' "$log" | tail -n 1 | sed 's/.*dropped: //'
}

# counters_total "noBuffer=1 malformed=2 ...": the sum of the counts.
counters_total() { tr ' ' '\n' <<<"$1" | awk -F= 'NF == 2 { s += $2 } END { print s + 0 }'; }

# ---------------------------------------------------------------------------------------------
# Keys and configuration

# genkey NAME: writes $WGT_TMP/NAME.key (private) and .pub; prints the public key.
genkey() {
  (umask 077; wg genkey >"$WGT_TMP/$1.key")
  wg pubkey <"$WGT_TMP/$1.key" >"$WGT_TMP/$1.pub"
  cat "$WGT_TMP/$1.pub"
}

# configure_pair [4|6]: keys, ports, peers (endpoints over outer v4 or v6), inner addresses and
# links up for WG_A in NS_A and WG_B in NS_B (both daemons must be running). Sets PUB_A, PUB_B.
configure_pair() {
  local fam=${1:-4} ep_a ep_b
  PUB_A=$(genkey a); PUB_B=$(genkey b)
  if [ "$fam" == 6 ]; then ep_a="[$OUT6_A]:$PORT_A"; ep_b="[$OUT6_B]:$PORT_B"
  else ep_a="$OUT4_A:$PORT_A"; ep_b="$OUT4_B:$PORT_B"; fi
  nsx "$NS_A" wg set "$WG_A" private-key "$WGT_TMP/a.key" listen-port "$PORT_A" \
    peer "$PUB_B" endpoint "$ep_b" allowed-ips "$IN4_B/32,$IN6_B/128" || return 1
  nsx "$NS_B" wg set "$WG_B" private-key "$WGT_TMP/b.key" listen-port "$PORT_B" \
    peer "$PUB_A" endpoint "$ep_a" allowed-ips "$IN4_A/32,$IN6_A/128" || return 1
  ip -n "$NS_A" addr add "$IN4_A/24" dev "$WG_A" || return 1
  ip -n "$NS_A" addr add "$IN6_A/64" dev "$WG_A" nodad || return 1
  ip -n "$NS_B" addr add "$IN4_B/24" dev "$WG_B" || return 1
  ip -n "$NS_B" addr add "$IN6_B/64" dev "$WG_B" nodad || return 1
  ip -n "$NS_A" link set "$WG_A" up || return 1
  ip -n "$NS_B" link set "$WG_B" up || return 1
}

# start_pair [4|6]: setup_two_sides + both daemons + configure_pair; aborts on any failure.
start_pair() {
  setup_two_sides
  start_impl A "$NS_A" "$WG_A" || abort "start side A ($(impl_label A))"
  start_impl B "$NS_B" "$WG_B" || abort "start side B ($(impl_label B))"
  configure_pair "${1:-4}" || abort "configure_pair"
}

# tping NS DEST: 3 echo replies within 5 s.
tping() { nsx "$1" ping -c 3 -i 0.2 -w 5 "$2"; }

# peer_field NS IFNAME PUBKEY FIELD: one column of `wg show IFNAME dump` for a peer
# (1 public-key, 2 preshared-key, 3 endpoint, 4 allowed-ips, 5 latest-handshake, 6 rx, 7 tx,
# 8 persistent-keepalive).
peer_field() {
  nsx "$1" wg show "$2" dump | awk -F'\t' -v k="$3" -v f="$4" 'NR > 1 && $1 == k { print $f }'
}

# canon_conf FILE: `wg showconf` text with peers sorted by key and allowed IPs sorted, so two
# configurations compare equal whatever order the daemon lists them in.
canon_conf() { python3 "$WGT_PY" canon-conf "$1"; }

# showconf_canon NS IFNAME: canonical showconf of a running interface.
showconf_canon() {
  local f="$WGT_TMP/showconf.$RANDOM"
  nsx "$1" wg showconf "$2" >"$f" || { rm -f "$f"; return 1; }
  canon_conf "$f"; rm -f "$f"
}

# ---------------------------------------------------------------------------------------------
# Cleanup

_wgt_cleanup() {
  local rc=$? e pid st ns s
  trap - EXIT INT TERM
  trap '' PIPE          # a reader that went away (Ctrl-C on run.sh) must not stop the cleanup
  exec 1>&7 2>&8
  set +e
  if [ "$WGT_FINISHED" -eq 0 ]; then
    fail "$WGT_NAME ended before finish (exit code $rc)"
    _wgt_summary
    rc=1
  fi
  # 1. our processes, newest first
  for ((i = ${#_WGT_PIDS[@]} - 1; i >= 0; i--)); do
    e=${_WGT_PIDS[i]}; pid=${e%%:*}; st=${e#*:}
    pid_alive "$pid" || continue
    [ "$(_wgt_starttime "$pid")" == "$st" ] || continue
    kill -TERM "$pid" 2>/dev/null
  done
  for ((i = ${#_WGT_PIDS[@]} - 1; i >= 0; i--)); do
    e=${_WGT_PIDS[i]}; pid=${e%%:*}; st=${e#*:}
    wait_until 3 pid_gone "$pid"
    if pid_alive "$pid" && [ "$(_wgt_starttime "$pid")" == "$st" ]; then kill -KILL "$pid" 2>/dev/null; fi
  done
  # 2. anything still inside our namespaces was started by this test (daemonized children)
  for ns in "${_WGT_NSS[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      echo "  cleanup: ending stray pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) in $ns"
      kill -TERM "$pid" 2>/dev/null
      wait_until 3 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
    done
  done
  # 3. namespaces (their veths and TUN devices go with them)
  for ns in "${_WGT_NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  # 4. directories made outside $WGT_TMP, and socket files named after our interfaces
  for s in "${_WGT_DIRS[@]}"; do [ -d "$s" ] && rm -rf "$s"; done
  for s in "${_WGT_SOCKS[@]}"; do [ -e "$s" ] && rm -f "$s"; done
  if [ -n "${WGT_KEEP_TMP:-}" ]; then echo "  kept $WGT_TMP"; else rm -rf "$WGT_TMP"; fi
  exit "$rc"
}
trap _wgt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# begin_test DESCRIPTION: the header line.
begin_test() {
  echo "== $WGT_NAME: $* (A: $(impl_label A), B: $(impl_label B), id $WGT_ID)"
}

# iperf_server NS ADDR LOG: a one-client iperf3 server on ADDR:5201 in NS (its PID in BG_PID,
# killed at cleanup), started and listening (5 s at most) when this returns.
iperf_server() {
  local ns=$1 addr=$2 log=$3 i
  bg_in_ns "$ns" "$log" timeout --foreground 30 iperf3 -s -1 -B "$addr" -p 5201
  for ((i = 0; i < 50; i++)); do
    nsx "$ns" ss -ltn 2>/dev/null | grep -q "$addr:5201 " && break
    sleep 0.1
  done
}
