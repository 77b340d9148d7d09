#!/usr/bin/env bash
# Main job: builds weft and runs a 4-rank allreduce benchmark on this machine
# (ranks are forked locally; no configuration needed), checking every result.
# Extra arguments go to weft-perf, e.g. `bash scripts/demo.sh -e 16M`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/bench/weft-perf -np 4 allreduce -b 8 -e 64M -f 2 -c 1 "$@"
