#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang) and runs each for a
# while, starting from the seed corpus in the repo; new inputs go to a work
# corpus, crashes to the work directory (a crash file is a finding: keep it
# in tests/fuzz/corpus/<harness>.d once fixed, so that the corpus replay in
# ctest guards it).
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [-w WORKDIR] [HARNESS...]
#     -t  seconds per harness (default 60; the CI variant uses less)
#     -j  parallel fuzzing processes per harness (libFuzzer -fork; default 1)
#     -w  work directory (default build-fuzz/work): corpora, crashes, logs
#   harnesses: fuzz_topo fuzz_codec fuzz_text fuzz_aead (default: all)
#
# Prints, per harness, the executions run and whether it found anything;
# exits 1 on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=60 jobs=1 work=
while getopts "t:j:w:" o; do
  case $o in
    t) secs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    w) work=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(fuzz_topo fuzz_codec fuzz_text fuzz_aead)
build=build-fuzz
work=${work:-$build/work}
CC=clang cmake -S . -B "$build" -DWEFT_FUZZ=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF \
  -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_TORCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]}" >/dev/null
status=0
for h in "${harnesses[@]}"; do
  mkdir -p "$work/$h/corpus" "$work/$h/crashes"
  log=$work/$h/log
  # -max_total_time bounds the run; the seed corpus is read, not written
  par=()
  [[ $jobs -gt 1 ]] && par=(-fork="$jobs")
  if "$build/tests/fuzz/$h" "${par[@]}" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$work/$h/crashes/" "$work/$h/corpus" "tests/fuzz/corpus/$h.d" >"$log" 2>&1; then
    runs=$( (grep -h 'stat::number_of_executed_units' "$log" || true) | awk '{s += $2} END {print s + 0}')
    echo "$h: $runs executions in ${secs}s, no finding"
  else
    echo "$h: FINDING (see $log and $work/$h/crashes)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
