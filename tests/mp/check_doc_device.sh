#!/usr/bin/env bash
# Builds the device backend skeleton printed in docs/devices.md as a plugin,
# exactly as the document says, and runs the device test through it: 2 ranks
# on the plugin's device, then its ops table driven directly.
#   check_doc_device.sh SOURCE_DIR BUILD_DIR C_COMPILER
set -euo pipefail
src=$1 build=$2 cc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^## Writing a device backend/ {w = 1} w && /^```c$/ {c = 1; next} c && /^```$/ {exit} c' \
  "$src/docs/devices.md" >"$work/mydev.c"
[[ -s $work/mydev.c ]] || { echo "no C block under 'Writing a device backend'"; exit 1; }
"$cc" -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -fvisibility=hidden -I"$src/include" \
  "$work/mydev.c" -o "$work/libweft-device-mydev.so" -lpthread
"$build/tests/mp/test_device" plugin "$work/libweft-device-mydev.so" mydev
# the data path through it: device memory the host cannot address, staged
# through host buffers. The whole collective matrix (every collective, dtype
# and op, counts 0/1/7/1027, in and out of place, every algorithm) on 3
# ranks, two on the doc device and one on host memory; then weft-perf,
# blocking and on a stream, alone and mixed.
export WEFT_DEVICE_PLUGIN=$work/libweft-device-mydev.so
"$build/tests/mp/test_coll_matrix" -n 3 -D mydev,host,mydev -B 0 >"$work/matrix.log" 2>&1 ||
  { cat "$work/matrix.log"; echo "the collective matrix on the doc device failed"; exit 1; }
tail -1 "$work/matrix.log"
perf=$build/bench/weft-perf
if [[ -x $perf ]]; then
  for coll in allreduce alltoall; do
    for dev in mydev mydev,host; do
      for z in 0 1; do
        "$perf" -np 3 "$coll" -D "$dev" -b 4 -e 64K -f 37 -d all -o all -n 1 -w 0 -z $z -c 1 \
          >"$work/perf.log" 2>&1 || { cat "$work/perf.log"; echo "weft-perf $coll -D $dev -z $z failed"; exit 1; }
        grep -q "Out of bounds values : 0 OK" "$work/perf.log" || { cat "$work/perf.log"; exit 1; }
      done
    done
  done
  # the device table every rank learns at init, as the tuner logs it
  WEFT_DEBUG=INFO "$perf" -np 2 allreduce -D mydev,host -b 1M -e 1M -n 1 -w 0 -c 1 >"$work/perf.log" 2>&1 ||
    { cat "$work/perf.log"; exit 1; }
  grep -q "rank 1/2 INFO devices: rank 0 mydev discrete copy [0-9.]* GB/s, rank 1 host" "$work/perf.log" ||
    { cat "$work/perf.log"; echo "no device table in the log"; exit 1; }
  # a staged call split into pieces (copies overlapping the network): every
  # rank runs the pieces one after another, host ranks included; ring, as
  # the node segment's small-message algorithm is never split
  for coll in allreduce broadcast reduce; do
    for z in 0 1; do
      WEFT_ALGO=ring WEFT_DEVICE_PIECES=3 "$perf" -np 3 "$coll" -D mydev,host -b 4 -e 64K -f 37 -d all -o all \
        -n 1 -w 0 -z $z -c 1 >"$work/perf.log" 2>&1 || { cat "$work/perf.log"; echo "$coll in pieces -z $z failed"; exit 1; }
      grep -q "Out of bounds values : 0 OK" "$work/perf.log" || { cat "$work/perf.log"; exit 1; }
    done
  done
  echo "weft-perf through the doc device: correct"
fi
echo "doc device plugin ok"
