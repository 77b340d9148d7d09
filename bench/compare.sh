#!/usr/bin/env bash
# Runs weft-perf and its peers — weft-mpi-perf (Open MPI), weft-gloo-perf
# (Gloo) or both — over the same sizes in one invocation and prints them side
# by side; also writes a CSV and, with --plot, a busbw-vs-size chart (gnuplot).
#
#   bench/compare.sh [-np N] <coll> [--peer mpi|gloo|all] [-b MIN] [-e MAX] [-f FACTOR]
#                    [-i STEP] [-n ITERS] [-w WARMUP] [-c 0/1] [-d TYPE] [-o OP] [-r ROOT]
#                    [-a AGG] [-z 0/1] [-A GLOO_ALGOS] [--build DIR] [--csv FILE] [--plot FILE.png]
#
#   -np N        ranks for all (default 2)
#   coll         allreduce allgather reducescatter broadcast reduce alltoall sendrecv
#                (Gloo: allreduce allgather reducescatter broadcast)
#   --peer P     mpi (default), gloo, or all (both)
#   -b -e -f -i -n -w -c -d -o -r -a   passed to every benchmark (nccl-tests meaning)
#   -z 0/1       weft-perf's call mode; default 1, blocking calls, as the peers' always are
#                (-z 0 times weft on a stream against blocking peers: not like for like)
#   -A L         Gloo's algorithms (weft-gloo-perf -A; default all, the best one per size)
#   --build DIR  where the binaries are: DIR/bench/weft-perf or DIR/weft-perf (default ./build)
#   --csv FILE   CSV output (default compare-<coll>-np<N>.csv); the raw outputs of
#                every run are kept next to it as FILE.weft.log, FILE.mpi.log, FILE.gloo.log
#   --plot FILE  PNG of busbw vs size (log x); needs gnuplot (checked before anything runs)
#
# Columns: busbw from the out-of-place runs; for each peer, "bw ratio" = weft
# busbw / peer busbw (= peer time / weft time, computed from the times for
# precision at small sizes) and "lat ratio" = weft time / peer time (< 1: weft
# is faster). With Gloo the last column names Gloo's algorithm of the row (the
# fastest out of place when several ran: the ratios are against the best one).
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
peer=mpi
gloo_only=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -np) np="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --csv) csv="$2"; shift 2 ;;
    --plot) plot="$2"; shift 2 ;;
    --peer) peer="$2"; shift 2 ;;
    -A) gloo_only+=("$1" "$2"); shift 2 ;;
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
case "$peer" in
  mpi) peers=(mpi) ;;
  gloo) peers=(gloo) ;;
  all) peers=(mpi gloo) ;;
  *) echo "compare.sh: --peer is mpi, gloo or all, not '$peer'" >&2; exit 2 ;;
esac
if [[ " ${peers[*]} " == *" gloo "* ]] && ! [[ "$coll" =~ ^(allreduce|allgather|reducescatter|broadcast)$ ]]; then
  echo "compare.sh: $coll is not measured on Gloo (allreduce allgather reducescatter broadcast)" >&2
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
bins=()
for p in "${peers[@]}"; do
  case "$p" in
    mpi)
      mpi_bin=$(find_bin weft-mpi-perf) || {
        echo "compare.sh: weft-mpi-perf not found under $build (was MPI found at configure time?)" >&2
        exit 2
      }
      command -v mpirun >/dev/null || { echo "compare.sh: mpirun not in PATH" >&2; exit 2; } ;;
    gloo)
      gloo_bin=$(find_bin weft-gloo-perf) || {
        echo "compare.sh: weft-gloo-perf not found under $build (was Gloo found at configure time? Debian: libgloo-dev)" >&2
        exit 2
      } ;;
  esac
done

[[ -n "$csv" ]] || csv="compare-${coll}-np${np}.csv"
weft_log="${csv%.csv}.weft.log"
logs=()
for p in "${peers[@]}"; do logs+=("${csv%.csv}.$p.log"); done

status=0
echo "# weft: $weft_bin -np $np $coll ${common[*]} ${weft_only[*]}"
if ! "$weft_bin" -np "$np" "$coll" "${common[@]}" "${weft_only[@]}" >"$weft_log"; then
  echo "compare.sh: weft-perf failed (output in $weft_log)" >&2
  status=1
fi
for p in "${peers[@]}"; do
  log="${csv%.csv}.$p.log"
  if [[ "$p" == mpi ]]; then
    echo "# mpi:  mpirun -np $np $mpi_bin $coll ${common[*]}"
    run=(mpirun --allow-run-as-root --oversubscribe -np "$np" "$mpi_bin" "$coll" "${common[@]}")
  else
    echo "# gloo: $gloo_bin -np $np $coll ${common[*]} ${gloo_only[*]}"
    run=("$gloo_bin" -np "$np" "$coll" "${common[@]}" "${gloo_only[@]}")
  fi
  if ! "${run[@]}" >"$log"; then
    echo "compare.sh: weft-$p-perf failed (output in $log)" >&2
    status=1
  fi
done
grep -hE '^# (weft |MPI: |Gloo: )' "$weft_log" "${logs[@]}" 2>/dev/null || true

# Data rows: size count type redop root | time algbw busbw #wrong (out-of-place) |
# time algbw busbw #wrong (in-place) | [algo]. Joined on size,type,redop. With
# one peer the table and CSV keep the two-column layout (bw ratio, lat ratio);
# with several, each peer has its own pair.
awk -v coll="$coll" -v np="$np" -v csv="$csv" -v peers="${peers[*]}" '
  function factor() {
    if (coll == "allreduce") return 2.0 * (np - 1) / np
    if (coll == "allgather" || coll == "reducescatter" || coll == "alltoall") return (np - 1) / np
    return 1.0
  }
  # two significant digits below 0.1 (weft vs Gloo at small sizes is 0.003)
  function fmt_ratio(x) { return x == "" ? "-" : x < 0.0995 ? sprintf("%.2g", x) : sprintf("%.2f", x) }
  function label(p) { return p == "mpi" ? "MPI" : "Gloo" }
  function rest(from,   j, r) { r = $from; for (j = from + 1; j <= NF; j++) r = r " " $j; return r }
  BEGIN {
    npeers = split(peers, pn, " ")
    for (p = 1; p <= npeers; p++) hasalgo[p] = pn[p] == "gloo"
    for (i = 1; i < ARGC; i++) fileno[ARGV[i]] = i  # an empty log has no first line to count
  }
  FNR == 1 { file = fileno[FILENAME] }
  /^#/ || NF < 13 { next }
  {
    key = $1 SUBSEP $3 SUBSEP $4
    if (!(key in size)) { order[++nkeys] = key; size[key] = $1; type[key] = $3; op[key] = $4 }
    if (file == 1) {
      wt[key] = $6; ww[key] = $9
      algo[key] = NF >= 14 ? rest(14) : "-"
    } else {
      p = file - 1
      pt[p, key] = $6; pw[p, key] = $9
      if (NF >= 14) palgo[p, key] = rest(14)
    }
  }
  END {
    f = factor()
    hdr = sprintf("%12s  %8s  %6s  %10s", "size(B)", "type", "redop", "weft busbw")
    chdr = "size_bytes,type,redop,weft_busbw_GBps"
    for (p = 1; p <= npeers; p++) {
      hdr = hdr sprintf("  %10s  %8s", label(pn[p]) " busbw", npeers > 1 ? label(pn[p]) " bw" : "bw ratio")
      chdr = chdr "," pn[p] "_busbw_GBps," (npeers > 1 ? pn[p] "_" : "") "busbw_ratio"
    }
    hdr = hdr sprintf("  %10s", "weft t(us)"); chdr = chdr ",weft_time_us"
    for (p = 1; p <= npeers; p++) {
      hdr = hdr sprintf("  %10s  %9s", label(pn[p]) " t(us)", npeers > 1 ? label(pn[p]) " lat" : "lat ratio")
      chdr = chdr "," pn[p] "_time_us," (npeers > 1 ? pn[p] "_" : "") "latency_ratio"
    }
    chdr = chdr ",weft_wrong"
    for (p = 1; p <= npeers; p++) chdr = chdr "," pn[p] "_wrong"
    hdr = hdr "  weft algo"; chdr = chdr ",weft_algo"
    for (p = 1; p <= npeers; p++)
      if (hasalgo[p]) { hdr = hdr "  |  " label(pn[p]) " algo"; chdr = chdr "," pn[p] "_algo" }
    print hdr
    print chdr > csv
    for (i = 1; i <= nkeys; i++) {
      k = order[i]
      wbw = ""
      if ((k in wt) && wt[k] + 0 > 0) wbw = size[k] / (wt[k] * 1e3) * f
      line = sprintf("%12s  %8s  %6s  %10s", size[k], type[k], op[k], wbw == "" ? "-" : sprintf("%.3f", wbw))
      row = size[k] "," type[k] "," op[k] "," (wbw == "" ? "" : sprintf("%.6f", wbw))
      for (p = 1; p <= npeers; p++) {
        pbw = ""; bwr[p] = ""; latr[p] = ""
        if (((p, k) in pt) && pt[p, k] + 0 > 0) pbw = size[k] / (pt[p, k] * 1e3) * f
        if (wbw != "" && pbw != "") { bwr[p] = pt[p, k] / wt[k]; latr[p] = wt[k] / pt[p, k] }
        line = line sprintf("  %10s  %8s", pbw == "" ? "-" : sprintf("%.3f", pbw), fmt_ratio(bwr[p]))
        row = row "," (pbw == "" ? "" : sprintf("%.6f", pbw)) "," (bwr[p] == "" ? "" : sprintf("%.4f", bwr[p]))
      }
      line = line sprintf("  %10s", (k in wt) ? wt[k] : "-"); row = row "," ((k in wt) ? wt[k] : "")
      for (p = 1; p <= npeers; p++) {
        line = line sprintf("  %10s  %9s", ((p, k) in pt) ? pt[p, k] : "-", fmt_ratio(latr[p]))
        row = row "," (((p, k) in pt) ? pt[p, k] : "") "," (latr[p] == "" ? "" : sprintf("%.4f", latr[p]))
      }
      row = row "," ((k in ww) ? ww[k] : "")
      for (p = 1; p <= npeers; p++) row = row "," (((p, k) in pw) ? pw[p, k] : "")
      line = line "  " ((k in algo) ? algo[k] : "-"); row = row "," ((k in algo) ? algo[k] : "")
      for (p = 1; p <= npeers; p++)
        if (hasalgo[p]) {
          line = line "  |  " (((p, k) in palgo) ? palgo[p, k] : "-")
          row = row "," (((p, k) in palgo) ? palgo[p, k] : "")
        }
      print line
      print row > csv
    }
  }' "$weft_log" "${logs[@]}"

for f in "$weft_log" "${logs[@]}"; do
  if grep -q '^# Out of bounds values : [1-9]' "$f"; then
    echo "compare.sh: wrong results reported in $f" >&2
    status=1
  fi
done
echo "# csv: $csv (raw: $weft_log ${logs[*]})"

if [[ -n "$plot" ]]; then
  # CSV columns: 4 weft busbw, then busbw and ratio per peer (5, 7, ...).
  curves="'$csv' every ::1 using 1:4 with linespoints title 'weft'"
  names="Open MPI"
  col=5
  for p in "${peers[@]}"; do
    name="Open MPI"; [[ "$p" == gloo ]] && name="Gloo (best algorithm)"
    curves+=", '' every ::1 using 1:$col with linespoints title '$name'"
    col=$((col + 2))
  done
  [[ "$peer" == gloo ]] && names="Gloo"
  [[ "$peer" == all ]] && names="Open MPI and Gloo"
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
set title '$coll, $np ranks: weft vs $names (out-of-place busbw)'
plot $curves
EOF
  then
    echo "# plot: $plot"
  else
    echo "compare.sh: gnuplot failed; no plot written (the CSV has the data)" >&2
    status=1
  fi
fi
exit $status
