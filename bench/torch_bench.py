#!/usr/bin/python3
"""torch.distributed bandwidth of backend "weft" against "gloo", side by side.

    /usr/bin/python3 bench/torch_bench.py [--ranks 2,4] [--ops all_reduce,all_gather,reduce_scatter]
                                          [--min-bytes 8] [--max-bytes 64M] [--reps 5] [--csv FILE]

For each number of ranks it forks that many processes on this host; each
opens a default process group with backend "weft" (init_method tcp://) and a
second one with backend "gloo" over the same ranks, so both run in the same
processes on the same tensors. For each collective and size the two backends
are timed in turns (weft, gloo, weft, gloo, ... --reps times), each turn a
barrier of that backend and then a loop of blocking calls; a turn's time is
the slowest rank's mean per call, and the table shows the median of the
turns. Columns as nccl-tests: size (bytes of the whole buffer: all_reduce's
tensor, all_gather's output, reduce_scatter's input), count, type, and per
backend time (us), algbw and busbw (GB/s); ratio is weft's busbw over gloo's
(gloo's time over weft's). busbw = algbw x 2(n-1)/n for all_reduce and
(n-1)/n for all_gather and reduce_scatter. Both backends use the list form of
all_gather and reduce_scatter, with views into one flat buffer (gloo 1.13
has no tensor form). gloo 1.13 has no reduce_scatter at all: its column
there is what a gloo user does instead, an all_reduce of the whole buffer
and a copy of the rank's block.

weft.torch is found as the tests find it: WEFT_LIBRARY names the build tree's
libweft.so (default: build/libweft.so next to this folder), and the extension
lies beside it. Reference figures: docs/performance.md.
"""
import argparse
import shutil
import subprocess
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from datetime import timedelta

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "bindings", "python"))
os.environ.setdefault("WEFT_LIBRARY", os.path.join(here, "..", "build", "libweft.so"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

OPS = ("all_reduce", "all_gather", "reduce_scatter")
BUSBW = {"all_reduce": lambda n: 2.0 * (n - 1) / n, "all_gather": lambda n: (n - 1) / n,
         "reduce_scatter": lambda n: (n - 1) / n}


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("B").rstrip("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def sizes(lo, hi):
    """8 B to 32 KiB by 4x (the latency range), then 128K, 512K, 1M, 4M, 16M, 64M."""
    out, s = [], lo
    while s <= min(hi, 32 << 10):
        out.append(s)
        s *= 4
    for s in (128 << 10, 512 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20):
        if lo <= s <= hi and s not in out:
            out.append(s)
    return out


def iters_for(nbytes):
    """Enough calls per turn that a turn takes some ms even at 8 bytes, and
    at least 5 at any size: a turn of one call would time mostly how far
    apart the ranks left the barrier."""
    return max(5, min(200, (8 << 20) // max(nbytes, 1) // 8 + 1))


def one_call(op, group, buf, parts, out, rank, gloo):
    if op == "all_reduce":
        dist.all_reduce(buf, group=group)
    elif op == "all_gather":
        dist.all_gather(parts, out, group=group)
    elif gloo:  # gloo 1.13 has no reduce_scatter: what its users do instead
        dist.all_reduce(buf, group=group)
        out.copy_(parts[rank])
    else:
        dist.reduce_scatter(out, parts, group=group)


def rank_main(rank, n, port, args, resq):
    try:
        import weft.torch  # noqa: F401
        torch.set_num_threads(1)
        dist.init_process_group("weft", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=n,
                                timeout=timedelta(seconds=120))
        groups = {"weft": None, "gloo": dist.new_group(backend="gloo")}
        rows = []
        for op in args.ops:
            for nbytes in sizes(args.min_bytes, args.max_bytes):
                count = max(1, nbytes // 4)  # float32 elements of the whole buffer
                if op != "all_reduce":
                    count = max(n, count // n * n)
                buf = torch.zeros(count, dtype=torch.float32)  # zeros: sums stay finite
                block = count // n
                if op == "all_gather":
                    parts, out = list(buf.chunk(n)), torch.zeros(block)
                elif op == "reduce_scatter":
                    parts, out = list(buf.chunk(n)), torch.empty(block)
                else:
                    parts = out = None
                iters = iters_for(count * 4)
                times = {"weft": [], "gloo": []}
                for name, g in groups.items():  # warm-up: connections, plans
                    one_call(op, g, buf, parts, out, rank, name == "gloo")
                for _ in range(args.reps):
                    for name, g in groups.items():
                        dist.barrier(group=g)
                        t0 = time.perf_counter()
                        for _ in range(iters):
                            one_call(op, g, buf, parts, out, rank, name == "gloo")
                        t = torch.tensor([(time.perf_counter() - t0) / iters])
                        dist.all_reduce(t, op=dist.ReduceOp.MAX)  # the slowest rank's
                        times[name].append(t.item())
                rows.append((op, count * 4, count, {k: statistics.median(v) for k, v in times.items()}))
        dist.destroy_process_group()
        resq.put((rank, rows, None))
    except BaseException as e:  # report, do not hang the others' parent
        import traceback
        resq.put((rank, None, "%s\n%s" % (e, traceback.format_exc())))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(n, args):
    ctx = mp.get_context("fork")
    resq = ctx.SimpleQueue()
    port = free_port()
    procs = [ctx.Process(target=rank_main, args=(r, n, port, args, resq)) for r in range(n)]
    for p in procs:
        p.start()
    results = {}
    for _ in range(n):
        rank, rows, err = resq.get()
        if err:
            for p in procs:
                p.kill()
            sys.exit("rank %d failed: %s" % (rank, err))
        results[rank] = rows
    for p in procs:
        p.join()
    return results[0]


def plot(prefix, n, rows):
    """One PNG per collective: busbw of weft and gloo (log-log) and gloo/weft time."""
    for op in sorted({r[0] for r in rows}):
        f = BUSBW[op](n)
        data = "".join("%d %.6g %.6g %.4g\n" % (size, size / t["weft"] / 1e9 * f, size / t["gloo"] / 1e9 * f,
                                                 t["gloo"] / t["weft"])
                       for o, size, _, t in rows if o == op)
        out = "%s-%s-np%d.png" % (prefix, op, n)
        script = """set terminal pngcairo size 900,520 noenhanced
set output '%s'
set logscale x 2
set logscale y 10
set format x '%%.0b%%B'
set xlabel 'message size'
set ylabel 'bus bandwidth (GB/s)'
set y2label 'weft speed-up over gloo (x)'
set y2tics
set logscale y2 10
set format y '%%g'
set format y2 '%%g'
set key top left
set grid
set title 'torch.distributed %s, %d ranks: weft vs gloo (medians of interleaved turns)'
plot '-' using 1:2 with linespoints title 'weft', '-' using 1:3 with linespoints title 'gloo', \\
     '-' using 1:4 axes x1y2 with lines dashtype 2 title 'ratio (right axis)'
%se
%se
%se
""" % (out, op, n, data, data, data)
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
        print("# plot: %s" % out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", default="2,4", help="numbers of ranks, comma-separated (default 2,4)")
    ap.add_argument("--ops", default=",".join(OPS), help="collectives (default all three)")
    ap.add_argument("--min-bytes", default="8")
    ap.add_argument("--max-bytes", default="64M")
    ap.add_argument("--reps", type=int, default=5, help="turns per backend and size (median shown)")
    ap.add_argument("--csv", help="also write the rows to this file")
    ap.add_argument("--plot", metavar="PREFIX",
                    help="also draw PREFIX-<op>-np<N>.png: busbw of both and their ratio per size (needs gnuplot)")
    args = ap.parse_args()
    if args.plot and not shutil.which("gnuplot"):
        sys.exit("--plot needs gnuplot (Debian: apt-get install gnuplot-nox)")
    args.ops = [o for o in args.ops.split(",") if o]
    for o in args.ops:
        if o not in OPS:
            sys.exit("unknown op %s (have %s)" % (o, ", ".join(OPS)))
    args.min_bytes, args.max_bytes = parse_size(args.min_bytes), parse_size(args.max_bytes)
    csv = open(args.csv, "w") if args.csv else None
    if csv:
        csv.write("nranks,op,size,count,weft_us,weft_algbw,weft_busbw,gloo_us,gloo_algbw,gloo_busbw,ratio\n")
    print("# torch %s, float32, sum; median of %d interleaved turns; time = slowest rank's mean per call"
          % (torch.__version__, args.reps))
    for n in [int(x) for x in args.ranks.split(",") if x]:
        rows = run(n, args)
        if args.plot:
            plot(args.plot, n, rows)
        last = None
        for op, size, count, t in rows:
            if op != last:
                print("\n# %s, %d ranks" % (op, n))
                print("# %12s %12s %6s %6s | %10s %8s %8s | %10s %8s %8s | %7s" % (
                    "size(B)", "count", "type", "redop", "weft(us)", "algbw", "busbw", "gloo(us)", "algbw",
                    "busbw", "ratio"))
                last = op
            f = BUSBW[op](n)
            cells = []
            for name in ("weft", "gloo"):
                us = t[name] * 1e6
                alg = size / t[name] / 1e9
                cells += [us, alg, alg * f]
            ratio = t["gloo"] / t["weft"]
            print("  %12d %12d %6s %6s | %10.1f %8.3f %8.3f | %10.1f %8.3f %8.3f | %6.2fx" % (
                size, count, "float", "sum" if op != "all_gather" else "none", *cells, ratio))
            if csv:
                csv.write("%d,%s,%d,%d,%s,%.3f\n" % (n, op, size, count, ",".join("%.4g" % c for c in cells), ratio))
        sys.stdout.flush()
    if csv:
        csv.close()


if __name__ == "__main__":
    main()
