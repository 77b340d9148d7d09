# The shell side of tests/common/time_scale.h (tests/README.md), for test
# scripts: source it, then "$(weft_test_seconds 150)" is a 150 s budget on
# this machine, WEFT_TEST_TIME_SCALE (a number >= 1, default 1; anything else
# reads as 1) times 150, rounded up to whole seconds.
weft_test_time_scale() {
  local s=${WEFT_TEST_TIME_SCALE:-1}
  if [[ "$s" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v s="$s" 'BEGIN { exit !(s >= 1) }'; then
    echo "$s"
  else
    echo 1
  fi
}

weft_test_seconds() {
  awk -v t="$1" -v s="$(weft_test_time_scale)" 'BEGIN { v = t * s; r = int(v); if (r < v) r++; print r }'
}
