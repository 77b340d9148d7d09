#!/usr/bin/env bash
# expect_error.sh WEFT_TOPO FILE: `weft-topo validate FILE` must exit with 1
# and print exactly the message on FILE's first line ("# expect: MESSAGE",
# where MESSAGE starts with FILE's base name).
set -u
tool=$1 f=$2
want="$(dirname "$f")/$(sed -n '1s/^# expect: //p' "$f")"
got=$("$tool" validate "$f" 2>&1)
rc=$?
if [ "$rc" -ne 1 ]; then
  printf 'exit status %s, expected 1\n%s\n' "$rc" "$got"
  exit 1
fi
if [ "$got" != "$want" ]; then
  printf 'got:  %s\nwant: %s\n' "$got" "$want"
  exit 1
fi
echo "ok: $got"
