#!/usr/bin/env bash
# ctest torch_backend: runs tests/torch with pytest against a build tree's
# libweft and its weft.torch extension. usage: run.sh /path/to/libweft.so
# Exits 77 (ctest SKIP) when /usr/bin/python3 lacks torch, numpy or pytest, or
# the extension was not built (Debian: bash scripts/deps.sh, then cmake again).
set -u
py=${WEFT_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$py" ]; then
  echo "SKIP: no $py"
  exit 77
fi
if ! "$py" -c 'import numpy, pytest, torch.distributed' 2>/dev/null; then
  echo "SKIP: $py lacks torch, numpy or pytest (apt-get install python3-torch python3-pytest)"
  exit 77
fi
if ! ls "$(dirname "$1")"/_weft_torch.*so >/dev/null 2>&1; then
  echo "SKIP: the weft.torch extension was not built next to $1 (cmake: WEFT_TORCH)"
  exit 77
fi
export WEFT_LIBRARY=$1
export PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -q -p no:cacheprovider "$here"
