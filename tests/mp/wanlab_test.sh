#!/usr/bin/env bash
# WAN lab integration test: brings up a lab of network namespaces (one per
# site) joined by tbf-shaped veth links and weft-wan-relay (added RTT), runs
# weft-perf with result checking for allreduce, allgather, reducescatter and
# broadcast across it, and tears the lab down whatever happens.
#
#   wanlab_test.sh SOURCE_DIR BUILD_DIR LAYOUT [--break]
#
#   LAYOUT   ranks per site, e.g. 2+2 (2 sites x 2 ranks) or 2+1+3
#   --break  sabotage: rank 1 exits with status 3 instead of running weft-perf,
#            so the test must fail (shows that it can)
#
# Environment: WANLAB_TEST_RATE (default 200mbit), WANLAB_TEST_RTT_MS (default 10).
# Exit 77 (ctest SKIP_RETURN_CODE) without root, network namespaces, veth or tbf.
set -uo pipefail

src=${1:?source dir}
build=${2:?build dir}
layout=${3:?layout like 2+2}
sabotage=0
[[ "${4:-}" == "--break" ]] && sabotage=1
rate=${WANLAB_TEST_RATE:-200mbit}
rtt=${WANLAB_TEST_RTT_MS:-10}
lab="$src/bench/wanlab/wanlab.sh"
# time budgets scale with WEFT_TEST_TIME_SCALE (tests/README.md)
source "$src/tests/common/time_scale.sh"
run_timeout=$(weft_test_seconds 150)
run_grace=$(weft_test_seconds 10)
perf="$build/bench/weft-perf"
prefix="wt$$"
prefix=${prefix:0:10}

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, tc)"
command -v ip >/dev/null && command -v tc >/dev/null || skip "needs iproute2 (ip, tc)"
[[ -x "$perf" ]] || { echo "FAIL: $perf not built"; exit 1; }
[[ -x "$build/bench/weft-wan-relay" ]] || { echo "FAIL: $build/bench/weft-wan-relay not built"; exit 1; }

# can this machine do it at all? (a container without CAP_NET_ADMIN, no veth, no tbf)
probe="${prefix}p"
if ! { ip netns add "$probe" &&
       ip -n "$probe" link add pa type veth peer name pb &&
       tc -n "$probe" qdisc add dev pa root tbf rate 10mbit burst 64k limit 1m; } 2>/dev/null; then
  ip netns del "$probe" 2>/dev/null
  skip "network namespaces, veth or tc tbf not available here"
fi
ip netns del "$probe"

logs=$(mktemp -d /tmp/wanlab-test.XXXXXX)
case_no=0
keep_logs=0
cleanup() {
  "$lab" --prefix "$prefix" down >/dev/null 2>&1 || true
  if (( keep_logs )); then echo "rank logs kept in $logs"; else rm -rf "$logs"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

IFS=+ read -r -a parts <<<"$layout"
nsites=${#parts[@]}
nranks=0
for p in "${parts[@]}"; do nranks=$((nranks + p)); done
last_root=$((nranks - 1)) # a root in the last site

t0=$SECONDS
echo "== wanlab up: $nsites sites ($layout), $rate per direction, RTT +$rtt ms"
"$lab" --prefix "$prefix" --build "$build" up --sites "$nsites" --rate "$rate" --rtt-ms "$rtt" || {
  echo "FAIL: wanlab up"; exit 1; }

cmd=("$perf")
if (( sabotage )); then
  cmd=(sh -c 'if [ "$WEFT_RANK" = 1 ]; then echo "sabotaged rank 1" >&2; exit 3; fi; exec "$@"' sh "$perf")
fi

failures=0
# The first case runs with WEFT_DEBUG=INFO: rank 0 must have warmed its WAN
# streams (lib/comm/warm.c) after measuring at least the lab's RTT, within
# 12 measured round trips plus a bounded overhead (pings, the last chunks).
warm_ok() {
  local line ms rtt
  line=$(grep -o 'warmed in [0-9]* ms (largest RTT [0-9.]* ms' <<<"$1" | head -n 1)
  ms=$(awk '{print $3}' <<<"$line")
  rtt=$(awk '{print $7}' <<<"$line")
  if [[ -z "$line" ]]; then
    echo "FAIL: rank 0 did not warm its WAN streams (no 'warmed in' line)"
  elif awk -v r="$rtt" -v want="$rtt_floor" 'BEGIN { exit !(r < want) }'; then
    echo "FAIL: the warm-up measured an RTT of $rtt ms across a +$rtt_floor ms link"
  elif awk -v m="$ms" -v r="$rtt" -v slack="$warm_slack_ms" 'BEGIN { exit !(m > 12 * r + 5 * r + slack) }'; then
    echo "FAIL: the warm-up took $ms ms, more than 17 RTTs of $rtt ms + $warm_slack_ms ms"
  else
    echo "   warm-up: $line)"
    return 0
  fi
  return 1
}
rtt_floor=$rtt
warm_slack_ms=$(( $(weft_test_seconds 2) * 1000 ))

run_case() { # MAXBYTES weft-perf arguments...: sizes 1K, 16K, ... up to MAXBYTES
  local out rc t=$SECONDS max=$1
  shift
  echo "== weft-perf $* -b 1K -e $max ($layout)"
  out=$(WEFT_DEBUG=$( ((case_no == 0)) && echo INFO || echo "${WEFT_DEBUG:-WARN}") "$lab" --prefix "$prefix" run --layout "$layout" --timeout "$run_timeout" --grace "$run_grace" --logdir "$logs/$case_no" \
        -- "${cmd[@]}" "$@" -b 1K -e "$max" -f 16 -n 2 -w 1 -c 1 2>&1)
  rc=$?
  case_no=$((case_no + 1))
  if (( rc != 0 )); then
    echo "$out" | tail -n 40 | sed 's/^/   /'
    echo "FAIL: weft-perf $* exited with status $rc"
    failures=$((failures + 1))
  elif ! grep -q '^# Out of bounds values : 0 OK' <<<"$out"; then
    echo "$out" | tail -n 30
    echo "FAIL: weft-perf $* did not report 0 wrong values"
    failures=$((failures + 1))
  elif (( case_no == 1 && ! sabotage )) && ! warm_ok "$out"; then
    failures=$((failures + 1))
  elif ! awk -v m="${max%[KM]}" -v u="${max: -1}" 'BEGIN { m *= (u == "M" ? 1048576 : 1024) }
                 /^ +[0-9]+ / && $1 >= 0.9 * m { found = 1 } END { exit !found }' <<<"$out"; then
    echo "FAIL: weft-perf $* printed no result for the largest size ($max)"
    failures=$((failures + 1))
  else
    echo "$out" | grep -vE '^#( |$)|^#  Rank' | sed 's/^/   /'
  fi
  echo "   ($((SECONDS - t)) s)"
}

# every type and op at small and medium sizes, a few of them up to 4 MiB (where
# the algorithm changes); sizes that do not divide by the rank count are rounded
# down by weft-perf
cases=(
  "256K allreduce -d all -o sum"
  "4M allreduce -d float -o sum"
  "256K allreduce -d double -o all"
  "4M allreduce -d bfloat16 -o avg"
  "4M allgather -d int8"
  "4M reducescatter -d half -o max"
  "256K reducescatter -d int64 -o prod"
  "4M broadcast -d uint32 -r $last_root"
)
for c in "${cases[@]}"; do
  read -r -a args <<<"$c"
  run_case "${args[@]}"
  if (( sabotage && failures )); then
    echo "== $layout with a sabotaged rank: $failures failure(s), as it must ($((SECONDS - t0)) s)"
    exit 1
  fi
done

# the traffic went through the shaped WAN links and the relay, without loss
stats=$("$lab" --prefix "$prefix" stats --raw)
echo "== WAN counters (link direction bytes packets drops overlimits backlog)"
echo "$stats" | sed 's/^/   /'
for ((s = 0; s < nsites; s++)); do
  up=$(awk -v l="s$s" '$1 == l && $2 == "up" {print $3}' <<<"$stats")
  if (( ${up:-0} < 4000000 )); then
    echo "FAIL: site $s sent only ${up:-0} bytes over its WAN link"
    failures=$((failures + 1))
  fi
done
down=$("$lab" --prefix "$prefix" down 2>&1) # stops the relay: it prints its counters on SIGTERM
echo "$down" | sed 's/^/   /'
if ! grep -q 'weft-wan-relay exit' <<<"$down"; then
  echo "FAIL: the relay did not exit cleanly on SIGTERM"
  failures=$((failures + 1))
elif grep 'weft-wan-relay exit: s' <<<"$down" | grep -qv 'ring-full 0 socket 0 qdisc 0 truncated 0 error 0'; then
  echo "FAIL: the relay dropped frames"
  failures=$((failures + 1))
fi
if ip netns list | grep -q "^$prefix-"; then
  echo "FAIL: namespaces left after down: $(ip netns list | grep "^$prefix-" | tr '\n' ' ')"
  failures=$((failures + 1))
fi

echo "== $layout: $failures failure(s) in $((SECONDS - t0)) s"
(( failures == 0 )) || keep_logs=1
(( failures == 0 ))
