#!/usr/bin/env bash
# Bitwise identity across devices: the same random (order-dependent) float
# sums on 4 ranks, once with every rank on host memory and once with the
# ranks on two PoCL devices (two drivers: "basic" and "pthread", standing
# for two vendors) and host memory. Every fprandom result (fp32, fp64, fp16,
# bf16; in and out of place; ring, tree, rhd, slots) must have the same bits
# in both runs.
#   check_device_bits.sh TEST_COLL_MATRIX
set -euo pipefail
matrix=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export POCL_DEVICES="basic pthread"
"$matrix" -n 4 -c fprandom -Y "$work/host.bits"
"$matrix" -n 4 -c fprandom -D opencl:0:0,opencl:0:1,host -Y "$work/mixed.bits"
n=$(wc -l <"$work/host.bits")
[[ $n -gt 0 ]] || { echo "no fprandom results were written"; exit 1; }
if ! diff "$work/host.bits" "$work/mixed.bits"; then
  echo "FAILED: results on devices differ from the all-host results (lines above)"
  exit 1
fi
echo "ok: $n fprandom results bitwise identical, all host vs opencl(basic) + opencl(pthread) + host"
