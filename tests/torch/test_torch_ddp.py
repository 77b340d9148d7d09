"""DistributedDataParallel over backend "weft", launched by torchrun
(python3 -m torch.distributed.run, env://): 30 steps give the parameters
gloo gives (within ddp_check.TOL) and bitwise identical ones on every rank."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

import torch_ranks  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))


def test_ddp_under_torchrun_matches_gloo():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(here, "..", "..", "bindings", "python"),
                                         env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    # a port of its own (--standalone would take 29400, shared with any other run)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(torch_ranks.free_port()),
           # torch 1.13 on Python 3.11 (Debian 12) fails with its default "0" here: docs/torch.md
           "--redirects", "2", "--tee", "2", "--monitor_interval", "0.1",
           os.path.join(here, "ddp_check.py")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120 * torch_ranks.SCALE)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    for rank in (0, 1):
        assert "rank %d: loss weft" % rank in out and "every rank: True" in out, out
