#!/usr/bin/env bash
# Runs the integration tests (all tNN-*.sh here, or those named as arguments: "t10",
# "t10-ping" or "t10-ping.sh"), each under `timeout` (WGT_TIMEOUT seconds, default 150), checks
# that each left nothing behind (namespaces, links, sockets, processes named after its id),
# and ends with the line "N passed, M failed[, K skipped]". Exit status: 0 when nothing failed.
#   sudo scripts/integration/run.sh
#   sudo WGD_IMPL_A=.build/release/wgd scripts/integration/run.sh t10 t40
set -u
# WGT_TESTS_DIR: another folder of tNN-*.sh tests run the same way (scripts/firmware).
HERE=$(cd "${WGT_TESTS_DIR:-$(dirname "$0")}" && pwd)
TO=${WGT_TIMEOUT:-150}

tests=()
if [ $# -eq 0 ]; then
  for t in "$HERE"/t[0-9][0-9]-*.sh; do tests+=("$t"); done
else
  for a in "$@"; do
    a=$(basename "$a" .sh)
    m=("$HERE"/"$a"*.sh)
    if [ -e "${m[0]}" ]; then tests+=("${m[0]}"); else echo "run.sh: no test matches '$a'" >&2; exit 2; fi
  done
fi

# Absolute paths for implementations given as relative paths (the tests cd nowhere, but be safe).
for v in WGD_IMPL_A WGD_IMPL_B; do
  val=${!v:-}
  if [ -n "$val" ] && [ "$val" != wireguard-go ] && [[ "$val" == */* ]] && [ -e "$val" ]; then
    export "$v=$(cd "$(dirname "$val")" && pwd)/$(basename "$val")"
  fi
done

# leftovers ID: what a test with that id left behind (read-only look; prints one line each)
leftovers() {
  local id=$1
  ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "^wgt-$id-" | sed 's/^/namespace /'
  ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep -E "^(ve|wg|wq)${id}[0-9a-z]$" | sed 's/^/host link /'
  ls /var/run/wireguard 2>/dev/null | grep -E "^((wg|wq)${id}[0-9a-z]|x$id|wg${id}0123)" | sed 's/^/socket /'
  ps -eo pid=,args= 2>/dev/null | grep -E "[ /](wg|wq)${id}[0-9a-z]( |$)" | grep -v -E "grep|run\.sh" | sed 's/^/process /'
}

declare -a rows=()
tp=0; tf=0; ts=0; tx=0
t_start=$SECONDS
work=$(mktemp -d /tmp/wgt-run.XXXXXX)
interrupted=0
# Ctrl-C reaches this shell and the pipeline below, but not the test: `timeout` runs it in a
# process group of its own. So pass the signal on to timeout, which hands it to the whole test
# (whose trap then cleans up), and wait for that to finish.
on_signal() {
  interrupted=1
  local p; p=$(cat "$work/pid" 2>/dev/null)
  [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
}
trap on_signal INT TERM

for t in "${tests[@]}"; do
  [ "$interrupted" -eq 0 ] || break
  name=$(basename "$t" .sh)
  rf="$work/results"; out="$work/output"
  : >"$rf"; : >"$work/pid"; rm -f "$work/rc"
  t0=$SECONDS
  { WGT_RESULTS=$rf timeout -k 15 "$TO" bash "$t" 2>&1 &
    echo $! >"$work/pid"; wait $!; echo $? >"$work/rc"; } | tee "$out" \
    | sed -u -E "s/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/[$name] result: \1 pass \/ \2 fail \/ \4 skip/; s/ \/  skip$//"
  if [ "$interrupted" -eq 1 ]; then
    p=$(cat "$work/pid" 2>/dev/null)
    for ((i = 0; i < (TO + 20) * 5; i++)); do
      [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break
      sleep 0.2
    done
    echo "FAIL: $name interrupted"
  fi
  rc=$(cat "$work/rc" 2>/dev/null || echo 130)
  dt=$((SECONDS - t0))
  p=$(grep -c -E '^[PX]$' "$rf"); f=$(grep -c '^F$' "$rf"); s=$(grep -c '^S$' "$rf"); x=$(grep -c '^X$' "$rf")
  note=""
  if [ "$interrupted" -eq 1 ]; then
    f=$((f + 1)); note="interrupted"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "FAIL: $name timed out after $TO s"; f=$((f + 1)); note="timeout"
  elif [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$f" -eq 0 ]; then
    echo "FAIL: $name exited $rc without a FAIL line"; f=$((f + 1)); note="exit $rc"
  fi
  id=$(sed -n -E 's/^== .*, id ([0-9a-z]+)\)$/\1/p' "$out" | head -n 1)
  if [ -n "$id" ]; then
    left=$(leftovers "$id")
    if [ -n "$left" ]; then
      echo "FAIL: $name left things behind:"; echo "$left" | sed 's/^/    /'
      f=$((f + 1)); note="${note:+$note, }leftovers"
    fi
  fi
  [ "$rc" -eq 77 ] && note="${note:+$note, }skipped"
  rows+=("$(printf '%-18s %4ss  %3s pass %3s fail %3s skip %3s xfail  %s' "$name" "$dt" "$p" "$f" "$s" "$x" "$note")")
  tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s)); tx=$((tx + x))
  echo
done
rm -rf "$work"

echo "=== summary (A: ${WGD_IMPL_A:-wireguard-go}, B: ${WGD_IMPL_B:-wireguard-go}; $((SECONDS - t_start)) s)"
printf '%s\n' "${rows[@]}"
echo "xfail: $tx (expected failures of wireguard-go against the strict contract, counted as passed)"
line="$tp passed, $tf failed"
[ "$ts" -gt 0 ] && line="$line, $ts skipped"
echo "$line"
[ "$tf" -eq 0 ]
