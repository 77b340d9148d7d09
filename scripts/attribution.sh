#!/usr/bin/env bash
# The long failure-attribution matrix (docs/failures.md): every rank position
# killed, stopped, aborting and exiting, small and large calls, over shm and
# tcp, on one host, on fake nodes and across fake sites (hierarchical), with 4
# and 6 ranks. Every survivor must name the failed rank. About 5 minutes.
#   bash scripts/attribution.sh [build-dir]      (default: build)
# Exits 1 if any run had a survivor that named another rank or no rank.
set -uo pipefail
cd "$(dirname "$0")/.."
prog=${1:-build}/tests/mp/test_attribution
[[ -x $prog ]] || { echo "no $prog: build first (cmake --build build)" >&2; exit 2; }
failed=0
run() {
  echo "== $*"
  env "$@" || failed=1
}
for n in 4 6; do
  for net in shm tcp; do
    run WEFT_NET=$net "$prog" -n $n -m kill,stop,abort,exit -c small,large -v all -T 1000
  done
  half=$((n / 2))
  run "$prog" -n $n -G $half+$((n - half)) -m kill,stop,abort -c small,large -v all -T 1000
  run WEFT_ALGO=hier "$prog" -n $n -G $half+$((n - half)) -S -m kill,stop,abort,exit -c small,large -v all -T 1000
done
run WEFT_ALGO=hier "$prog" -n 6 -G 3+2+1 -S -m kill,stop -c large -v all -T 1500
if [[ $failed == 0 ]]; then echo "attribution: every run passed"; else echo "attribution: FAILED (see above)"; fi
exit $failed
