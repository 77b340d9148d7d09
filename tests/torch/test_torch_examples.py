"""The two-site DDP example (examples/python/two_site_ddp.py) runs and passes:
4 forked ranks on 2 fake sites, an uncompressed and a bf16 run side by side,
each bitwise identical on every rank, the codec applied (it changes the
parameters) and its loss close to the uncompressed one."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

import torch_ranks  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
example = os.path.join(here, "..", "..", "examples", "python", "two_site_ddp.py")


def test_two_site_ddp_example():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, example, "--steps", "30", "--every", "10"], env=env,
                       capture_output=True, text=True, timeout=120 * torch_ranks.SCALE)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "parameters bitwise identical on every rank: none True, bf16 True" in out, out
    assert out.rstrip().endswith("PASS"), out
