"""Errors of backend "weft" reach Python as RuntimeError with weft's message:
mismatched shapes across ranks, arguments the backend refuses, and a killed
rank, which makes the others raise well within the group's timeout."""
import os
import time

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

import torch_ranks  # noqa: E402


def _misuse(rank, n):
    bad = []

    def expect(what, fn, *needles):
        try:
            fn()
            bad.append("%s: no error" % what)
        except RuntimeError as e:
            msg = str(e)
            if not all(k.lower() in msg.lower() for k in needles):
                bad.append("%s: message %r lacks %s" % (what, msg, needles))

    # refused before anything is sent: the group stays usable
    expect("int16", lambda: dist.all_reduce(torch.ones(4, dtype=torch.int16)), "weft", "int16"[:3], "not supported")
    expect("BAND", lambda: dist.all_reduce(torch.ones(4, dtype=torch.int32), op=dist.ReduceOp.BAND), "weft",
           "reduce op")
    expect("short list", lambda: dist.all_gather([torch.empty(4)], torch.ones(4)), "list holds 1 tensors")
    expect("all_gather_into_tensor size", lambda: dist.all_gather_into_tensor(torch.empty(5), torch.ones(4)),
           "elements")
    expect("all_to_all_single split", lambda: dist.all_to_all_single(torch.empty(3), torch.ones(3)), "divide")
    expect("bad root", lambda: dist.broadcast(torch.ones(2), src=7), "root")  # c10d may catch it first
    x = torch.ones(8)
    dist.all_reduce(x)
    if not torch.equal(x, torch.full((8,), float(n))):
        bad.append("group unusable after refused calls: %s" % x.tolist())
    # mismatched shapes across ranks: weft detects it when the calls meet
    expect("mismatched shapes", lambda: dist.all_reduce(torch.ones(100 + 50 * rank)), "weft", "mismatch")
    return bad


def test_misuse_raises_clear_errors():
    assert torch_ranks.run(2, _misuse) == [[], []]


def _killed(rank, n, timeout_s):
    dist.barrier()
    if rank == n - 1:
        os._exit(0)  # dies without a word
    t0 = time.monotonic()
    try:
        x = torch.ones(1 << 18)
        for _ in range(50):
            dist.all_reduce(x)
        return "no error after %.1f s" % (time.monotonic() - t0)
    except RuntimeError as e:
        took = time.monotonic() - t0
        if took > timeout_s / 2:
            return "raised only after %.1f s (timeout %.0f s): %s" % (took, timeout_s, e)
        if "weft" not in str(e):
            return "message without weft's: %s" % e
        return None


def test_killed_rank_makes_the_others_raise():
    t = 10 * torch_ranks.SCALE
    assert torch_ranks.run(3, _killed, t, expect=[0, 1], timeout_s=t, limit=40) == [None, None, None]
