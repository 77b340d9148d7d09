"""Run by test_torch_ddp.py under torchrun (env://): trains one small model
with DistributedDataParallel over backend "weft" and an identical one over
"gloo" (a second group in the same processes), 30 steps, several gradient
buckets, and prints the largest difference between their parameters and
whether the weft model's parameters are bitwise identical on every rank.

Exit status 0 when both hold: |weft - gloo| <= TOL elementwise, and every rank
holds the same bits."""
import os
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

import weft.torch  # noqa: F401  registers "weft"

# With 2 ranks each bucket's sum is a + b in both backends, so they agree
# exactly; with more, the summation order differs: 30 SGD steps move a float32
# parameter by about 1e-6 at most (measured 4 ranks: below 1e-6).
TOL = 1e-5
STEPS = 30


def model():
    torch.manual_seed(1234)
    return nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))


def train(group):
    m = model()
    # a 16 KiB bucket cap gives several buckets, launched while backward runs
    ddp = DDP(m, process_group=group, bucket_cap_mb=1.0 / 64)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(100 + dist.get_rank())
    for _ in range(STEPS):
        x = torch.randn(16, 32, generator=g)
        y = x[:, :1] * 0.5 - x[:, 1:2]
        loss = ((ddp(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()]), loss.item()


def main():
    torch.set_num_threads(1)
    dist.init_process_group("weft")  # env:// from torchrun
    assert dist.get_backend() == "weft", dist.get_backend()
    gloo = dist.new_group(backend="gloo")
    w, wloss = train(None)
    g, gloss = train(gloo)
    diff = (w - g).abs().max().item()
    bits = w.view(torch.int32)
    every = [torch.empty_like(bits) for _ in range(dist.get_world_size())]
    dist.all_gather(every, bits)
    same = all(torch.equal(e, bits) for e in every)
    rank = dist.get_rank()
    print("rank %d: loss weft %.6f gloo %.6f, max |weft-gloo| %.3g (tol %g), bitwise identical on every rank: %s"
          % (rank, wloss, gloss, diff, TOL, same), flush=True)
    dist.destroy_process_group()
    sys.exit(0 if diff <= TOL and same else 1)


if __name__ == "__main__":
    main()
