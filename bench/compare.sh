#!/usr/bin/env bash
# Runs weft-perf and weft-mpi-perf (Open MPI) over the same sizes in one
# invocation and prints them side by side; also writes a CSV and, with
# --plot, a busbw-vs-size chart (gnuplot).
#
#   bench/compare.sh [-np N] <coll> [-b MIN] [-e MAX] [-f FACTOR] [-i STEP]
#                    [-n ITERS] [-w WARMUP] [-c 0/1] [-d TYPE] [-o OP] [-r ROOT] [-a AGG]
#                    [-z 0/1] [--build DIR] [--csv FILE] [--plot FILE.png]
#
#   -np N        ranks for both (default 2)
#   coll         allreduce allgather reducescatter broadcast reduce alltoall sendrecv
#   -b -e -f -i -n -w -c -d -o -r -a   passed to both benchmarks (nccl-tests meaning)
#   -z 0/1       weft-perf's call mode; default 1, blocking calls, as MPI's always are
#                (-z 0 times weft on a stream against blocking MPI: not like for like)
#   --build DIR  where the binaries are: DIR/bench/weft-perf or DIR/weft-perf (default ./build)
#   --csv FILE   CSV output (default compare-<coll>-np<N>.csv); the raw outputs of
#                both runs are kept next to it as FILE.weft.log and FILE.mpi.log
#   --plot FILE  PNG of busbw vs size (log x); needs gnuplot (checked before anything runs)
#
# Columns: busbw from the out-of-place runs; "bw ratio" = weft busbw / MPI busbw
# (= MPI time / weft time, computed from the times for precision at small
# sizes); "lat ratio" = weft time / MPI time (< 1: weft is faster).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

np=2
coll=""
build=./build
csv=""
plot=""
common=()
weft_only=()
zmode=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -np) np="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --csv) csv="$2"; shift 2 ;;
    --plot) plot="$2"; shift 2 ;;
    -b|-e|-f|-i|-n|-w|-c|-d|-o|-r|-a) common+=("$1" "$2"); shift 2 ;;
    -z) zmode="$2"; shift 2 ;;
    -T) weft_only+=("$1" "$2"); shift 2 ;;
    -*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      if [[ -n "$coll" ]]; then echo "compare.sh: unexpected argument $1" >&2; exit 2; fi
      coll="$1"; shift ;;
  esac
done
if [[ -z "$coll" ]]; then echo "compare.sh: missing collective name" >&2; usage >&2; exit 2; fi
weft_only+=(-z "$zmode")
if [[ -n "$plot" ]] && ! command -v gnuplot >/dev/null; then
  echo "compare.sh: --plot needs gnuplot (Debian: apt-get install gnuplot-nox); the CSV alone needs nothing" >&2
  exit 2
fi
if ! [[ "$np" =~ ^[0-9]+$ ]] || (( np < 1 )); then echo "compare.sh: bad -np $np" >&2; exit 2; fi

find_bin() {
  local name="$1" d
  for d in "$build/bench" "$build" "$build/bin"; do
    if [[ -x "$d/$name" ]]; then echo "$d/$name"; return 0; fi
  done
  return 1
}
weft_bin=$(find_bin weft-perf) || { echo "compare.sh: weft-perf not found under $build" >&2; exit 2; }
mpi_bin=$(find_bin weft-mpi-perf) || {
  echo "compare.sh: weft-mpi-perf not found under $build (was MPI found at configure time?)" >&2
  exit 2
}
command -v mpirun >/dev/null || { echo "compare.sh: mpirun not in PATH" >&2; exit 2; }

[[ -n "$csv" ]] || csv="compare-${coll}-np${np}.csv"
weft_log="${csv%.csv}.weft.log"
mpi_log="${csv%.csv}.mpi.log"

status=0
echo "# weft: $weft_bin -np $np $coll ${common[*]} ${weft_only[*]}"
if ! "$weft_bin" -np "$np" "$coll" "${common[@]}" "${weft_only[@]}" >"$weft_log"; then
  echo "compare.sh: weft-perf failed (output in $weft_log)" >&2
  status=1
fi
echo "# mpi:  mpirun -np $np $mpi_bin $coll ${common[*]}"
if ! mpirun --allow-run-as-root --oversubscribe -np "$np" "$mpi_bin" "$coll" "${common[@]}" >"$mpi_log"; then
  echo "compare.sh: weft-mpi-perf failed (output in $mpi_log)" >&2
  status=1
fi
grep -hE '^# (weft |MPI: )' "$weft_log" "$mpi_log" 2>/dev/null || true

# Data rows: size count type redop root | time algbw busbw #wrong (out-of-place) |
# time algbw busbw #wrong (in-place) | [algo]. Joined on size,type,redop.
awk -v coll="$coll" -v np="$np" -v csv="$csv" '
  function factor() {
    if (coll == "allreduce") return 2.0 * (np - 1) / np
    if (coll == "allgather" || coll == "reducescatter" || coll == "alltoall") return (np - 1) / np
    return 1.0
  }
  function fmt_ratio(x) { return x == "" ? "-" : sprintf("%.2f", x) }
  /^#/ || NF < 13 { next }
  {
    key = $1 SUBSEP $3 SUBSEP $4
    if (FILENAME == ARGV[1]) {
      order[++nkeys] = key; size[key] = $1; type[key] = $3; op[key] = $4
      wt[key] = $6; wb[key] = $8; ww[key] = $9
      algo[key] = "-"
      if (NF >= 14) { algo[key] = $14; for (j = 15; j <= NF; j++) algo[key] = algo[key] " " $j }
    } else {
      mt[key] = $6; mb[key] = $8; mw[key] = $9
      if (!(key in size)) { order[++nkeys] = key; size[key] = $1; type[key] = $3; op[key] = $4 }
    }
  }
  END {
    f = factor()
    printf "%12s  %8s  %6s  %10s  %10s  %8s  %10s  %10s  %9s  %s\n", "size(B)", "type", "redop",
           "weft busbw", "MPI busbw", "bw ratio", "weft t(us)", "MPI t(us)", "lat ratio", "weft algo"
    print "size_bytes,type,redop,weft_busbw_GBps,mpi_busbw_GBps,busbw_ratio,weft_time_us,mpi_time_us,latency_ratio,weft_wrong,mpi_wrong,weft_algo" > csv
    for (i = 1; i <= nkeys; i++) {
      k = order[i]
      wbw = ""; mbw = ""; bwr = ""; latr = ""
      if ((k in wt) && wt[k] + 0 > 0) wbw = size[k] / (wt[k] * 1e3) * f
      if ((k in mt) && mt[k] + 0 > 0) mbw = size[k] / (mt[k] * 1e3) * f
      if (wbw != "" && mbw != "") { bwr = mt[k] / wt[k]; latr = wt[k] / mt[k] }
      printf "%12s  %8s  %6s  %10s  %10s  %8s  %10s  %10s  %9s  %s\n", size[k], type[k], op[k],
             wbw == "" ? "-" : sprintf("%.3f", wbw), mbw == "" ? "-" : sprintf("%.3f", mbw),
             fmt_ratio(bwr), (k in wt) ? wt[k] : "-", (k in mt) ? mt[k] : "-", fmt_ratio(latr),
             (k in algo) ? algo[k] : "-"
      printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", size[k], type[k], op[k],
             wbw == "" ? "" : sprintf("%.6f", wbw), mbw == "" ? "" : sprintf("%.6f", mbw),
             bwr == "" ? "" : sprintf("%.4f", bwr), (k in wt) ? wt[k] : "", (k in mt) ? mt[k] : "",
             latr == "" ? "" : sprintf("%.4f", latr), (k in ww) ? ww[k] : "", (k in mw) ? mw[k] : "",
             (k in algo) ? algo[k] : "" > csv
    }
  }' "$weft_log" "$mpi_log"

for f in "$weft_log" "$mpi_log"; do
  if grep -q '^# Out of bounds values : [1-9]' "$f"; then
    echo "compare.sh: wrong results reported in $f" >&2
    status=1
  fi
done
echo "# csv: $csv (raw: $weft_log, $mpi_log)"

if [[ -n "$plot" ]]; then
  if gnuplot <<EOF
set terminal pngcairo size 1000,600 noenhanced
set output '$plot'
set datafile separator ','
set logscale x 2
set format x '%.0b %BB'
set xlabel 'message size'
set ylabel 'busbw (GB/s)'
set key top left
set grid
set title '$coll, $np ranks: weft vs Open MPI (out-of-place busbw)'
plot '$csv' every ::1 using 1:4 with linespoints title 'weft', \
     '' every ::1 using 1:5 with linespoints title 'Open MPI'
EOF
  then
    echo "# plot: $plot"
  else
    echo "compare.sh: gnuplot failed; no plot written (the CSV has the data)" >&2
    status=1
  fi
fi
exit $status
