#!/usr/bin/env bash
# wanlab.sh: a WAN lab on one machine. 2-3 (up to 8) "sites" are network
# namespaces joined through a "WAN" namespace by veth pairs; every site link
# is shaped with tc tbf in both directions (full duplex: one queue per
# direction) and, with --rtt-ms, the WAN namespace runs weft-wan-relay, an L2
# switch that holds every frame for RTT/2 per direction. weft programs and
# Open MPI run across the sites over real sockets. Needs root. Docs: docs/wanlab.md.
#
#   wanlab.sh up    [--sites N] [--rate R] [--rtt-ms MS] [--mtu M] [--relay|--bridge]
#                   [--burst B] [--queue-ms MS] [--cc ALGO]
#   wanlab.sh down
#   wanlab.sh show                       the lab's settings, links and relay
#   wanlab.sh run   [--ranks-per-site K | --layout A+B+C] [--timeout S] [--port P]
#                   [--all-output] [--logdir DIR] -- CMD ARGS...
#   wanlab.sh mpi   [--ranks-per-site K | --layout A+B+C] [--timeout S] [--all-output]
#                   [--mpirun-args "ARGS"] -- CMD ARGS...
#   wanlab.sh stats [--raw]              bytes/packets/drops per direction (tc -s qdisc)
#   wanlab.sh watch [--interval S] [--seconds T]
#                                        Mbit/s on the wire per direction, every S s (0.1)
#   wanlab.sh check [--from I] [--to J] [--streams P] [--seconds T] [--cc ALGO]
#                                        TCP throughput from site I to site J vs the shaped rate
#                                        (--cc: the senders' congestion control, per socket)
#
# Options valid with every command:
#   --prefix P   name of the lab (default wl): namespaces P-s0, P-s1, ..., P-wan
#   --build DIR  build tree with bench/weft-wan-relay (default $WANLAB_BUILD or ./build)
#
# up:
#   --sites N      number of sites (default 2)
#   --rate R       tbf rate of each site link, each direction: e.g. 1gbit, 200mbit (default 1gbit)
#   --rtt-ms MS    added round-trip time between two sites (default 0)
#   --mtu M        MTU of the site links (default 1500, as on WAN paths)
#   --relay        use weft-wan-relay even with --rtt-ms 0 (default: a Linux bridge then)
#   --bridge       use a Linux bridge (only with --rtt-ms 0)
#   --burst B      tbf burst in bytes (default: 2 ms at the rate, at least 128 KiB)
#   --queue-ms MS  tbf queue limit in ms at the rate (default 50)
#   --cc ALGO      TCP congestion control in the site namespaces (default: the host's;
#                  a namespace may only pick one of net.ipv4.tcp_allowed_congestion_control)
#   --relay-args "ARGS"  extra weft-wan-relay options (e.g. "-q 500", see weft-wan-relay -h)
#   --relay-sched fifo|nice  the relay runs SCHED_FIFO priority 10 (default; it is
#                  "the network" and must not queue behind busy ranks) or at nice -10
#   Site i has address 10.77.0.(i+1)/24 on its interface wan0. A stale lab with the
#   same prefix (crashed run) is removed first.
#
# run: launches the ranks of a weft program, rank r in site r/K (or by --layout,
#   e.g. 2+1+3: ranks 0-1 in site 0, 2 in site 1, 3-5 in site 2) with WEFT_RANK,
#   WEFT_NRANKS, WEFT_COMM_ID=10.77.0.1:PORT, WEFT_SITE=siteS, WEFT_HOST_ID=P-sS, WEFT_SECRET (one
#   random secret per run unless set; PORT random below site 0's ephemeral port range unless
#   --port, so that no connection's local port can hold it)
#   (ranks of one site share a host: shm among them, tcp across sites).
#   Prints rank 0's output (all ranks', prefixed, with --all-output), waits for
#   every rank and exits non-zero if any failed; after --timeout S (default 600)
#   every rank is killed (exit 124). Once a rank has failed the others get
#   --grace S (default 20) seconds to finish before they are killed.
#   Per-rank logs go to --logdir (default: a temporary directory, removed on success).
#
# mpi: the same layout with Open MPI: mpirun runs inside site 0's namespace and
#   starts one daemon per site through `ip netns exec` (as its rsh agent), so
#   ranks of one site use vader (shared memory) and sites talk btl tcp over
#   10.77.0.0/24. Extra mpirun arguments with --mpirun-args.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "wanlab: $*" >&2; exit 2; }

prefix=wl
build=${WANLAB_BUILD:-./build}
cmd=""
sites=""
rate=1gbit
rtt_ms=0
mtu=1500
mode=""
burst=""
queue_ms=50
cc=""
relay_sched=fifo
relay_args=""
rps=""
layout=""
timeout_s=600
grace_s=20
port=""
all_output=0
logdir=""
mpirun_args=""
from=0
to=1
streams=1
seconds=10
raw=0
interval=0.1
user_cmd=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --sites) sites="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --rtt-ms) rtt_ms="$2"; shift 2 ;;
    --mtu) mtu="$2"; shift 2 ;;
    --relay) mode=relay; shift ;;
    --bridge) mode=bridge; shift ;;
    --burst) burst="$2"; shift 2 ;;
    --queue-ms) queue_ms="$2"; shift 2 ;;
    --cc) cc="$2"; shift 2 ;;
    --relay-sched) relay_sched="$2"; shift 2 ;;
    --relay-args) relay_args="$2"; shift 2 ;;
    --ranks-per-site) rps="$2"; shift 2 ;;
    --layout) layout="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --grace) grace_s="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --all-output) all_output=1; shift ;;
    --logdir) logdir="$2"; shift 2 ;;
    --mpirun-args) mpirun_args="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    --to) to="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --raw) raw=1; shift ;;
    --interval) interval="$2"; shift 2 ;;
    --) shift; user_cmd=("$@"); break ;;
    -*) die "unknown option $1 (-h for help)" ;;
    *)
      [[ -z "$cmd" ]] || die "unexpected argument $1 (the program goes after --)"
      cmd="$1"; shift ;;
  esac
done
[[ -n "$cmd" ]] || { usage >&2; exit 2; }
[[ "$prefix" =~ ^[a-zA-Z][a-zA-Z0-9]{0,9}$ ]] || die "--prefix: letters and digits, at most 10"

state_dir="${WANLAB_STATE_DIR:-/tmp}/wanlab-$prefix"
wan_ns="$prefix-wan"
site_ns() { echo "$prefix-s$1"; }
site_ip() { echo "10.77.0.$(($1 + 1))"; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# rate string (tc units: bit kbit mbit gbit tbit; bare number = bit/s) -> bit/s
rate_bits() {
  local r="${1,,}"
  [[ "$r" =~ ^([0-9]+(\.[0-9]+)?)(bit|kbit|mbit|gbit|tbit)?$ ]] || die "bad rate '$1' (e.g. 1gbit, 200mbit)"
  local n="${BASH_REMATCH[1]}" u="${BASH_REMATCH[3]}" m=1
  case "$u" in kbit) m=1000 ;; mbit) m=1000000 ;; gbit) m=1000000000 ;; tbit) m=1000000000000 ;; esac
  awk -v n="$n" -v m="$m" 'BEGIN { printf "%.0f\n", n * m }'
}

find_relay() {
  local d
  for d in "$build/bench" "$build" "$build/bin"; do
    if [[ -x "$d/weft-wan-relay" ]]; then echo "$d/weft-wan-relay"; return 0; fi
  done
  command -v weft-wan-relay 2>/dev/null || return 1
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, tc)"
  command -v ip >/dev/null && command -v tc >/dev/null || die "needs iproute2 (ip, tc)"
}

# our namespaces, including stale ones of a crashed run
lab_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}-(s[0-9]+|wan)\$" || true
}

load_state() {
  [[ -f "$state_dir/state" ]] || die "no lab '$prefix' is up (wanlab.sh up first)"
  # shellcheck disable=SC1091
  source "$state_dir/state"
}

# kills every process inside our namespaces (the relay, leftover ranks), TERM first
kill_ns_procs() {
  local ns pids left i
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -TERM $pids 2>/dev/null || true
  done
  for i in $(seq 50); do
    left=""
    for ns in $(lab_namespaces); do left+=$(ip netns pids "$ns" 2>/dev/null || true); done
    [[ -z "$left" ]] && return 0
    sleep 0.1
  done
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null || true
  done
}

lab_down() {
  local relay_pid ns
  if [[ -f "$state_dir/relay.pid" ]]; then
    relay_pid=$(cat "$state_dir/relay.pid" 2>/dev/null || true)
    if [[ -n "$relay_pid" ]] && grep -q weft-wan-relay "/proc/$relay_pid/cmdline" 2>/dev/null; then
      kill -TERM "$relay_pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$relay_pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  kill_ns_procs
  for ns in $(lab_namespaces); do ip netns del "$ns" 2>/dev/null || true; done
  rm -f "$state_dir/state" "$state_dir/relay.pid"
}

ns_sysctl() { # ns key value
  ip netns exec "$1" sh -c "echo '$3' > /proc/sys/${2//.//}" 2>/dev/null || true
}

cmd_up() {
  need_root
  sites=${sites:-2}
  is_uint "$sites" && (( sites >= 2 && sites <= 8 )) || die "--sites must be 2..8"
  is_uint "$mtu" && (( mtu >= 1280 && mtu <= 65535 )) || die "bad --mtu $mtu"
  [[ "$rtt_ms" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad --rtt-ms $rtt_ms"
  [[ "$queue_ms" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad --queue-ms $queue_ms"
  local bits relay=""
  bits=$(rate_bits "$rate")
  (( bits >= 1000000 )) || die "--rate below 1mbit"
  if [[ -z "$mode" ]]; then
    if awk -v r="$rtt_ms" 'BEGIN { exit !(r > 0) }'; then mode=relay; else mode=bridge; fi
  fi
  if [[ "$mode" == bridge ]] && awk -v r="$rtt_ms" 'BEGIN { exit !(r > 0) }'; then
    die "--bridge adds no delay: use the relay for --rtt-ms > 0"
  fi
  if [[ "$mode" == relay ]]; then
    relay=$(find_relay) || die "weft-wan-relay not found under $build (build it, or pass --build DIR)"
  fi
  # tbf: burst = 2 ms of tokens (>= 128 KiB so a 64 KiB GSO frame is never split),
  # queue limit = --queue-ms at the rate (>= 1 MiB)
  if [[ -z "$burst" ]]; then
    burst=$(awk -v b="$bits" 'BEGIN { x = b / 8 * 0.002; if (x < 131072) x = 131072; printf "%.0f", x }')
  fi
  is_uint "$burst" || die "bad --burst $burst (bytes)"
  (( burst >= mtu + 100 )) || die "--burst $burst is below one frame (MTU $mtu)"
  (( burst >= 66000 )) || echo "wanlab: note: a burst below 64 KiB makes tbf split every TSO/GSO frame" >&2
  local limit
  limit=$(awk -v b="$bits" -v q="$queue_ms" -v bu="$burst" \
    'BEGIN { x = b / 8 * q / 1000; if (x < 1048576) x = 1048576; printf "%.0f", x + bu }')

  lab_down # stale lab of the same prefix
  trap 'echo "wanlab: up failed: removing the partial lab" >&2; lab_down' EXIT
  mkdir -p "$state_dir"
  rm -f "$state_dir/relay.log"
  local i ns
  ip netns add "$wan_ns"
  ip -n "$wan_ns" link set lo up
  ns_sysctl "$wan_ns" net.ipv6.conf.all.disable_ipv6 1
  ns_sysctl "$wan_ns" net.ipv6.conf.default.disable_ipv6 1
  for ((i = 0; i < sites; i++)); do
    ns=$(site_ns $i)
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6 1
    ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6 1
    # room for a few BDPs of a long fat link in the TCP autotuning limits
    ns_sysctl "$ns" net.ipv4.tcp_rmem "4096 131072 67108864"
    ns_sysctl "$ns" net.ipv4.tcp_wmem "4096 16384 67108864"
    [[ -n "$cc" ]] && { ns_sysctl "$ns" net.ipv4.tcp_congestion_control "$cc";
      [[ $(ip netns exec "$ns" cat /proc/sys/net/ipv4/tcp_congestion_control) == "$cc" ]] ||
        die "congestion control '$cc' is not allowed in a namespace (tcp_allowed_congestion_control:" \
            "$(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control))"; }
    ip link add wan0 netns "$ns" mtu "$mtu" type veth peer name "s$i" netns "$wan_ns" mtu "$mtu"
    ip -n "$ns" addr add "$(site_ip $i)/24" dev wan0
    ip -n "$ns" link set wan0 up
    ip -n "$wan_ns" link set "s$i" up
    # site -> WAN on the site's side, WAN -> site on the WAN's side: one queue per direction
    tc -n "$ns" qdisc add dev wan0 root tbf rate "$rate" burst "$burst" limit "$limit"
    tc -n "$wan_ns" qdisc add dev "s$i" root tbf rate "$rate" burst "$burst" limit "$limit"
  done
  local ports=() relay_pid=""
  for ((i = 0; i < sites; i++)); do ports+=("s$i"); done
  if [[ "$mode" == bridge ]]; then
    ip -n "$wan_ns" link add br0 type bridge stp_state 0 forward_delay 0
    for p in "${ports[@]}"; do ip -n "$wan_ns" link set "$p" master br0; done
    ip -n "$wan_ns" link set br0 up
  else
    # delay queue: rate x (one-way delay + queue) per port, at least 32 MiB
    local half mib
    half=$(awk -v r="$rtt_ms" 'BEGIN { printf "%g", r / 2 }')
    mib=$(awk -v b="$bits" -v h="$half" -v q="$queue_ms" -v n="$sites" \
      'BEGIN { x = n * b / 8 * (h + q + 50) / 1000 / 1048576; if (x < 32) x = 32; printf "%.0f", x }')
    # send buffer (backpressure): a quarter of the tbf limit, doubled by the kernel, at most 4 MiB
    local sndkib
    sndkib=$(awk -v l="$limit" 'BEGIN { x = l / 4 / 1024; if (x > 4096) x = 4096; printf "%.0f", x }')
    rm -f "$state_dir/relay.pid"
    local sched=(nice -n -10)
    if [[ "$relay_sched" == fifo ]] && command -v chrt >/dev/null && chrt -f 10 true 2>/dev/null; then
      sched=(chrt -f 10)
    elif [[ "$relay_sched" != fifo && "$relay_sched" != nice ]]; then
      die "--relay-sched: fifo or nice"
    fi
    local rargs=()
    [[ -n "$relay_args" ]] && read -r -a rargs <<<"$relay_args"
    ip netns exec "$wan_ns" setsid "${sched[@]}" "$relay" -d "$half" -m "$mib" -S "$sndkib" "${rargs[@]}" \
      -p "$state_dir/relay.pid" "${ports[@]}" </dev/null >>"$state_dir/relay.log" 2>&1 &
    for _ in $(seq 100); do
      [[ -s "$state_dir/relay.pid" ]] && break
      kill -0 $! 2>/dev/null || { cat "$state_dir/relay.log" >&2; lab_down; die "weft-wan-relay did not start"; }
      sleep 0.05
    done
    [[ -s "$state_dir/relay.pid" ]] || { lab_down; die "weft-wan-relay did not start in 5 s"; }
    relay_pid=$(cat "$state_dir/relay.pid")
  fi
  cat >"$state_dir/state" <<EOF
SITES=$sites
RATE=$rate
RATE_BITS=$bits
RTT_MS=$rtt_ms
MTU=$mtu
MODE=$mode
BURST=$burst
LIMIT=$limit
EOF
  # ARP between every pair now, so the first measurement does not pay for it
  local j
  for ((i = 0; i < sites; i++)); do
    for ((j = 0; j < sites; j++)); do
      ((i != j)) && timeout 5 ip netns exec "$(site_ns $i)" bash -c \
        "exec 3<>/dev/tcp/$(site_ip $j)/9" 2>/dev/null || true # a refused connect suffices
    done
  done
  trap - EXIT
  echo "wanlab: '$prefix' up: $sites sites (namespaces $(site_ns 0)..$(site_ns $((sites - 1))), 10.77.0.1..$sites), " \
    "$rate per direction per site (tbf burst $burst B, limit $limit B), RTT +${rtt_ms} ms, MTU $mtu, $mode" \
    "${relay_pid:+(pid $relay_pid, log $state_dir/relay.log)}"
}

cmd_show() {
  load_state
  echo "lab '$prefix': $SITES sites, rate $RATE per direction, RTT +$RTT_MS ms, MTU $MTU, $MODE; state in $state_dir"
  local i
  for ((i = 0; i < SITES; i++)); do
    echo "site $i: namespace $(site_ns $i), $(site_ip $i) on wan0 <-> $wan_ns:s$i"
  done
  if [[ -f "$state_dir/relay.pid" ]]; then
    local p; p=$(cat "$state_dir/relay.pid")
    if kill -0 "$p" 2>/dev/null; then echo "relay: pid $p running, log $state_dir/relay.log"; else echo "relay: pid $p NOT running"; fi
  fi
}

# "DIRECTION BYTES PACKETS DROPS OVERLIMITS BACKLOG_BYTES" for one tbf
qdisc_counters() { # ns dev
  tc -n "$1" -s qdisc show dev "$2" | awk '
    /^qdisc tbf/ { t = 1 }
    t && /Sent/ { b = $2; p = $4; d = $7; sub(",", "", d); o = $9; sub(/\)/, "", o) }
    t && /backlog/ { bl = $2; sub("b", "", bl); print b, p, d, o, bl; exit }'
}

cmd_stats() {
  load_state
  local i c
  if (( raw == 0 )); then
    printf '# %-14s %14s %10s %8s %10s %10s\n' link bytes packets dropped overlimit backlog
  fi
  for ((i = 0; i < SITES; i++)); do
    c=$(qdisc_counters "$(site_ns $i)" wan0)
    if (( raw )); then echo "s$i up $c"; else printf '  %-14s %14s %10s %8s %10s %10s\n' "s$i->wan" $c; fi
    c=$(qdisc_counters "$wan_ns" "s$i")
    if (( raw )); then echo "s$i down $c"; else printf '  %-14s %14s %10s %8s %10s %10s\n' "wan->s$i" $c; fi
  done
  if (( raw == 0 )) && [[ -f "$state_dir/relay.pid" ]]; then
    local p; p=$(cat "$state_dir/relay.pid")
    if kill -USR1 "$p" 2>/dev/null; then
      sleep 0.2
      echo "# relay (weft-wan-relay, SIGUSR1):"
      grep 'weft-wan-relay stats' "$state_dir/relay.log" | tail -n $((SITES + 1)) | sed 's/^/  /'
    fi
  fi
}

# sites layout -> array site_of[rank]
make_layout() {
  local nsites=$1 parts=() s k
  if [[ -n "$layout" ]]; then
    [[ -z "$rps" ]] || die "--layout and --ranks-per-site are exclusive"
    [[ "$layout" =~ ^[0-9]+(\+[0-9]+)*$ ]] || die "bad --layout '$layout' (e.g. 2+1+3)"
    IFS=+ read -r -a parts <<<"$layout"
  else
    rps=${rps:-1}
    is_uint "$rps" && (( rps >= 1 )) || die "bad --ranks-per-site $rps"
    local n=${sites:-$nsites}
    for ((s = 0; s < n; s++)); do parts+=("$rps"); done
  fi
  (( ${#parts[@]} <= nsites )) || die "layout has ${#parts[@]} sites, the lab has $nsites"
  site_of=()
  for ((s = 0; s < ${#parts[@]}; s++)); do
    (( parts[s] >= 1 )) || die "every site needs at least one rank (layout $layout)"
    for ((k = 0; k < parts[s]; k++)); do site_of+=("$s"); done
  done
  (( ${#site_of[@]} <= 256 )) || die "too many ranks"
}

kill_ranks() { # signal pids...
  local sig=$1; shift
  (( $# )) && kill "-$sig" "$@" 2>/dev/null || true
}

cmd_run() {
  need_root
  load_state
  (( ${#user_cmd[@]} )) || die "run: no program (wanlab.sh run [opts] -- CMD ARGS...)"
  make_layout "$SITES"
  local n=${#site_of[@]} r s
  is_uint "$timeout_s" || die "bad --timeout"
  if [[ -z "$port" ]]; then
    # below the ephemeral range: a port in it may be the local end of a
    # connection of an earlier run (or of this one), and rank 0's root could
    # not listen on it
    local lo=32768
    read -r lo _ < <(ip netns exec "$(site_ns 0)" cat /proc/sys/net/ipv4/ip_local_port_range) || lo=32768
    (( lo > 11024 )) || lo=32768
    port=$((10000 + (RANDOM * 32768 + RANDOM + $$) % (lo - 10000)))
  fi
  local keep_logs=1
  if [[ -z "$logdir" ]]; then logdir=$(mktemp -d /tmp/wanlab-run.XXXXXX); keep_logs=0; fi
  mkdir -p "$logdir"
  local -a pids=()
  declare -A rank_of=()
  # the rendezvous address is reachable from other "hosts": a job secret is required
  local secret=${WEFT_SECRET:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
  for ((r = 0; r < n; r++)); do
    s=${site_of[r]}
    local envs=(env "WEFT_RANK=$r" "WEFT_NRANKS=$n" WEFT_COMM_ID="$(site_ip 0):$port" WEFT_SITE="site$s"
                WEFT_HOST_ID="$prefix-s$s" WEFT_SECRET="$secret")
    if (( r == 0 )); then
      if (( all_output )); then
        ip netns exec "$(site_ns $s)" "${envs[@]}" "${user_cmd[@]}" \
          > >(tee "$logdir/rank$r.log" | sed -u "s/^/[$r] /") 2>&1 </dev/null &
      else
        ip netns exec "$(site_ns $s)" "${envs[@]}" "${user_cmd[@]}" > >(tee "$logdir/rank$r.log") 2>&1 </dev/null &
      fi
    elif (( all_output )); then
      ip netns exec "$(site_ns $s)" "${envs[@]}" "${user_cmd[@]}" \
        > >(tee "$logdir/rank$r.log" | sed -u "s/^/[$r] /") 2>&1 </dev/null &
    else
      ip netns exec "$(site_ns $s)" "${envs[@]}" "${user_cmd[@]}" >"$logdir/rank$r.log" 2>&1 </dev/null &
    fi
    pids+=($!)
    rank_of[$!]=$r
  done
  sleep "$timeout_s" & local timer=$!
  local failed=0 first_fail=-1 failed_ranks="" timed_out=0 left=$n done_pid rc grace_timer=""
  while (( left > 0 )); do
    done_pid=""
    set +e
    wait -n -p done_pid "${pids[@]}" "$timer" ${grace_timer:+"$grace_timer"}
    rc=$?
    set -e
    if [[ -z "$done_pid" ]]; then
      (( rc == 127 )) && { echo "wanlab: lost track of the ranks" >&2; failed=$((failed + 1)); break; }
      continue
    fi
    if [[ "$done_pid" == "$timer" ]]; then
      timed_out=1; break
    elif [[ -n "$grace_timer" && "$done_pid" == "$grace_timer" ]]; then
      break
    fi
    r=${rank_of[$done_pid]}
    left=$((left - 1))
    local keep=() p
    for p in "${pids[@]}"; do [[ "$p" != "$done_pid" ]] && keep+=("$p"); done
    pids=("${keep[@]}")
    if (( rc != 0 )); then
      (( failed == 0 )) && first_fail=$r
      failed=$((failed + 1))
      failed_ranks+=" $r"
      echo "wanlab: rank $r (site ${site_of[r]}) exited with status $rc" >&2
      if [[ -z "$grace_timer" ]] && (( left > 0 )); then sleep "$grace_s" & grace_timer=$!; fi
    fi
  done
  local live=()
  for p in "${pids[@]}"; do [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && live+=("$p"); done
  if (( ${#live[@]} )); then
    if (( timed_out )); then
      echo "wanlab: timeout after ${timeout_s}s: killing ${#live[@]} rank(s)" >&2
    else
      echo "wanlab: killing ${#live[@]} rank(s) still running ${grace_s}s after rank $first_fail failed" >&2
    fi
    kill_ranks TERM "${live[@]}"
    for _ in $(seq 30); do
      local any=0
      for p in "${live[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
      (( any )) || break
      sleep 0.1
    done
    kill_ranks KILL "${live[@]}"
    failed=$((failed + ${#live[@]}))
  fi
  kill "$timer" ${grace_timer:+"$grace_timer"} 2>/dev/null || true
  wait 2>/dev/null || true
  if (( failed )) && (( ! all_output )); then
    # what the failed ranks said (after a timeout: every rank)
    for ((r = 1; r < n; r++)); do
      [[ -s "$logdir/rank$r.log" ]] || continue
      if (( timed_out )) || [[ " $failed_ranks " == *" $r "* ]]; then
        echo "wanlab: --- rank $r (last lines of $logdir/rank$r.log) ---" >&2
        tail -n 15 "$logdir/rank$r.log" >&2
      fi
    done
  fi
  if (( failed )); then
    keep_logs=1
    echo "wanlab: $failed of $n rank(s) failed or were killed; logs in $logdir" >&2
    (( timed_out )) && return 124
    return 1
  fi
  (( keep_logs )) || rm -rf "$logdir"
  return 0
}

cmd_mpi() {
  need_root
  load_state
  (( ${#user_cmd[@]} )) || die "mpi: no program (wanlab.sh mpi [opts] -- CMD ARGS...)"
  command -v mpirun >/dev/null || die "mpirun not found"
  make_layout "$SITES"
  local n=${#site_of[@]} s nsites hosts="" agent
  nsites=$((site_of[n - 1] + 1))
  declare -A count=()
  for s in "${site_of[@]}"; do count[$s]=$(( ${count[$s]:-0} + 1 )); done
  for ((s = 0; s < nsites; s++)); do hosts+="${hosts:+,}$(site_ns $s):${count[$s]}"; done
  mkdir -p "$state_dir"
  # rsh agent: "agent HOST CMD..." runs CMD inside the namespace named HOST with
  # that name as its hostname (a UTS namespace of its own), like ssh would
  agent="$state_dir/nsexec.sh"
  cat >"$agent" <<'EOF'
#!/bin/sh
# rsh agent of wanlab.sh mpi: run "$2..." inside network namespace $1 as host $1
h="$1"; shift
while [ "${1#-}" != "$1" ]; do shift; done   # ssh-style options, if any
exec ip netns exec "$h" unshare --uts sh -c 'hostname "$0"; exec sh -c "$*"' "$h" "$@"
EOF
  chmod +x "$agent"
  # rank wrapper: rank 0 prints, the others write DIR/rankR.log (unless --all-output)
  local keep_logs=1
  if [[ -z "$logdir" ]]; then logdir=$(mktemp -d /tmp/wanlab-mpi.XXXXXX); keep_logs=0; fi
  mkdir -p "$logdir"
  local wrap="$state_dir/mpirank.sh"
  cat >"$wrap" <<'EOF'
#!/bin/sh
# rank wrapper of wanlab.sh mpi: $1 = log dir, $2 = all-output flag, then the program
d="$1"; all="$2"; shift 2
r="${OMPI_COMM_WORLD_RANK:-0}"
if [ "$r" = 0 ] || [ "$all" = 1 ]; then exec "$@"; fi
exec "$@" >"$d/rank$r.log" 2>&1
EOF
  chmod +x "$wrap"
  # shellcheck disable=SC2054 # the commas belong to --mca values
  local -a margs=(--allow-run-as-root --oversubscribe --bind-to none -np "$n" --host "$hosts" --map-by slot
    --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1 --mca oob_tcp_if_include 10.77.0.0/24
    --mca pml ob1 --mca btl self,vader,tcp --mca btl_tcp_if_include 10.77.0.0/24 --mca osc ^ucx)
  (( all_output )) && margs+=(--tag-output)
  local extra=()
  [[ -n "$mpirun_args" ]] && read -r -a extra <<<"$mpirun_args"
  set +e
  ip netns exec "$(site_ns 0)" unshare --uts sh -c 'hostname "$0"; exec "$@"' "$(site_ns 0)" \
    timeout -k 10 "$timeout_s" mpirun "${margs[@]}" "${extra[@]}" "$wrap" "$logdir" "$all_output" "${user_cmd[@]}"
  local rc=$?
  set -e
  if (( rc != 0 )); then
    local f
    for f in "$logdir"/rank*.log; do
      [[ -s "$f" ]] || continue
      echo "wanlab: --- $(basename "$f" .log) (last lines of $f) ---" >&2
      tail -n 15 "$f" >&2
    done
    (( rc == 124 )) && echo "wanlab: mpirun timed out after ${timeout_s}s" >&2
    echo "wanlab: mpirun failed (status $rc); logs in $logdir" >&2
  else
    (( keep_logs )) || rm -rf "$logdir"
  fi
  return $rc
}

# one line per interval: time, then Mbit/s of every direction (tbf byte counters)
cmd_watch() {
  load_state
  [[ "$interval" =~ ^[0-9]*\.?[0-9]+$ ]] || die "bad --interval"
  is_uint "$seconds" || die "bad --seconds"
  local i hdr="#   time(s)" t0 t prev=() cur=() k
  for ((i = 0; i < SITES; i++)); do hdr+=$(printf ' %9s %9s' "s$i->wan" "wan->s$i"); done
  echo "$hdr   (Mbit/s)"
  sample() {
    cur=()
    for ((i = 0; i < SITES; i++)); do
      cur+=("$(tc -n "$(site_ns $i)" -s qdisc show dev wan0 | awk '/Sent/ {print $2; exit}')")
      cur+=("$(tc -n "$wan_ns" -s qdisc show dev "s$i" | awk '/Sent/ {print $2; exit}')")
    done
  }
  t0=$(date +%s.%N); sample; prev=("${cur[@]}"); local tp=$t0
  while awk -v a="$(date +%s.%N)" -v b="$t0" -v s="$seconds" 'BEGIN { exit !(a - b < s) }'; do
    sleep "$interval"
    t=$(date +%s.%N); sample
    local line
    line=$(printf '  %8.2f' "$(awk -v a="$t" -v b="$t0" 'BEGIN { print a - b }')")
    for ((k = 0; k < ${#cur[@]}; k++)); do
      line+=$(awk -v a="${cur[k]}" -v b="${prev[k]}" -v t="$t" -v p="$tp" 'BEGIN { printf " %9.1f", (a - b) * 8 / (t - p) / 1e6 }')
    done
    echo "$line"
    prev=("${cur[@]}"); tp=$t
  done
}

cmd_check() {
  need_root
  load_state
  is_uint "$from" && is_uint "$to" && (( from < SITES && to < SITES && from != to )) || die "bad --from/--to"
  is_uint "$streams" && (( streams >= 1 && streams <= 64 )) || die "bad --streams"
  is_uint "$seconds" && (( seconds >= 3 )) || die "--seconds must be >= 3"
  local py
  py=$(command -v python3) || die "check needs python3"
  local cport=$((10000 + $$ % 20000)) before after # below the ephemeral port range
  local tmp; tmp=$(mktemp -d /tmp/wanlab-check.XXXXXX)
  # receiver: counts bytes per 100 ms; reports the average after the first 2 s (slow start) and overall
  ip netns exec "$(site_ns $to)" "$py" - "$(site_ip $to)" "$cport" "$streams" "$seconds" >"$tmp/rx" 2>&1 <<'EOF' &
import socket, sys, threading, time
host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(n); ls.settimeout(30)
print("ready", flush=True)
conns = [ls.accept()[0] for _ in range(n)]
total = [0] * n
t0 = [None]
def rx(i, c):
    buf = bytearray(1 << 20); mv = memoryview(buf)
    while True:
        k = c.recv_into(mv)
        if not k: break
        if t0[0] is None: t0[0] = time.monotonic()
        total[i] += k
ths = [threading.Thread(target=rx, args=(i, c)) for i, c in enumerate(conns)]
for t in ths: t.start()
while t0[0] is None: time.sleep(0.001)
marks = []
while any(t.is_alive() for t in ths):
    marks.append((time.monotonic(), sum(total))); time.sleep(0.1)
marks.append((time.monotonic(), sum(total)))
tend = next((t for t, b in marks if b == marks[-1][1]), marks[-1][0])
warm = next(((t, b) for t, b in marks if t >= t0[0] + 2), marks[0])
allbits = marks[-1][1] * 8 / (tend - t0[0])
steady = (marks[-1][1] - warm[1]) * 8 / max(tend - warm[0], 1e-9)
print("result %.1f %.1f %d" % (allbits / 1e6, steady / 1e6, marks[-1][1]))
EOF
  local rxpid=$!
  for _ in $(seq 100); do grep -q ready "$tmp/rx" 2>/dev/null && break; sleep 0.05; done
  before=$(qdisc_counters "$(site_ns $from)" wan0)
  ip netns exec "$(site_ns $from)" "$py" - "$(site_ip $to)" "$cport" "$streams" "$seconds" "$cc" >"$tmp/tx" 2>&1 <<'EOF' || true
import socket, sys, threading, time
host, port, n, secs, cc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rtts = []
for _ in range(10):  # SYN -> RST from a closed port: one round trip
    s = socket.socket(); t = time.monotonic()
    try: s.connect((host, port + 1))
    except ConnectionRefusedError: rtts.append(time.monotonic() - t)
    s.close()
rtts.sort()
print("rtt %.2f %.2f" % (rtts[0] * 1e3, rtts[len(rtts) // 2] * 1e3) if rtts else "rtt 0 0", flush=True)
socks = []
for _ in range(n):
    s = socket.socket()
    if cc: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    s.connect((host, port)); socks.append(s)
buf = memoryview(bytearray(4 << 20))
end = time.monotonic() + secs
def tx(s):
    while time.monotonic() < end: s.sendall(buf)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
ths = [threading.Thread(target=tx, args=(s,)) for s in socks]
for t in ths: t.start()
for t in ths: t.join()
EOF
  wait "$rxpid" || true
  after=$(qdisc_counters "$(site_ns $from)" wan0)
  local res conn
  res=$(awk '/^result/ {print $2, $3, $4}' "$tmp/rx")
  conn=$(awk '/^rtt/ {print $2, $3}' "$tmp/tx")
  if [[ -z "$res" ]]; then
    cat "$tmp/rx" "$tmp/tx" >&2; rm -rf "$tmp"; die "check failed"
  fi
  read -r all steady bytes <<<"$res"
  local rtt_min rtt_med
  read -r rtt_min rtt_med <<<"${conn:-0 0}"
  local wire
  wire=$(awk -v a="$before" -v b="$after" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1], y[3] - x[3] }')
  read -r wire_bytes drops <<<"$wire"
  awk -v all="$all" -v st="$steady" -v rb="$RATE_BITS" -v s="$streams" -v f="$from" -v t="$to" -v c="$rtt_min" -v cm="$rtt_med" \
    -v rtt="$RTT_MS" -v rate="$RATE" -v wb="$wire_bytes" -v gb="$bytes" -v d="$drops" -v cc="${cc:-$(ip netns exec "$(site_ns $from)" cat /proc/sys/net/ipv4/tcp_congestion_control)}" \
    'BEGIN {
      printf "site %d -> site %d, %d TCP stream(s) (%s), shaped %s, RTT +%s ms (measured: min %.2f ms, median %.2f ms)\n", f, t, s, cc, rate, rtt, c, cm
      printf "  goodput %.1f Mbit/s overall, %.1f Mbit/s after the first 2 s = %.1f%% of the shaped rate\n", all, st, st * 1e6 / rb * 100
      printf "  on the wire: %.2f%% header overhead, %d drops at the sender'"'"'s tbf\n", (wb - gb) / gb * 100, d
    }'
  rm -rf "$tmp"
}

case "$cmd" in
  up) cmd_up ;;
  down)
    need_root
    lab_down
    # the relay's counters, written when it exited
    [[ -f "$state_dir/relay.log" ]] && grep -E 'weft-wan-relay (exit|.*went away)' "$state_dir/relay.log" || true
    rm -rf "$state_dir"
    echo "wanlab: '$prefix' down" ;;
  show|status) cmd_show ;;
  run) cmd_run ;;
  mpi) cmd_mpi ;;
  stats) need_root; cmd_stats ;;
  check|iperf) cmd_check ;;
  watch) need_root; cmd_watch ;;
  *) die "unknown command '$cmd' (-h for help)" ;;
esac
