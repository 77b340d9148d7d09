#!/usr/bin/env bash
# A plain C program (weft-perf, which calls weftCommInitFromEnv) under torchrun,
# whose agent holds MASTER_PORT for its own store: static rendezvous on a given
# port and --standalone. The root takes a port derived from the run
# (docs/api.md, weftCommInitFromEnv). SKIP (77) without Debian's torch.
#   c_under_torchrun.sh WEFT_PERF
set -euo pipefail
perf=$1
/usr/bin/python3 -c 'import torch.distributed.run' 2>/dev/null || { echo "no torch for /usr/bin/python3: SKIP"; exit 77; }
# torch 1.13's torchrun under Python 3.11 needs its output redirected to start workers
run=(/usr/bin/python3 -m torch.distributed.run --nproc_per_node 2 --redirects 2 --tee 2)
for mode in "--standalone"; do  # (--master_port P takes the same path)
  out=$(timeout 120 "${run[@]}" $mode --no_python "$perf" allreduce -b 8 -e 64K -f 64 -n 2 -w 1 -c 1 2>&1) || {
    echo "$out" | tail -30
    echo "FAIL: weft-perf under torchrun $mode"
    exit 1
  }
  grep -q "Out of bounds values : 0 OK" <<<"$out" || { echo "$out" | tail -30; echo "FAIL: no result ($mode)"; exit 1; }
  echo "torchrun $mode: ok"
done
