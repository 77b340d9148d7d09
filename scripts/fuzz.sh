#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang) and runs each for a
# while, starting from the seed corpus in the repo; new inputs go to a work
# corpus, crashes to the work directory (a crash file is a finding: keep it
# in tests/fuzz/corpus/<harness>.d once fixed, so that the corpus replay in
# ctest guards it).
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [-w WORKDIR] [-c] [HARNESS...]
#     -t  seconds per harness (default 60)
#     -j  parallel fuzzing processes per harness (libFuzzer -fork; default 1)
#     -w  work directory (default build-fuzz/work): corpora, crashes, logs
#     -c  the bounded CI step (scripts/test.sh): skips, saying why, when clang
#         has no libFuzzer; replays the seed corpora (ctest -L fuzz) first,
#         then runs one harness per core at a time
#   harnesses: fuzz_topo fuzz_codec fuzz_text fuzz_aead fuzz_shm fuzz_tcp
#              fuzz_boot_root fuzz_boot_rank fuzz_accept fuzz_ucx_msg fuzz_ofi_msg
#              (default: all; the ucx and ofi ones where the transport is built)
#
# Prints, per harness, the executions run and their rate, and whether it
# found anything; exits 1 on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=60 jobs=1 work= ci=0
while getopts "t:j:w:c" o; do
  case $o in
    t) secs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    w) work=$OPTARG ;;
    c) ci=1 ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
harnesses=("$@")
all=0
[[ ${#harnesses[@]} -gt 0 ]] || {
  all=1
  harnesses=(fuzz_topo fuzz_codec fuzz_text fuzz_aead fuzz_shm fuzz_tcp fuzz_boot_root fuzz_boot_rank fuzz_accept fuzz_ucx_msg fuzz_ofi_msg)
}
build=build-fuzz
work=${work:-$build/work}
start=$SECONDS
TIMEFORMAT='%U %S' # `time`: user and system CPU seconds
if [[ $ci == 1 ]]; then
  probe=$(mktemp -d)
  echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$probe/p.c"
  if ! command -v clang >/dev/null || ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    rm -rf "$probe"
    echo "fuzzing skipped: clang with libFuzzer is not installed (Debian: apt-get install clang libclang-rt-dev)"
    exit 0
  fi
  rm -rf "$probe"
fi
CC=clang cmake -S . -B "$build" -DWEFT_FUZZ=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF \
  -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_TORCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [[ $all == 1 ]]; then
  # fuzz_ucx_msg and fuzz_ofi_msg exist only where their transport is built
  targets=$(cmake --build "$build" --target help)
  for i in "${!harnesses[@]}"; do
    grep -qw "${harnesses[i]}" <<<"$targets" || { echo "${harnesses[i]}: skipped (its transport is not built)"; unset 'harnesses[i]'; }
  done
  harnesses=("${harnesses[@]}")
fi
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]}" >/dev/null
echo "built the harnesses in $((SECONDS - start)) s"
status=0
mkdir -p "$work"
if [[ $ci == 1 ]]; then
  # every finding kept in the corpora, first
  ctest --test-dir "$build" -L fuzz --output-on-failure -R "^($(IFS='|'; echo "${harnesses[*]}"))_corpus\$" >/dev/null ||
    { echo "FINDING: a seed corpus input fails (ctest --test-dir $build -L fuzz)"; status=1; }
fi
# Fuzzes harness $1; prints one line on how it went; fails on a finding.
fuzz_one() {
  local h=$1 log=$work/$1/log cpu runs
  mkdir -p "$work/$h/corpus" "$work/$h/crashes"
  # -max_total_time bounds the run; the seed corpus is read, not written
  local par=()
  [[ $jobs -gt 1 ]] && par=(-fork="$jobs")
  # the CPU seconds it used too: on a busy machine the rate per CPU second
  # says more than the rate per second of wall time
  if cpu=$( { time "$build/tests/fuzz/$h" "${par[@]}" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$work/$h/crashes/" "$work/$h/corpus" "tests/fuzz/corpus/$h.d" >"$log" 2>&1; } 2>&1 ); then
    runs=$( (grep -h 'stat::number_of_executed_units' "$log" || true) | awk '{s += $2} END {print s + 0}')
    echo "$h: $runs executions in ${secs}s ($((runs / secs))/s; $(echo "$runs $cpu" |
      awk '{c = $2 + $3; printf("%.0f per CPU second, %.0f CPU s", (c > 0 ? $1 / c : 0), c)}')), no finding"
  else
    echo "$h: FINDING (see $log and $work/$h/crashes)"
    tail -30 "$log"
    return 1
  fi
}
if [[ $ci == 1 ]]; then
  # the CI step has the machine to itself: one harness per core at a time
  width=$(nproc)
  for ((i = 0; i < ${#harnesses[@]}; i += width)); do
    pids=()
    for h in "${harnesses[@]:i:width}"; do
      fuzz_one "$h" >"$work/$h.result" 2>&1 &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    for h in "${harnesses[@]:i:width}"; do cat "$work/$h.result"; done
  done
else
  for h in "${harnesses[@]}"; do fuzz_one "$h" || status=1; done
fi
echo "fuzzing took $((SECONDS - start)) s"
exit $status
