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
echo "doc device plugin ok"
