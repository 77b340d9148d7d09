"""Every collective x datatype x reduction op on 1-4 ranks, in place and out
of place, against a numpy reference computed locally from every rank's inputs."""
import numpy as np
import pytest

import ranks
import reference as ref
import weft

COUNT = 13  # per rank or per block; odd, so blocks are not aligned to 8 bytes


def _check(fails, what, got, want):
    if got.tobytes() != want.tobytes():
        fails.append("%s: got %s, want %s" % (what, got, want))


def _reducing(comm, fails):
    n, r = comm.nranks, comm.rank
    root = n - 1
    for dt in weft.DataType:
        for op in weft.RedOp:
            tag = "%s %s" % (dt.name, op.name)
            # allreduce
            allin = [ref.values(dt, op, k, COUNT, 1) for k in range(n)]
            want = ref.reduce(dt, op, allin)
            x = ref.encode(dt, allin[r])
            out = np.zeros_like(x)
            comm.allreduce(x, out, op, dtype=dt)
            _check(fails, "allreduce " + tag, out, want)
            comm.allreduce(x, op=op, dtype=dt)
            _check(fails, "allreduce in place " + tag, x, want)
            # reducescatter
            allin = [ref.values(dt, op, k, COUNT * n, 2) for k in range(n)]
            want = ref.reduce(dt, op, allin)[r * COUNT:(r + 1) * COUNT]
            x = ref.encode(dt, allin[r])
            out = np.zeros_like(x[:COUNT])
            comm.reducescatter(x, out, op, dtype=dt)
            _check(fails, "reducescatter " + tag, out, want)
            comm.reducescatter(x, op=op, dtype=dt)
            _check(fails, "reducescatter in place " + tag, x[r * COUNT:(r + 1) * COUNT], want)
            # reduce
            allin = [ref.values(dt, op, k, COUNT, 3) for k in range(n)]
            want = ref.reduce(dt, op, allin)
            x = ref.encode(dt, allin[r])
            out = np.zeros_like(x)
            res = comm.reduce(x, out, op, root, dtype=dt)
            if r == root:
                _check(fails, "reduce " + tag, out, want)
            elif res is not None or out.any():
                fails.append("reduce %s: a non-root's recvbuf was written" % tag)
            comm.reduce(x, None, op, root, dtype=dt)
            if r == root:
                _check(fails, "reduce in place " + tag, x, want)


def _moving(comm, fails):
    n, r = comm.nranks, comm.rank
    root = n // 2
    for dt in weft.DataType:
        tag = dt.name
        enc = [ref.encode(dt, ref.values(dt, weft.sum, k, COUNT * n, 4)) for k in range(n)]
        # allgather: block k of the result is rank k's input
        want = np.concatenate([e[:COUNT] for e in enc])
        out = np.zeros_like(want)
        comm.allgather(enc[r][:COUNT], out, dtype=dt)
        _check(fails, "allgather " + tag, out, want)
        buf = np.zeros_like(want)
        buf[r * COUNT:(r + 1) * COUNT] = enc[r][:COUNT]
        comm.allgather(None, buf, dtype=dt)
        _check(fails, "allgather in place " + tag, buf, want)
        # broadcast
        out = np.zeros_like(enc[r])
        comm.broadcast(enc[r] if r == root else None, out, root, dtype=dt)
        _check(fails, "broadcast " + tag, out, enc[root])
        buf = enc[r].copy()
        comm.broadcast(buf, root=root, dtype=dt)
        _check(fails, "broadcast in place " + tag, buf, enc[root])
        # alltoall: block k of rank r's result is block r of rank k's input
        want = np.concatenate([enc[k][r * COUNT:(r + 1) * COUNT] for k in range(n)])
        out = np.zeros_like(want)
        comm.alltoall(enc[r], out, dtype=dt)
        _check(fails, "alltoall " + tag, out, want)
        # send/recv around the ring in one group (n == 1: a send to oneself)
        out = np.zeros_like(enc[r][:COUNT])
        with weft.group():
            comm.send(enc[r][:COUNT], (r + 1) % n, dtype=dt)
            comm.recv(out, (r - 1) % n, dtype=dt)
        _check(fails, "send/recv " + tag, out, enc[(r - 1) % n][:COUNT])


def _matrix(comm):
    fails = []
    _reducing(comm, fails)
    _moving(comm, fails)
    return fails


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_matrix(n):
    for r, fails in enumerate(ranks.run(n, _matrix)):
        assert not fails, "rank %d:\n%s" % (r, "\n".join(fails[:20]))
