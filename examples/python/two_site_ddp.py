#!/usr/bin/python3
"""DistributedDataParallel across two (fake) sites with weft: the same model
trained twice side by side, once with the WAN codec bf16 and once
uncompressed, printing both loss curves.

    /usr/bin/python3 examples/python/two_site_ddp.py [--steps 200] [--codec bf16]
    torchrun --nproc_per_node 4 examples/python/two_site_ddp.py     # the same under torchrun

A 64-512-1 MLP (33,793 parameters, so each step's gradient bucket is 135 KB,
above the 64 KiB from which weft compresses the hierarchical allreduce's hops
between sites; both runs name that algorithm, see train()) learns a
synthetic regression task from a fixed random teacher. Without torchrun the
script forks 4 ranks here. The first half of the ranks is site "dc-a", the
other half "dc-b": each rank's site comes from weft.torch.Options(site=...),
and its WEFT_HOST_ID is its site's name, so that the ranks of a site share a
fake host (shm between them) and the sites talk over tcp, as weft-perf -S
does (docs/torch.md, docs/codecs.md).

Both models start from the same weights and see the same minibatches. The
uncompressed one runs in the default process group (codec "none"), the
other in a second weft group whose Options name the codec. The script checks
that each model's parameters are bitwise identical on every rank, and that
the codec's final loss is within 5% (or 0.01) of the uncompressed one. Exit
status: 0 pass, 1 fail.
"""
import argparse
import multiprocessing as mp
import os
import socket
import sys
from datetime import timedelta

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
sys.path.insert(0, os.path.join(root, "bindings", "python"))
os.environ.setdefault("WEFT_LIBRARY", os.path.join(root, "build", "libweft.so"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

D, H, BATCH, LR = 64, 512, 32, 0.05


def site_of(rank, nranks):
    return "dc-a" if rank < (nranks + 1) // 2 else "dc-b"


def model():
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(D, H), nn.Tanh(), nn.Linear(H, 1))


def train(rank, nranks, args):
    import weft.torch
    torch.set_num_threads(1)
    site = site_of(rank, nranks)
    # a fake host per site: its ranks use shm, the sites tcp (read at init)
    os.environ["WEFT_HOST_ID"] = site
    sites = lambda r: site_of(r, nranks)  # noqa: E731
    # Both runs use the hierarchical algorithm, the one that crosses sites in
    # one hop per rank pair and where a WAN codec applies: with fake sites on
    # one host and no topology file describing a slow WAN, the tuner sees no
    # slow link and would keep a flat algorithm, on which no codec runs.
    dist.init_process_group("weft", pg_options=weft.torch.Options(site=sites, codec="none", algo="hier"),
                            timeout=timedelta(seconds=120), **args.init)
    coded = dist.new_group(backend="weft", pg_options=weft.torch.Options(site=sites, codec=args.codec, algo="hier"))
    runs = {"none": (None, model()), args.codec: (coded, model())}
    ddps = {k: DDP(m, process_group=g) for k, (g, m) in runs.items()}
    opts = {k: torch.optim.SGD(d.parameters(), lr=LR, momentum=0.9) for k, d in ddps.items()}

    teacher = torch.Generator().manual_seed(99)
    w_true = torch.randn(D, 1, generator=teacher)
    data = torch.Generator().manual_seed(1000 + rank)  # each rank its own shard
    evalx = torch.randn(1024, D, generator=torch.Generator().manual_seed(5))
    evaly = torch.tanh(evalx @ w_true)
    curve = []
    for step in range(1, args.steps + 1):
        x = torch.randn(BATCH, D, generator=data)
        y = torch.tanh(x @ w_true) + 0.05 * torch.randn(BATCH, 1, generator=data)
        for k, d in ddps.items():
            loss = ((d(x) - y) ** 2).mean()
            opts[k].zero_grad()
            loss.backward()
            opts[k].step()
        if step % args.every == 0 or step == args.steps:
            with torch.no_grad():
                curve.append((step, *(((runs[k][1](evalx) - evaly) ** 2).mean().item() for k in ddps)))
    # every rank must hold the same bits (weft's codecs keep the sites in step)
    same = {}
    for k, (g, m) in runs.items():
        bits = torch.cat([p.detach().reshape(-1) for p in m.parameters()]).view(torch.int32)
        every = [torch.empty_like(bits) for _ in range(nranks)]
        dist.all_gather(every, bits)
        same[k] = all(torch.equal(e, bits) for e in every)
    pa = torch.cat([p.detach().reshape(-1) for p in runs["none"][1].parameters()])
    pb = torch.cat([p.detach().reshape(-1) for p in runs[args.codec][1].parameters()])
    dist.destroy_process_group()
    return curve, same, (pa - pb).abs().max().item(), site


def rank_main(rank, nranks, port, args, q):
    try:
        args.init = dict(init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=nranks)
        q.put((rank, train(rank, nranks, args), None))
    except BaseException as e:
        import traceback
        q.put((rank, None, "%s\n%s" % (e, traceback.format_exc())))


def report(nranks, args, curve, same, diff):
    print("DDP over weft, %d ranks on 2 fake sites (dc-a, dc-b), %d steps; eval loss (MSE, 1024 samples):"
          % (nranks, args.steps))
    print("%6s %12s %12s" % ("step", "none", args.codec))
    for step, a, b in curve:
        print("%6d %12.6f %12.6f" % (step, a, b))
    final_a, final_b = curve[-1][1], curve[-1][2]
    close = abs(final_b - final_a) <= max(0.01, 0.05 * final_a)
    print("parameters bitwise identical on every rank: none %s, %s %s" % (same["none"], args.codec,
                                                                             same[args.codec]))
    print("largest parameter difference %s vs none: %.3g (the codec rounds the partial sums crossing sites)" % (args.codec, diff))
    # a lossy codec that changed nothing was not applied at all
    applied = diff > 0 or args.codec == "none"
    ok = close and applied and all(same.values()) and curve[-1][1] < curve[0][1]
    print("PASS" if ok else "FAIL: %s" % ("loss off" if not close else "ranks disagree" if not all(same.values())
                                          else "the codec changed nothing: not applied" if not applied
                                          else "did not learn"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--every", type=int, default=20, help="print the losses every this many steps")
    ap.add_argument("--codec", default="bf16", help="WAN codec of the second run (bf16, fp16, int8, ...)")
    ap.add_argument("--ranks", type=int, default=4, help="ranks to fork without torchrun")
    args = ap.parse_args()
    if args.codec.lower() == "none":
        ap.error("--codec: the run to compare with the uncompressed one needs a codec (bf16, fp16, int8, ...)")
    if "RANK" in os.environ:  # torchrun: env://
        rank, nranks = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        args.init = {}
        curve, same, diff, _ = train(rank, nranks, args)
        return report(nranks, args, curve, same, diff) if rank == 0 else 0
    ctx = mp.get_context("fork")
    q = ctx.SimpleQueue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [ctx.Process(target=rank_main, args=(r, args.ranks, port, args, q)) for r in range(args.ranks)]
    for p in procs:
        p.start()
    results = {}
    for _ in procs:
        rank, value, err = q.get()
        if err:
            for p in procs:
                p.kill()
            print("rank %d failed: %s" % (rank, err), file=sys.stderr)
            return 1
        results[rank] = value
    for p in procs:
        p.join()
    curve, same, diff, _ = results[0]
    return report(args.ranks, args, curve, same, diff)


if __name__ == "__main__":
    sys.exit(main())
