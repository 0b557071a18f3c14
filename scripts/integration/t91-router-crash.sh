#!/usr/bin/env bash
# t91: router mode survives kill -9 in the middle of a storm of changes. Each round starts
# `wgd --state`, fires 1,000 concurrent `wg set` calls (each adds its own peer), and kills the
# supervisor and its children with SIGKILL at a random moment. Then the file must still be valid
# and hold every peer whose `wg set` returned success. 20 rounds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/router.sh"
need_basics sha256sum
router_binary
impl_is_wireguard_go B || skip_all "runs once per suite: in the pairing with wireguard-go as side B (its peer plays no part)"
begin_test "router mode: kill -9 during 1,000 concurrent wg set calls, 20 rounds"
make_ns "$NS_A"
PUB_A=$(genkey a); PUB_B=$(genkey b)
make_state_dir
write_state "$STATE"
ROUNDS=${T91_ROUNDS:-20} SETS=${T91_SETS:-1000}
lost=0 invalid=0 total_replied=0
for ((round = 1; round <= ROUNDS; round++)); do
  start_router || abort "round $round: router mode did not start"
  keys="$WGT_TMP/keys.$round" replied="$WGT_TMP/replied.$round"
  python3 -c "
import base64, os
for i in range($SETS): print(base64.b64encode(os.urandom(32)).decode())" >"$keys"
  : >"$replied"
  # The kill lands somewhere in the storm: from at once to well after most sets are through.
  delay=$(python3 -c "import random; print(round(random.uniform(0.05, 2.5), 2))")
  i=0
  while read -r key; do
    i=$((i + 1))
    # The UAPI socket is a file: wg reaches it from any network namespace.
    ( timeout 20 wg set "$WG_A" peer "$key" allowed-ips "fd00:91::$(printf %x "$i")/128" 2>/dev/null \
        && echo "$key" >>"$replied" ) 7>&- 8>&- &
  done <"$keys"
  sleep "$delay"
  for pid in $(router_pids); do kill -KILL "$pid" 2>/dev/null; done
  wait
  n=$(wc -l <"$replied")
  total_replied=$((total_replied + n))
  if "$WGD" --state "$STATE" --check >/dev/null 2>&1; then
    missing=$(comm -23 <(sort "$replied") <(python3 "$WGT_PY" state-peers "$STATE" | sort) | wc -l)
  else
    invalid=$((invalid + 1)); missing=$n
    cp "$STATE" "$WGT_TMP/invalid.$round.json"
  fi
  lost=$((lost + missing))
  info "round $round: kill after ${delay} s, $n sets answered, $missing of them missing from the file"
  wait_until 3 sh -c "! ip -n $NS_A link show dev $WG_A" || true
  # Start each round from the file as it is: it grows by what the previous rounds wrote.
done
check_eq "the file parsed after every kill ($ROUNDS rounds)" 0 "$invalid"
check_eq "every answered set is in the file ($total_replied answered in all)" 0 "$lost"
check "some sets were answered before the kill" test "$total_replied" -gt 0
finish
