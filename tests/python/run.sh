#!/usr/bin/env bash
# ctest python_bindings: runs tests/python with pytest against a build tree's
# libweft. usage: run.sh /path/to/libweft.so (WEFT_PYTHON: another interpreter)
# Exits 77 (ctest SKIP) when /usr/bin/python3, numpy or pytest is missing
# (Debian: apt-get install python3-numpy python3-pytest; scripts/deps.sh).
set -u
py=${WEFT_PYTHON:-/usr/bin/python3}  # the interpreter with Debian's numpy and pytest
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$py" ]; then
  echo "SKIP: no $py"
  exit 77
fi
if ! "$py" -c 'import numpy, pytest' 2>/dev/null; then
  echo "SKIP: $py lacks numpy or pytest (apt-get install python3-numpy python3-pytest)"
  exit 77
fi
export WEFT_LIBRARY=$1
# no __pycache__ or .pytest_cache in the source tree
export PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -q -p no:cacheprovider "$here"
