#!/usr/bin/env bash
# The scale figures of docs/scaling.md: test_scale at 8, 32, 64, 128 and 256
# ranks on this host, with lazy links (the default) and the eager full mesh.
#   bash scripts/scale.sh [-n "8 32 64 128 256"] [-m "lazy eager"] [-b build-dir] [-r repeats]
# One line per run (test_scale's report); exits 1 at the first failed run.
set -uo pipefail
cd "$(dirname "$0")/.."
sizes="8 32 64 128 256" modes="lazy eager" build=build repeats=1
while getopts "n:m:b:r:" o; do
  case $o in
    n) sizes=$OPTARG ;;
    m) modes=$OPTARG ;;
    b) build=$OPTARG ;;
    r) repeats=$OPTARG ;;
    *) echo "usage: $0 [-n sizes] [-m modes] [-b build-dir] [-r repeats]" >&2; exit 2 ;;
  esac
done
prog=$build/tests/mp/test_scale
[[ -x $prog ]] || { echo "no $prog: build first (cmake --build $build)" >&2; exit 2; }
# 256 ranks hold a few thousand descriptors between them, more with the eager mesh
ulimit -n 65536 2>/dev/null || true
for n in $sizes; do
  for ((i = 0; i < repeats; i++)); do
    for m in $modes; do   # interleaved: both modes see the same load
      WEFT_CONNECT=$m "$prog" -n "$n" -t 600 || exit 1
    done
  done
done
