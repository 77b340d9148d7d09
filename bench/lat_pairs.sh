#!/usr/bin/env bash
# Small-message latency of weft against Open MPI (allreduce, or another
# collective of both weft-perf and weft-mpi-perf, e.g. sendrecv), measured in
# alternating pairs (weft, MPI, weft, MPI, ...) so that both see the same
# phases of a noisy machine; prints each library's median, lowest and every
# run, and the ratio of the medians.
#
#   bench/lat_pairs.sh [--build DIR] [--coll C] [-np N] [--size BYTES] [--pairs K] [-n ITERS]
#
#   --build DIR  where the binaries are: DIR/bench/weft-perf (default ./build)
#   --coll C     the collective (default allreduce)
#   -np N        ranks (default 2)
#   --size B     message size in bytes (default 8)
#   --pairs K    alternations (default 10)
#   -n ITERS     calls per run (default 100000; 1000 warm-up calls)
#   --mpirun     start weft-perf's ranks with mpirun too (bound to cores as
#                MPI's are), not forked by weft-perf -np
set -euo pipefail
build=./build coll=allreduce np=2 size=8 pairs=10 iters=100000 launcher=fork
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --coll) coll=$2; shift 2 ;;
    --mpirun) launcher=mpirun; shift ;;
    -np) np=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    -n) iters=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lat_pairs.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
weft=$build/bench/weft-perf mpi=$build/bench/weft-mpi-perf
[[ -x $weft && -x $mpi ]] || { echo "lat_pairs.sh: need $weft and $mpi (MPI found at build time)" >&2; exit 1; }
args=("$coll" -b "$size" -e "$size" -n "$iters" -w 1000)
# the time column (out of place) of the line for this size
time_of() { awk -v s="$size" '$1 == s && NF > 8 {print $6; exit}'; }
for _ in $(seq "$pairs"); do
  if [[ $launcher == mpirun ]]; then
    echo "weft $(mpirun --allow-run-as-root --oversubscribe -np "$np" "$weft" "${args[@]}" -z 1 2>&1 | time_of)"
  else
    echo "weft $("$weft" -np "$np" "${args[@]}" -z 1 2>&1 | time_of)"
  fi
  echo "mpi $(mpirun --allow-run-as-root --oversubscribe -np "$np" "$mpi" "${args[@]}" 2>&1 | time_of)"
done | awk -v size="$size" -v np="$np" -v coll="$coll" '
  { t[$1, ++n[$1]] = $2 }
  function median(k,   i, j, v, m, a) {
    m = n[k]; for (i = 1; i <= m; i++) a[i] = t[k, i]
    for (i = 2; i <= m; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
    lo[k] = a[1]
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "# %s of %s bytes, %s ranks, %d alternating pairs (us per call)\n", coll, size, np, n["weft"]
    for (k in n) {
      med[k] = median(k); s = ""
      for (i = 1; i <= n[k]; i++) s = s " " t[k, i]
      printf "%-5s median %.3f  lowest %.3f  runs:%s\n", k, med[k], lo[k], s
    }
    if (med["mpi"] > 0) printf "lat ratio (weft median / MPI median): %.2f\n", med["weft"] / med["mpi"]
  }'
