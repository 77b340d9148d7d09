"""Runs a function on n forked ranks of one torch.distributed process group
with backend "weft" (init_method tcp://, rank 0's TCPStore on a free port).

Forking keeps a group cheap (no torch import per rank). fn(rank, n) runs after
init_process_group; its value, or its exception's traceback, comes back by
rank. run() raises if a rank failed or did not finish within the limit.
"""
import multiprocessing as mp
import os
import socket
import sys
import traceback
from datetime import timedelta

# the ranks' reports are gathered as the Python package's tests do
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from ranks import collect  # noqa: E402

SCALE = max(1.0, float(os.environ.get("WEFT_TEST_TIME_SCALE", "1") or 1))
TIMEOUT_S = 20 * SCALE
_ctx = mp.get_context("fork")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, n, port, fn, args, resq, timeout_s, pg_options):
    try:
        import torch
        import torch.distributed as dist
        import weft.torch  # noqa: F401  registers "weft"
        torch.set_num_threads(1)
        dist.init_process_group("weft", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=n,
                                timeout=timedelta(seconds=timeout_s), pg_options=pg_options)
        value = fn(rank, n, *args)
        dist.destroy_process_group()
        resq.put((rank, True, value))
    except BaseException:
        resq.put((rank, False, traceback.format_exc()))


def run(n, fn, *args, limit=60.0, expect=None, timeout_s=TIMEOUT_S, pg_options=None):
    """fn(rank, n, *args) on ranks 0..n-1; their values by rank. expect: the
    ranks that must report (a rank that dies on purpose leaves itself out)."""
    limit *= SCALE
    expect = set(range(n)) if expect is None else set(expect)
    resq = _ctx.SimpleQueue()
    port = free_port()
    procs = [_ctx.Process(target=_rank_main, args=(r, n, port, fn, args, resq, timeout_s, pg_options))
             for r in range(n)]
    return collect(procs, resq, n, expect, limit)
