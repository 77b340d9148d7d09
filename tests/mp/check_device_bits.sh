#!/usr/bin/env bash
# Bitwise identity across devices: the same random (order-dependent) float
# sums, and the NaN-laden cases (whose NaN payloads tell which operand a
# kernel took first), once with every rank on host memory and once on
# devices; every result must have the same bits in both runs.
#   check_device_bits.sh TEST_COLL_MATRIX            4 ranks on two PoCL devices
#       (two drivers: "basic" and "pthread", standing for two vendors) and host
#       memory; fprandom (fp32, fp64, fp16, bf16; in and out of place; ring,
#       tree, rhd, slots) against the all-host run
#   check_device_bits.sh TEST_COLL_MATRIX kernels    3 ranks, OpenCL, host,
#       OpenCL, reducing with the device's kernels (WEFT_DEVICE_REDUCE=on,
#       -R: each OpenCL rank must have run some); fprandom and nanpay on ring,
#       tree and rhd against the all-host run
set -euo pipefail
matrix=$1
mode=${2:-devices}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $mode == kernels ]]; then
  args=(-n 3 -c fprandom,nanpay -a ring,tree,rhd)
  "$matrix" "${args[@]}" -Y "$work/host.bits"
  WEFT_DEVICE_REDUCE=on "$matrix" "${args[@]}" -D opencl,host -R -Y "$work/mixed.bits"
  what="opencl with its reduce kernels + host"
else
  export POCL_DEVICES="basic pthread"
  "$matrix" -n 4 -c fprandom -Y "$work/host.bits"
  "$matrix" -n 4 -c fprandom -D opencl:0:0,opencl:0:1,host -Y "$work/mixed.bits"
  what="opencl(basic) + opencl(pthread) + host"
fi
n=$(wc -l <"$work/host.bits")
[[ $n -gt 0 ]] || { echo "no results were written"; exit 1; }
if ! diff "$work/host.bits" "$work/mixed.bits"; then
  echo "FAILED: results on devices differ from the all-host results (lines above)"
  exit 1
fi
echo "ok: $n results bitwise identical, all host vs $what"
