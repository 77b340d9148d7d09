#!/usr/bin/env bash
# The long churn run (docs/failures.md#churn-test): 6 ranks on 2 fake sites
# train with the topk codec while a random rank is SIGKILLed (every 10th
# cycle SIGSTOPped) and replaced, over and over; parameters must stay bitwise
# equal and no rank may leak descriptors, mappings or threads.
#   bash scripts/churn.sh [-t seconds] [-n ranks] [-c codec] [-b build-dir]   (default 2 hours, 6 ranks, topk)
# Runs test_churn in chunks of 10 minutes (fresh processes, a new seed each)
# so that a failure shows its seed; exits 1 at the first failed chunk.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=7200 n=6 codec=topk build=build
while getopts "t:n:c:b:" o; do
  case $o in
    t) secs=$OPTARG ;;
    n) n=$OPTARG ;;
    c) codec=$OPTARG ;;
    b) build=$OPTARG ;;
    *) echo "usage: $0 [-t seconds] [-n ranks] [-c codec] [-b build-dir]" >&2; exit 2 ;;
  esac
done
prog=$build/tests/mp/test_churn
[[ -x $prog ]] || { echo "no $prog: build first (cmake --build $build)" >&2; exit 2; }
end=$((SECONDS + secs)) total=0 chunk=0
while ((SECONDS < end)); do
  left=$((end - SECONDS)); ((left > 600)) && left=600
  chunk=$((chunk + 1))
  out=$(WEFT_NET=${WEFT_NET:-tcp} "$prog" -n "$n" -s 2 -c "$codec" -t "$left" -r $((RANDOM * 32768 + RANDOM)) 2>&1)
  rc=$?
  echo "$out" | grep -E '^churn:|FAIL'
  c=$(echo "$out" | sed -n 's/^churn: \([0-9]*\) cycles.*/\1/p')
  total=$((total + ${c:-0}))
  if ((rc != 0)); then echo "churn.sh: chunk $chunk FAILED after $total cycles in all"; exit 1; fi
done
echo "churn.sh: $total cycles in $chunk chunks over $secs s: every one passed"
