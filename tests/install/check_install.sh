#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds a consumer with
# find_package(weft) and one with pkg-config, and runs both. Each consumer
# checks that the version its package gave is the installed weft.h's.
# usage: check_install.sh BUILD_DIR CONSUMER_SRC_DIR VERSION
set -euo pipefail
build=$1 src=$2 version=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DWEFT_EXPECT_VERSION="$version" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
"$tmp/consumer/nccl_consumer" 2 2>/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name weft.pc | head -1)")
pc_version=$(PKG_CONFIG_PATH="$libdir" pkg-config --modversion weft)
if [ "$pc_version" != "$version" ]; then
  echo "weft.pc says version $pc_version, the build $version" >&2
  exit 1
fi
# Consumers of the shared library need none of weft's dependencies' -dev
# packages: PKG_CONFIG_LIBDIR hides every .pc file but weft's, as on a
# machine with only the runtime libraries, for pkg-config and CMake alike.
PKG_CONFIG_LIBDIR="$libdir" pkg-config --cflags --libs weft >/dev/null
PKG_CONFIG_LIBDIR="$libdir" cmake -S "$src" -B "$tmp/consumer2" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DWEFT_EXPECT_VERSION="$version" >/dev/null
cmake --build "$tmp/consumer2" >/dev/null
"$tmp/consumer2/consumer"
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs weft)
cc "$src/consumer.c" $flags -DWEFT_PACKAGE_VERSION="\"$pc_version\"" \
  -Wl,-rpath,"$tmp/prefix/lib" -Wl,-rpath,"$(dirname "$libdir")" -o "$tmp/pc_consumer"
"$tmp/pc_consumer"
# An NCCL program, unchanged (#include <nccl.h>), built with the flags of
# pkg-config weft-nccl against the installed <weft/nccl.h> and libweft-nccl.
nccl_flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs weft-nccl)
cc "$src/../nccl/nccl_program.c" $nccl_flags -Wl,-rpath,"$(dirname "$libdir")" -o "$tmp/nccl_program"
"$tmp/nccl_program" 2 2>/dev/null
# The Python package the install put next to the library finds that library
# by itself (weft/_install_paths.py); skipped without numpy.
pkg=$(find "$tmp/prefix" -name _install_paths.py -path '*/weft/*' | head -1)
if [ -n "$pkg" ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  (cd "$tmp" && env -u WEFT_LIBRARY PYTHONPATH="$(dirname "$(dirname "$pkg")")" PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 -c 'import weft; print("python consumer ok %d (%s)" % (weft.get_version(), weft.library_path))')
fi
