#!/usr/bin/env bash
# dump_roundtrip.sh WEFT_TOPO DIR: for every DIR/*.yaml, the dump of a
# synthetic job validates, and dumping the dump gives the same text.
set -euo pipefail
tool=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$dir"/*.yaml; do
  n=$(basename "$f" .yaml)
  "$tool" dump "$f" --ranks-per-node 3 > "$tmp/$n.1.yaml"
  "$tool" validate "$tmp/$n.1.yaml"
  "$tool" dump "$tmp/$n.1.yaml" --ranks-per-node 3 > "$tmp/$n.2.yaml"
  diff -u "$tmp/$n.1.yaml" "$tmp/$n.2.yaml"
done
echo "dump round trip ok"
