#!/usr/bin/env bash
# t85: router mode's privilege primitives, for real (wgd's own; skipped when neither side is wgd):
#  - the supervisor's drop (wgd --privilege-selftest wgd IFNAME): uid and gid of user wgd, its
#    group alone, CAP_NET_ADMIN alone in the permitted, effective and bounding sets, nothing
#    inheritable or ambient, no_new_privs; it still creates a TUN and sets its MTU (on a
#    /dev/net/tun opened before the drop), and can neither bind a port below 1024 nor become
#    root again;
#  - the data plane it starts (/proc/self/exe): uid wgd, no capability, no_new_privs, seccomp
#    mode 2; a thread, crypto, a wake pipe, a datagram and the MTU ioctl work; openat, socket,
#    posix_spawn and isatty fail with EPERM;
#  - the same lock-down and filter as root with no user change (--seccomp-selftest); a call on
#    no list (uname) kills the process with SIGSYS; a crash still reports itself on standard
#    error and ends with its own signal, not SIGSYS.
. "$(dirname "$0")/lib.sh"
need_root
need_cmds ip id timeout
need_tun
need_netns
begin_test "the supervisor's privilege drop, the data plane's lock-down and system-call filter"
if ! impl_is_wireguard_go A; then wgd=$(impl_of A)
elif ! impl_is_wireguard_go B; then wgd=$(impl_of B)
else skip_all "both sides are wireguard-go; these are wgd's own primitives (set WGD_IMPL_A or WGD_IMPL_B)"; fi
id wgd >/dev/null 2>&1 || skip_all "no user wgd: scripts/bootstrap creates it when run as root"
uid=$(id -u wgd); gid=$(id -g wgd)
none=0000000000000000 net_admin=0000000000001000   # CAP_NET_ADMIN is capability 12

make_ns "$NS_A"
cd "$WGT_TMP" || abort "cd $WGT_TMP"   # a crash must not leave a core file anywhere else

# run OUT CMD...: runs a self-test inside NS_A (stdout and stderr to OUT); sets RC.
run() {
  local out=$1; shift
  tmo 20 ip netns exec "$NS_A" "$wgd" "$@" >"$out" 2>&1 7>&- 8>&-
  RC=$?
}
# field OUT NAME: the value of the line "NAME: value" (trailing blanks dropped).
field() { sed -n "s|^$2: ||p" "$1" | head -n 1 | sed 's/[[:space:]]*$//'; }

echo "-- the supervisor drops to user wgd ($uid:$gid), keeping CAP_NET_ADMIN, and starts a data plane"
out=$WGT_TMP/privilege.log
run "$out" --privilege-selftest wgd "${WG_A}p"
check_eq "exit status 0" 0 "$RC" || _wgt_show_output "$out"
s="supervisor"
check_eq "$s: uid is wgd's (real, effective, saved, fs)" "$uid	$uid	$uid	$uid" "$(field "$out" "$s Uid")"
check_eq "$s: gid is wgd's" "$gid	$gid	$gid	$gid" "$(field "$out" "$s Gid")"
check_eq "$s: wgd's group alone" "$gid" "$(field "$out" "$s Groups")"
check_eq "$s: permitted = CAP_NET_ADMIN" "$net_admin" "$(field "$out" "$s CapPrm")"
check_eq "$s: effective = CAP_NET_ADMIN" "$net_admin" "$(field "$out" "$s CapEff")"
check_eq "$s: nothing inheritable" "$none" "$(field "$out" "$s CapInh")"
check_eq "$s: no ambient capability" "$none" "$(field "$out" "$s CapAmb")"
check_eq "$s: bounding set = CAP_NET_ADMIN" "$net_admin" "$(field "$out" "$s CapBnd")"
check_eq "$s: no_new_privs" 1 "$(field "$out" "$s NoNewPrivs")"
check_eq "$s: creates a TUN and sets its MTU (CAP_NET_ADMIN)" "created, MTU set" "$(field "$out" "$s tun ${WG_A}p")"
check_eq "$s: cannot bind a port below 1024" EACCES "$(field "$out" "$s bind udp port 1023")"
check_eq "$s: cannot become root again" EPERM "$(field "$out" "$s setuid 0")"
check_eq "$s: its data plane exited 0" "exit 0" "$(field "$out" "$s data plane")"
d="data-plane"
check_eq "$d: uid is wgd's" "$uid	$uid	$uid	$uid" "$(field "$out" "$d Uid")"
check_eq "$d: no capability permitted" "$none" "$(field "$out" "$d CapPrm")"
check_eq "$d: no capability effective" "$none" "$(field "$out" "$d CapEff")"
check_eq "$d: nothing inheritable" "$none" "$(field "$out" "$d CapInh")"
check_eq "$d: no ambient capability" "$none" "$(field "$out" "$d CapAmb")"
check_eq "$d: no_new_privs" 1 "$(field "$out" "$d NoNewPrivs")"
check_eq "$d: seccomp filter mode" 2 "$(field "$out" "$d Seccomp")"
check_eq "$d: allowed work (thread, crypto, pipe, datagram, MTU ioctl)" ok "$(field "$out" "$d allowed")"
check_eq "$d: openat fails" EPERM "$(field "$out" "$d openat /etc/hostname")"
check_eq "$d: socket fails" EPERM "$(field "$out" "$d socket AF_INET SOCK_DGRAM")"
check_eq "$d: posix_spawn fails" EPERM "$(field "$out" "$d spawn /bin/true")"

echo "-- the data plane's lock-down and filter as root, with no user change"
out=$WGT_TMP/seccomp.log
run "$out" --seccomp-selftest
check_eq "exit status 0" 0 "$RC" || _wgt_show_output "$out"
check_eq "$d: root with no capability left" "$none" "$(field "$out" "$d CapEff")"
check_eq "$d: and none in the bounding set" "$none" "$(field "$out" "$d CapBnd")"
check_eq "$d: seccomp filter mode" 2 "$(field "$out" "$d Seccomp")"
check_eq "$d: allowed work" ok "$(field "$out" "$d allowed")"
check_eq "$d: openat fails, even as root" EPERM "$(field "$out" "$d openat /etc/hostname")"
check_eq "$d: socket fails, even as root" EPERM "$(field "$out" "$d socket AF_INET SOCK_DGRAM")"
check_eq "$d: isatty's ioctl fails rather than kills" EPERM "$(field "$out" "$d isatty 1")"

echo "-- a call on no list kills; a crash reports itself"
out=$WGT_TMP/kill.log
run "$out" --seccomp-selftest kill
check_eq "uname kills the process with SIGSYS (exit status 128+31)" 159 "$RC" || _wgt_show_output "$out"
check_not "nothing ran past the killed call" grep -q "did not kill" "$out"
out=$WGT_TMP/crash.log
run "$out" --seccomp-selftest crash
check "a fatal error is reported on standard error" grep -q "Fatal error: seccomp self-test: a deliberate crash" "$out"
check "and ends with its own signal (SIGILL or SIGTRAP), not SIGSYS: status $RC" test "$RC" -eq 132 -o "$RC" -eq 133
finish
