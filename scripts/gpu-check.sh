#!/usr/bin/env bash
# Checks weft on a machine with an NVIDIA GPU (no CUDA toolkit needed: the
# cuda backend opens libcuda.so.1 at run time):
#   1. builds the cuda tests and weft-perf;
#   2. runs the cuda backend's tests (ctest label "cuda"); when nvidia-smi
#      sees a GPU they must run on it, a SKIP is a failure
#      (WEFT_CUDA_REQUIRE=1 turns the test's SKIP into a failure);
#   3. runs the collective matrix on CUDA buffers (every collective, dtype,
#      op, count and algorithm; 2 ranks on the GPU, then mixed with a host
#      rank), exact checks on every rank;
#   4. runs weft-perf on host buffers and on CUDA buffers (-D cuda), alone
#      and mixed.
#
#   scripts/gpu-check.sh [BUILD_DIR]      (default build-gpu)
#
# Every step is bounded by a timeout. Exit 0 when all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
jobs=$(nproc)

gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && timeout 60 nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  gpu=1
  timeout 60 nvidia-smi -L
else
  echo "gpu-check: nvidia-smi sees no GPU: the CUDA tests may SKIP"
fi

echo "== build ($build)"
timeout 300 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
timeout 1200 cmake --build "$build" -j"$jobs" --target test_device_cuda test_device_cuda_load \
  weft-emu-cuda weft-fake-cuda weft-perf test_coll_matrix

echo "== cuda backend tests"
[ "$gpu" = 1 ] && export WEFT_CUDA_REQUIRE=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ctest --test-dir "$build" -L cuda --output-on-failure --timeout 300 2>&1 | tee "$log" || status=1
if [ "$gpu" = 1 ] && grep -q 'Skipped' "$log"; then
  echo "gpu-check: a CUDA test skipped although nvidia-smi sees a GPU" >&2
  status=1
fi
[ "$status" = 0 ] || { echo "gpu-check: CUDA tests FAILED" >&2; exit 1; }

echo "== collective matrix on CUDA buffers"
timeout 600 "$build"/tests/mp/test_coll_matrix -n 2 -D cuda -L 580 || exit 1
timeout 600 "$build"/tests/mp/test_coll_matrix -n 3 -D cuda,host -B 0 -L 580 || exit 1

echo "== weft-perf, host buffers (baseline)"
timeout 300 "$build"/bench/weft-perf -np 2 allreduce -b 1M -e 64M -f 4 -c 1
echo "== weft-perf, CUDA device buffers (staged through pinned host memory)"
timeout 300 "$build"/bench/weft-perf -np 2 allreduce -D cuda -b 1M -e 64M -f 4 -c 1 || exit 1
echo "== weft-perf, mixed: rank 0 on CUDA, rank 1 on host memory"
timeout 300 "$build"/bench/weft-perf -np 2 allreduce -D cuda,host -b 1M -e 64M -f 4 -c 1 || exit 1

echo "gpu-check: ok"
