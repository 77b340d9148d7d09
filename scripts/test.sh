#!/usr/bin/env bash
# Test command: builds with gcc and clang (-Werror), runs the whole ctest
# suite, then rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs the suite again; in between, fuzzes each libFuzzer harness for a few
# seconds (scripts/fuzz.sh -c). Set WEFT_TEST_QUICK=1 to skip the sanitizer
# pass, WEFT_TEST_FUZZ=0 to skip the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

echo "== build (gcc, Release + debug info)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$jobs"

echo "== build (clang, -Werror)"
# (weft.torch is C++, built by the gcc build above: compiling it again here
# would cost a minute or two and check nothing of clang's)
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_TORCH=OFF >/dev/null
cmake --build build-clang -j"$jobs" >/dev/null

echo "== tests"
# Left out of this pass, to keep the whole run under budget:
# - the every-case-at-1M+3 matrices over tcp, ucx and ofi (1-2 minutes
#   each): the per-n matrices run the 1M+3 allreduce of every dtype and op
#   over those transports (their rendezvous and chunked paths), and the
#   every-case variant runs over shm. Run them by name when a transport's
#   large-message path changes;
# - the 5- and 8-rank matrices over tcp, ucx and ofi (9 minutes together):
#   they test the algorithms' rank counts, which do not depend on the
#   transport, and run over shm; every transport runs every collective at
#   2, 3 and 4 ranks;
# - the 100-byte-chunk matrix over ofi (it runs over shm, tcp and ucx).
ctest --test-dir build --output-on-failure --timeout 900 \
  -E 'mp_matrix_n3_big_(tcp|ucx|ofi)|mp_matrix_n(5|8)_(tcp|ucx|ofi)$|mp_matrix_n5_chunk100_ofi$'

if [ "${WEFT_TEST_FUZZ:-1}" != 0 ]; then
  # Bounded: the harnesses built with clang (build-fuzz), the seed corpora
  # replayed, then each harness fuzzed for 6 s, one per core (11 harnesses:
  # about 1.5-3 minutes in all on 2 cores, most of it the build); a crash
  # fails the run.
  # scripts/fuzz.sh -t 3600 is the long run.
  # Skips, saying so, where clang has no libFuzzer. WEFT_TEST_FUZZ=0 skips it.
  echo "== fuzzing (bounded)"
  bash scripts/fuzz.sh -c -t 6 -w build-fuzz/ci-work
fi

if [ "${WEFT_TEST_QUICK:-0}" != 1 ]; then
  echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  # The sanitizers make everything 2-5 times slower (shadow memory, checked
  # allocations), and the ranks of a test compete for the same cores: every time
  # budget of the tests gets 3 times as long (tests/README.md). Timeouts under
  # test keep their values.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWEFT_BUILD_TESTS=ON -DWEFT_SANITIZE=ON -DCMAKE_C_FLAGS=-O1 \
    -DWEFT_TEST_TIME_SCALE=3 >/dev/null
  cmake --build build-asan -j"$jobs"
  # The matrices are transport-agnostic above the transport: under the
  # sanitizers every transport runs the 2-rank matrix and the 100-byte-chunk
  # one over shm and tcp (many chunks per message), and the 1-, 3-, 4-, 5- and
  # 8-rank ones (the algorithms' rank-count cases, 1-2 minutes each here; a
  # 1-rank comm sends nothing) run over shm only; the first pass above runs
  # them all. The extra lanes of ucx and ofi are left to the first pass too.
  # The same holds for the every-case-at-1M+3 matrices
  # (mp_matrix_n3_big_*, 7 minutes each here): the per-n matrices run a
  # subset of the 1M+3 cases on every collective, so the sanitizers still see
  # the multi-chunk paths. The WAN lab tests (network namespaces, shaped
  # links) are left to the first pass too: the fake-site tests cover their
  # code paths. So is the 4-rank matrix on mixed devices (3 minutes here): the
  # doc device's 3-rank matrix and the 1-rank OpenCL matrix run the same
  # device data path under the sanitizers. mp_explain_agrees checks a
  # decision (the same code runs in its other tests under the sanitizers).
  # The 8-rank matrix (105 s here) adds no code path to the 4- and 5-rank
  # ones; of the five two-level node layouts, 3+2+1 and its pipelined
  # variant stay (unequal nodes; 4+4, 2+2 and 1+3 took 95 s together); the
  # two-site training example runs the codecs that mp_wan_codec_* run here.
  # The 64-rank scale test (64 sanitized processes) counts sockets and times
  # init; its code (lazy links) runs in every multi-rank test here.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
    ctest --test-dir build-asan --output-on-failure --timeout 1800 \
      -E 'mp_matrix_n(1|3|4|5|8)_(tcp|ucx|ofi)$|mp_matrix_n5_chunk100_(ucx|ofi)$|mp_matrix_n3_big_|mp_device_matrix_n4_mixed|mp_matrix_n3_(ucx_tcp|ofi_sockets)|wanlab|mp_explain_agrees|mp_matrix_n8_shm$|mp_hier_nodes_(4_4|2_2|1_3)$|example_two_site_train|mp_scale_n64'
fi
