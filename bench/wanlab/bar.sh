#!/usr/bin/env bash
# bar.sh: the multi-site benchmark of docs/performance.md, in one run.
# Two emulated sites x 2 ranks (bench/wanlab), WAN shaped to RATE each way,
# for each added RTT: a 64 MiB fp32 allreduce with flat Open MPI
# (MPI_Allreduce over the same namespaces and link) and with weft uncoded,
# bf16 and int8, each REPS times. A run is WARMUP untimed calls (default
# none: the first calls, on fresh TCP connections, count) and ITERS timed
# ones. Prints per case the best run's time per call and the mean over all
# runs, the speed-up over Open MPI (best against best), the lossless bound
# (each site sends N bytes of its encoding each way: N x ratio / rate) as a
# fraction of the best and of the mean time, and the WAN utilization (bytes
# tbf put on the wire from site 0 per call / rate / mean time of the
# out-of-place and in-place calls, best run). w.best and w.mean hold the same
# times against the wire bound: the lossless time at the MTU's TCP/IP/Ethernet
# framing (a frame of MTU + 14 bytes carries MTU - 52 payload bytes with TCP
# timestamps, MTU - 40 without), the most any TCP transfer can reach on the lab.
#
#   bench/wanlab/bar.sh [--build DIR] [--rate 1gbit] [--rtt "0 40 134"] [--reps 3]
#                       [--size 64M] [--iters 10] [--warmup 0] [--mtu 1500]
#                       [--codecs "none bf16 int8"] [--no-mpi] [--plot FILE.png]
# --plot: also a PNG of the best times, one cluster of bars per RTT (needs gnuplot).
# --no-mpi: weft only (vs MPI and the plot's MPI bars are left out).
# weft's variables pass through, e.g. WEFT_WAN_WARMUP_MS=0 bar.sh for cold streams.
# Needs root (network namespaces). Leaves no lab behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=build RATE=1gbit RTTS="0 40 134" REPS=3 SIZE=64M ITERS=10 WARMUP=0 MTU=1500 CODECS="none bf16 int8"
PREFIX=wlbar PLOT= MPI=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --rtt) RTTS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --mtu) MTU=$2; shift 2 ;;
    --codecs) CODECS=$2; shift 2 ;;
    --plot) PLOT=$2; shift 2 ;;
    --no-mpi) MPI=0; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bar.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$PLOT" ] && [ "$MPI" = 0 ]; then
  echo "bar.sh: --plot needs the MPI case (drop --no-mpi)" >&2
  exit 2
fi
if [ -n "$PLOT" ] && ! command -v gnuplot >/dev/null; then
  echo "bar.sh: --plot needs gnuplot (Debian: apt-get install gnuplot-nox)" >&2
  exit 2
fi
DATA=$(mktemp)
L="bench/wanlab/wanlab.sh --prefix $PREFIX --build $BUILD"
trap '$L down >/dev/null 2>&1 || true; rm -f "$DATA"' EXIT

rate_bps() { # 1gbit, 200mbit -> bits per second
  local v=${1%bit} m=1
  case "$v" in *g|*G) m=1000000000; v=${v%?} ;; *m|*M) m=1000000; v=${v%?} ;; *k|*K) m=1000; v=${v%?} ;; esac
  echo $((v * m))
}
BPS=$(rate_bps "$RATE")
wire() { $L stats 2>/dev/null | awk '/s0->wan/{print $2}'; }

# one case: prints "seconds wire_bytes_per_call mean_seconds all_runs_mean" of
# the best of REPS runs (time: out-of-place; mean: of out-of-place and
# in-place, which the wire bytes cover) and the out-of-place time averaged
# over all runs
measure() { # kind codec
  local kind=$1 codec=$2 best="" bestw=0 bestm=0 sum=0
  for _ in $(seq "$REPS"); do
    local b0 b1 out t tm calls
    b0=$(wire)
    if [ "$kind" = mpi ]; then
      out=$($L mpi --ranks-per-site 2 -- "$BUILD/bench/weft-mpi-perf" allreduce -b "$SIZE" -e "$SIZE" \
            -n "$ITERS" -w "$WARMUP" -c 0 2>&1) || { echo "$out" >&2; return 1; }
      calls=$((2 * (ITERS + WARMUP)))
    else
      out=$(WEFT_CODEC=$codec $L run --ranks-per-site 2 -- "$BUILD/bench/weft-perf" allreduce -b "$SIZE" -e "$SIZE" \
            -n "$ITERS" -w "$WARMUP" -c 1 -z 1 2>&1) || { echo "$out" >&2; return 1; }
      if ! echo "$out" | grep -q "Out of bounds values : 0 OK"; then echo "$out" >&2; return 1; fi
      calls=$((2 * (ITERS + WARMUP + 1))) # warmup, iterations and the checked call, out of place and in place
    fi
    b1=$(wire)
    t=$(echo "$out" | awk '$1 ~ /^[0-9]+$/ && NF > 8 {print $6; exit}')
    # (printf: awk's print turns a mean of 1e6 us or more into 1.2e+06, which bc refuses)
    tm=$(echo "$out" | awk '$1 ~ /^[0-9]+$/ && NF > 8 {printf "%.1f\n", ($6 + $10) / 2; exit}')
    local w=$(((b1 - b0) / calls))
    sum=$(echo "$sum + $t" | bc -l)
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$t; bestw=$w; bestm=$tm; fi
  done
  echo "$best $bestw $bestm $(echo "$sum / $REPS" | bc -l)"
}

echo "# weft multi-site bar: 2 sites x 2 ranks, $SIZE fp32 allreduce, WAN $RATE each way, MTU $MTU;" \
  "$REPS runs of $WARMUP untimed + $ITERS timed calls"
echo "# best = the best run's time per call, mean = over all runs; bound = the lossless time (each site sends" \
  "its N encoded bytes each way) / time; w.best, w.mean = the wire bound (the same bytes in MTU-sized TCP" \
  "frames) / time; util = wire bytes / rate / time"
printf "%-8s %-10s %10s %10s %9s %7s %7s %7s %7s %7s\n" "RTT(ms)" "case" "best(ms)" "mean(ms)" "vs MPI" "bound" "b.mean" \
  "w.best" "w.mean" "util"
for rtt in $RTTS; do
  $L up --sites 2 --rate "$RATE" --rtt-ms "$rtt" --mtu "$MTU" >/dev/null
  # payload bytes per MTU-sized frame: IPv4 and TCP headers, TCP timestamps where the site's kernel uses them
  ts=$(ip netns exec "$PREFIX-s0" sysctl -n net.ipv4.tcp_timestamps 2>/dev/null || echo 1)
  frame=$(echo "($MTU + 14) / ($MTU - 40 - ($ts != 0) * 12)" | bc -l)
  tm=0
  if [ "$MPI" = 1 ]; then
    read -r tm wm mm am < <(measure mpi none)
    printf "%-8s %-10s %10.1f %10.1f %9s %7s %7s %7s %7s %6.1f%%\n" "$rtt" "open-mpi" "$(echo "$tm / 1000" | bc -l)" \
      "$(echo "$am / 1000" | bc -l)" "1.00x" "-" "-" "-" "-" "$(echo "$wm * 8 * 100 / $BPS / ($mm / 1000000)" | bc -l)"
  fi
  row="$rtt $(echo "$tm / 1000" | bc -l)"
  for codec in $CODECS; do
    read -r tw ww mw aw < <(measure weft "$codec")
    row="$row $(echo "$tw / 1000" | bc -l)"
    ratio=$(case $codec in none) echo 1 ;; fp16|bf16) echo 0.5 ;; int8) echo 0.25390625 ;; *) echo 1 ;; esac)
    bytes=$(numfmt --from=iec "$SIZE")
    vs=-
    [ "$MPI" = 1 ] && vs=$(printf "%.2fx" "$(echo "$tm / $tw" | bc -l)")
    lossless=$(echo "$bytes * $ratio * 8 * 100 / $BPS" | bc -l) # 100 x the lossless time in s: over a time in s, a percentage
    printf "%-8s %-10s %10.1f %10.1f %9s %6.1f%% %6.1f%% %6.1f%% %6.1f%% %6.1f%%\n" "$rtt" "weft-$codec" \
      "$(echo "$tw / 1000" | bc -l)" "$(echo "$aw / 1000" | bc -l)" "$vs" \
      "$(echo "$lossless / ($tw / 1000000)" | bc -l)" \
      "$(echo "$lossless / ($aw / 1000000)" | bc -l)" \
      "$(echo "$lossless * $frame / ($tw / 1000000)" | bc -l)" \
      "$(echo "$lossless * $frame / ($aw / 1000000)" | bc -l)" \
      "$(echo "$ww * 8 * 100 / $BPS / ($mw / 1000000)" | bc -l)"
  done
  echo "$row" >>"$DATA"
  $L down >/dev/null
done
if [ -n "$PLOT" ]; then
  cols="using 2:xtic(1) title 'Open MPI'"
  k=3
  for codec in $CODECS; do cols="$cols, '' using $k title 'weft $codec'"; k=$((k + 1)); done
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,500 noenhanced
set output '$PLOT'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set xlabel 'added RTT (ms)'
set ylabel 'time per call (ms, best of $REPS)'
set title '$SIZE fp32 allreduce, 2 sites x 2 ranks, WAN $RATE each way, MTU $MTU'
set key top left
set grid ytics
set yrange [0:*]
plot '$DATA' $cols
GNUPLOT
  echo "# plot: $PLOT"
fi
