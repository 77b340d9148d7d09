#!/usr/bin/env bash
# Does the tuner's cost model rank the allreduce algorithms the way they
# measure? On one machine, ranks are put on fake nodes (default 2 nodes x 2
# ranks: shm inside a node, tcp loopback between), the two links are
# measured with weft-net-perf and written into a topology file, weft-topo
# explain predicts every algorithm at every size from that file, and
# weft-perf measures each algorithm forced with WEFT_ALGO, in the same run.
#
#   bench/topo_rank.sh [BUILD_DIR] [--layout 2+2] [--sizes "2M 8M 32M"] [-n ITERS]
# Prints, per size, predicted and measured times and both rankings.
set -euo pipefail
build=${1:-build}
[[ $# -gt 0 ]] && shift
layout=2+2 sizes="2M 8M 32M" iters=10
while [[ $# -gt 0 ]]; do
  case $1 in
  --layout) layout=$2; shift 2 ;;
  --sizes) sizes=$2; shift 2 ;;
  -n) iters=$2; shift 2 ;;
  *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
IFS=+ read -r -a groups <<<"$layout"
nranks=0
for g in "${groups[@]}"; do nranks=$((nranks + g)); done
nnodes=${#groups[@]}
per_node=${groups[0]}
for g in "${groups[@]}"; do [[ $g == "$per_node" ]] || { echo "topo_rank: equal node sizes only" >&2; exit 2; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. the two links, as weft's transports see them
link() { # net -> "bandwidth_GBps latency_us"
  local bw lat
  bw=$("$build/bench/weft-net-perf" -n "$1" -m bw -b 16M -e 16M | awk '!/^#/ {print $4}')
  lat=$("$build/bench/weft-net-perf" -n "$1" -b 8 -e 8 -i 5000 | awk '!/^#/ {print $3}')
  echo "$bw $lat"
}
read -r shm_bw shm_lat < <(link shm)
read -r tcp_bw tcp_lat < <(link tcp)
cat >"$work/lab.yaml" <<EOF
# measured on this machine by bench/topo_rank.sh
version: 1
defaults:
  node_link: {bandwidth: ${shm_bw}GB/s, latency: ${shm_lat}us, transport: shm}
  site_link: {bandwidth: ${tcp_bw}GB/s, latency: ${tcp_lat}us, transport: tcp}
sites:
  - name: lab
    nodes: ["node[0-$((nnodes - 1))]"]
EOF
echo "# links: shm ${shm_bw} GB/s ${shm_lat} us, tcp ${tcp_bw} GB/s ${tcp_lat} us; layout $layout"

# 2. predictions
"$build/weft-topo" explain "$work/lab.yaml" --nranks "$nranks" --ranks-per-node "$per_node" --csv >"$work/pred.csv"

# 3. measurements
algos="ring tree rhd hier"
for a in $algos; do
  for s in $sizes; do
    WEFT_ALGO=$a "$build/bench/weft-perf" -np "$nranks" -G "$layout" allreduce -b "$s" -e "$s" -n "$iters" -w 3 |
      awk -v a="$a" '!/^#/ && NF > 10 {print $1 "," a "," $6 / 1e6}' >>"$work/meas.csv"
  done
done

# 4. side by side
awk -F, -v sizes="$sizes" '
  FNR == 1 && FILENAME ~ /pred/ { next }
  FILENAME ~ /pred/ { pred[$1 "," $2] = $3; next }
  { meas[$1 "," $2] = $3; seen[$1] = 1 }
  function rank(arr, size, out,   n, i, j, t, names) {
    n = split("ring tree rhd hier", names, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
      if (arr[size "," names[j]] < arr[size "," names[i]]) { t = names[i]; names[i] = names[j]; names[j] = t }
    out = names[1]; for (i = 2; i <= n; i++) out = out " < " names[i]; return out
  }
  END {
    printf "%10s %-6s %14s %14s\n", "bytes", "algo", "predicted ms", "measured ms"
    for (s in seen) {
      split("ring tree rhd hier", names, " ")
      for (i = 1; i <= 4; i++) printf "%10s %-6s %14.3f %14.3f\n", s, names[i], pred[s "," names[i]] * 1e3, meas[s "," names[i]] * 1e3
      p = rank(pred, s); m = rank(meas, s)
      printf "%10s predicted: %s\n%10s measured:  %s   %s\n", s, p, "", m, (p == m ? "[same ranking]" : "[differs]")
    }
  }' "$work/pred.csv" "$work/meas.csv"
