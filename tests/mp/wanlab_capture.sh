#!/usr/bin/env bash
# WAN capture test (security issue): records the traffic between two lab
# sites with tcpdump while wire_marker broadcasts and all-gathers a buffer
# of a known marker string, and searches the capture for the marker and for
# the job's secret (raw and as hex).
#
#   wanlab_capture.sh SOURCE_DIR BUILD_DIR
#
# Two runs, each captured on site 0's WAN interface:
#   WEFT_CRYPTO=off   the marker must be in the capture (the control: shows
#                     that the capture sees the payload, so the test can fail)
#   WEFT_CRYPTO=auto  links between sites are encrypted: no marker
# and in both runs the secret must not appear (handshakes prove the key by
# challenge-response; it never travels). Exit 77 (ctest SKIP) without root,
# network namespaces or tcpdump.
set -uo pipefail
src=${1:?source dir}
build=${2:?build dir}
lab="$src/bench/wanlab/wanlab.sh"
prog="$build/tests/mp/wire_marker"
py=/usr/bin/python3
prefix="wc$$"
prefix=${prefix:0:10}

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, tc)"
command -v ip >/dev/null && command -v tc >/dev/null || skip "needs iproute2 (ip, tc)"
command -v tcpdump >/dev/null || skip "needs tcpdump (apt-get install tcpdump)"
[[ -x $py ]] || skip "needs $py"
[[ -x "$prog" ]] || { echo "FAIL: $prog not built"; exit 1; }
probe="${prefix}p"
if ! { ip netns add "$probe" && ip -n "$probe" link add pa type veth peer name pb; } 2>/dev/null; then
  ip netns del "$probe" 2>/dev/null
  skip "network namespaces or veth not available here"
fi
ip netns del "$probe"

work=$(mktemp -d /tmp/wanlab-capture.XXXXXX)
dump_pid=
cleanup() {
  [[ -n $dump_pid ]] && kill "$dump_pid" 2>/dev/null
  "$lab" --prefix "$prefix" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

secret=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export WEFT_SECRET=$secret
"$lab" --prefix "$prefix" --build "$build" up --sites 2 --rate 500mbit --rtt-ms 2 >/dev/null || {
  echo "FAIL: wanlab up"; exit 1; }

# counts: marker occurrences, secret (raw bytes), secret (hex, either case), payload bytes
search() {
  "$py" - "$1" "$secret" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
hexs = sys.argv[2]
marker = b"weft-capture-marker:plaintext-gradient!"
raw = bytes.fromhex(hexs)
print(data.count(marker), data.count(raw), data.lower().count(hexs.encode()), len(data))
PYEOF
}

failures=0
for mode in off auto; do
  pcap="$work/$mode.pcap"
  ip netns exec "$prefix-s0" tcpdump -i wan0 -s 0 -U -w "$pcap" 2>"$work/$mode.tcpdump" &
  dump_pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$work/$mode.tcpdump" 2>/dev/null && break; sleep 0.1; done
  out=$(WEFT_CRYPTO=$mode "$lab" --prefix "$prefix" run --layout 1+1 --timeout 120 -- "$prog" 2>&1)
  rc=$?
  sleep 0.3
  kill -INT "$dump_pid"; wait "$dump_pid" 2>/dev/null; dump_pid=
  if (( rc != 0 )); then
    echo "$out" | tail -20
    echo "FAIL: WEFT_CRYPTO=$mode: wire_marker exited with status $rc"
    failures=$((failures + 1))
    continue
  fi
  read -r markers raw hex bytes < <(search "$pcap")
  echo "== WEFT_CRYPTO=$mode: $bytes bytes captured; marker found $markers times, secret raw $raw, hex $hex"
  if [[ $mode == off ]] && (( markers == 0 )); then
    echo "FAIL: the plain run's capture holds no marker: the capture does not see the payload"
    failures=$((failures + 1))
  fi
  if [[ $mode == auto ]] && (( markers != 0 )); then
    echo "FAIL: the marker crossed the sites in clear with encryption on"
    failures=$((failures + 1))
  fi
  if (( raw + hex != 0 )); then
    echo "FAIL: the secret is on the wire (WEFT_CRYPTO=$mode)"
    failures=$((failures + 1))
  fi
  if (( bytes < 2000000 )); then
    echo "FAIL: only $bytes bytes captured (2 MiB of payload cross the link)"
    failures=$((failures + 1))
  fi
done
echo "== capture: $failures failure(s)"
(( failures == 0 ))
