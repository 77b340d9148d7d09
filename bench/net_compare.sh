#!/usr/bin/env bash
# Point-to-point through weft's UCX and libfabric transports next to the
# native tools on the same machine, in the same run, same sizes:
#   ucx: weft-net-perf -m bw   vs  ucx_perftest -t tag_bw  (streaming bandwidth)
#        weft-net-perf 8 B     vs  ucx_perftest -t tag_lat (one-way latency)
#   ofi: weft-net-perf pingpong vs fi_pingpong -e rdm -m tagged, per provider
# Prints one row per size with the ratio weft / native (bandwidth: higher is
# better; latency: lower is better).
#
#   bench/net_compare.sh [BUILD_DIR] [--sizes "1M 4M 16M 64M"] [--providers "tcp;ofi_rxm shm"]
set -euo pipefail
build=${1:-build}
[[ $# -gt 0 ]] && shift
sizes="1M 4M 16M 64M"
providers="tcp;ofi_rxm shm"
while [[ $# -gt 0 ]]; do
  case $1 in
  --sizes) sizes=$2; shift 2 ;;
  --providers) providers=$2; shift 2 ;;
  *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
perf=$build/bench/weft-net-perf
[[ -x $perf ]] || { echo "net_compare: $perf not built" >&2; exit 1; }

bytes() { numfmt --from=iec "$1"; }
port() { echo $((20000 + RANDOM % 20000)); }
# iterations: about 1 GiB moved per size, at least 20
iters() { local n=$(((1 << 30) / $1)); ((n < 20)) && n=20; ((n > 2000)) && n=2000; echo $n; }
weft_col() { awk '!/^#/ {print $'"$1"'}'; }
row() { awk -v s="$1" -v w="$2" -v n="$3" -v u="$4" 'BEGIN { printf "%-10s %-16s %12.3f %12.3f %8.2f  %s\n", s, "", w, n, (n > 0 ? w / n : 0), u }'; }

has_net() { "$perf" -n "$1" -b 8 -e 8 -i 1 >/dev/null 2>&1; }

if has_net ucx && command -v ucx_perftest >/dev/null; then
  echo "== ucx: weft-net-perf -m bw -w 32  vs  ucx_perftest -t tag_bw (GB/s), then 8-byte latency (us)"
  printf "%-10s %-16s %12s %12s %8s\n" size "" weft native ratio
  for s in $sizes; do
    b=$(bytes "$s"); n=$(iters "$b"); p=$(port)
    w=$("$perf" -n ucx -m bw -w 32 -b "$b" -e "$b" -i "$((n / 32 + 5))" | weft_col 4)
    ucx_perftest -p "$p" -t tag_bw -s "$b" -n "$n" -w 10 >/dev/null 2>&1 &
    sleep 0.5
    mib=$(ucx_perftest 127.0.0.1 -p "$p" -t tag_bw -s "$b" -n "$n" -w 10 2>/dev/null | awk '/Final:/ {print $6}')
    wait
    row "$s" "$w" "$(awk -v m="$mib" 'BEGIN { print m * 1048576 / 1e9 }')" "GB/s"
  done
  p=$(port)
  w=$("$perf" -n ucx -m pingpong -b 8 -e 8 -i 20000 | weft_col 3)
  ucx_perftest -p "$p" -t tag_lat -s 8 -n 20000 >/dev/null 2>&1 &
  sleep 0.5
  u=$(ucx_perftest 127.0.0.1 -p "$p" -t tag_lat -s 8 -n 20000 2>/dev/null | awk '/Final:/ {print $4}')
  wait
  row 8 "$w" "$u" "us (lower is better)"
fi

if has_net ofi && command -v fi_pingpong >/dev/null; then
  for prov in $providers; do
    WEFT_OFI_PROVIDER=$prov has_net ofi || { echo "== ofi provider $prov: not usable here, skipped"; continue; }
    echo "== ofi provider $prov: weft-net-perf pingpong  vs  fi_pingpong -e rdm -m tagged (GB/s), then 8-byte latency (us)"
    printf "%-10s %-16s %12s %12s %8s\n" size "" weft native ratio
    for s in $sizes 8; do
      b=$(bytes "$s"); n=$(iters "$b"); ((b <= 64)) && n=20000; p=$(port)
      out=$(WEFT_OFI_PROVIDER=$prov "$perf" -n ofi -m pingpong -b "$b" -e "$b" -i "$n" | awk '!/^#/')
      timeout 120 fi_pingpong -p "$prov" -e rdm -m tagged -S "$b" -I "$n" -B "$p" >/dev/null 2>&1 &
      sleep 0.5
      nat=$(timeout 120 fi_pingpong -p "$prov" -e rdm -m tagged -S "$b" -I "$n" -P "$p" 127.0.0.1 2>/dev/null | tail -1)
      wait || true
      if ((b <= 64)); then
        row "$s" "$(echo "$out" | awk '{print $3}')" "$(echo "$nat" | awk '{print $7}')" "us (lower is better)"
      else
        row "$s" "$(echo "$out" | awk '{print $4}')" "$(echo "$nat" | awk '{print $6 / 1000}')" "GB/s"
      fi
    done
  done
fi
