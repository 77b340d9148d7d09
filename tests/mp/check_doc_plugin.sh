#!/usr/bin/env bash
# Builds the transport skeleton printed in docs/transports.md as a plugin,
# exactly as the document says, and runs the plugin test and the collective
# matrix through it: the documented example must keep working.
#   check_doc_plugin.sh SOURCE_DIR BUILD_DIR C_COMPILER
set -euo pipefail
src=$1 build=$2 cc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^## Writing a transport/ {w = 1} w && /^```c$/ {c = 1; next} c && /^```$/ {exit} c' \
  "$src/docs/transports.md" >"$work/mynet.c"
[[ -s $work/mynet.c ]] || { echo "no C block under 'Writing a transport'"; exit 1; }
"$cc" -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -fvisibility=hidden -I"$src/include" \
  "$work/mynet.c" -o "$work/libweft-net-mynet.so" -lcrypto
"$build/tests/mp/test_plugin" loaded "$work/libweft-net-mynet.so" mynet
WEFT_NET_PLUGIN=$work/libweft-net-mynet.so WEFT_NET=mynet "$build/tests/mp/test_coll_matrix" -n 3 -B 0 -L 120
# it does not encrypt (encrypts = 0): forced for links that WEFT_CRYPTO=on
# encrypts, init fails and says why (ucx, ofi and tcp encrypt themselves)
out=$(WEFT_CRYPTO=on WEFT_NET_PLUGIN=$work/libweft-net-mynet.so WEFT_NET=mynet \
  "$build/tests/mp/test_coll_matrix" -n 2 -c allreduce -C 1000 -L 30 2>&1 || true)
grep -q "transport mynet cannot encrypt the link to rank" <<<"$out" || { echo "$out"; echo "not refused"; exit 1; }
echo "doc plugin ok"
