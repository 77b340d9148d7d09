#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds a consumer with
# find_package(weft) and one with pkg-config, and runs both.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
libdir=$(dirname "$(find "$tmp/prefix" -name weft.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs weft)
cc "$src/consumer.c" $flags -Wl,-rpath,"$tmp/prefix/lib" -Wl,-rpath,"$(dirname "$libdir")" -o "$tmp/pc_consumer"
"$tmp/pc_consumer"
