#!/usr/bin/env bash
# Every global symbol libweft.a defines must start with "weft" or "_weft"
# (weftAllReduce, weft_tune, weft__internal): an embeddable library must not
# claim names that belong to the program or to other libraries.
#
#   scripts/check-symbols.sh path/to/libweft.a
#
# Checks functions and data (T, D, B, R, also weak W/V, common C, small data
# G/S, ifuncs i, unique globals u, absolutes A); names each offender with its
# object file. Exit 0 clean, 1 offenders, 2 usage or tool errors.
set -euo pipefail
lib=${1:-}
if [[ -z "$lib" || ! -f "$lib" ]]; then
  echo "usage: $0 path/to/libweft.a (got '${lib}')" >&2
  exit 2
fi
nm_tool=${NM:-nm}
listing=$("$nm_tool" -g --defined-only "$lib") || { echo "$0: $nm_tool failed on $lib" >&2; exit 2; }

report=$(awk '
  /:$/ { obj = substr($0, 1, length($0) - 1); next }   # "file.o:" starts an object
  NF >= 2 {
    type = $(NF - 1); name = $NF
    if (type !~ /^[ABCDGRSTVWiu]$/) next
    # the sanitizers add their own globals beside ours (__odr_asan.weft_x)
    if (name ~ /^__(odr_asan|asan|ubsan|sancov|tsan)/) next
    total++
    if (name !~ /^_?weft/) { printf "%s: %s %s\n", obj, type, name; bad++ }
  }
  END { printf "#%d %d\n", total, bad }' <<<"$listing")

summary=$(tail -n 1 <<<"$report")
read -r total bad <<<"${summary#\#}"
if (( total == 0 )); then
  echo "$0: no defined global symbols in $lib: not a built libweft.a?" >&2
  exit 2
fi
if (( bad > 0 )); then
  echo "symbols without the weft prefix in $lib ($bad of $total):"
  sed '$d' <<<"$report" | sed 's/^/  /'
  echo "Name them weft_... (or weft__... when internal), or make them static."
  exit 1
fi
echo "ok: all $total global symbols of $(basename "$lib") start with weft"
