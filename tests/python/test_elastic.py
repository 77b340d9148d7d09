"""Comm.shrink / grow_id / grow / join: 4 ranks train; rank 2 is SIGKILLed;
the survivors' call fails, they shrink to 3, grow back to 4 with a joiner
that was waiting for the grow id, and every rank of the grown comm checks an
allreduce exactly. Also: shrink with an excluded rank, and refused input."""
import os
import signal

import numpy as np
import pytest

import ranks
import weft

N, VICTIM, COUNT = 4, 2, 1003  # odd count: every algorithm's remainder path


def _expected(n):
    return np.full(COUNT, sum(range(1, n + 1)), dtype=np.float32)


def _sum_check(comm, what):
    x = np.full(COUNT, comm.rank + 1, dtype=np.float32)
    comm.allreduce(x)
    assert np.array_equal(x, _expected(comm.nranks)), "%s: rank %d got %s" % (what, comm.rank, x[:4])


def _member(rank, uidq, gidq, resq):
    try:
        comm = weft.Comm(N, ranks.share_uid(rank, N, uidq), rank, timeout_ms=ranks.TIMEOUT_MS)
        _sum_check(comm, "before")
        if rank == VICTIM:
            os.kill(os.getpid(), signal.SIGKILL)
        with pytest.raises(weft.Error) as failed:
            _sum_check(comm, "with a dead rank")
        small = comm.shrink(abort=True)
        comm.destroy()
        assert small.nranks == N - 1
        assert small.rank == (rank if rank < VICTIM else rank - 1)
        _sum_check(small, "shrunk")
        gid = np.zeros(weft._lib.WEFT_UNIQUE_ID_BYTES, dtype=np.uint8)
        if small.rank == 0:
            gid[:] = np.frombuffer(small.grow_id(), dtype=np.uint8)
            gidq.put(gid.tobytes())  # to the joiner
        small.broadcast(gid, root=0)
        big = small.grow(N, gid.tobytes())
        small.destroy()
        assert big.nranks == N and big.rank == small.rank
        _sum_check(big, "grown")
        big.destroy()
        resq.put((rank, True, str(failed.value)))
    except BaseException:
        import traceback
        resq.put((rank, False, traceback.format_exc()))


def _joiner(gidq, resq):
    try:
        comm = weft.Comm.join(N, gidq.get(), N - 1, timeout_ms=ranks.TIMEOUT_MS)
        assert comm.nranks == N and comm.rank == N - 1
        _sum_check(comm, "joined")
        comm.destroy()
        resq.put((N, True, None))
    except BaseException:
        import traceback
        resq.put((N, False, traceback.format_exc()))


def test_shrink_after_a_kill_then_grow():
    ctx = ranks._ctx
    uidq, gidq, resq = ctx.SimpleQueue(), ctx.SimpleQueue(), ctx.SimpleQueue()
    procs = [ctx.Process(target=_member, args=(r, uidq, gidq, resq)) for r in range(N)]
    procs.append(ctx.Process(target=_joiner, args=(gidq, resq)))
    expect = [r for r in range(N + 1) if r != VICTIM]
    out = ranks.collect(procs, resq, N + 1, set(expect), 90 * ranks.SCALE)
    for r in range(N):
        if r != VICTIM:
            # every survivor names the dead rank as the cause
            assert "rank %d" % VICTIM in out[r], "rank %d blamed: %s" % (r, out[r])


def _exclude(comm):
    # every rank calls it; the excluded one gets an error naming why
    try:
        small = comm.shrink(exclude=[1])
    except weft.Error as e:
        return "left out: %s" % e if comm.rank == 1 else "rank %d: %s" % (comm.rank, e)
    _sum_check(small, "excluding rank 1")
    out = (small.rank, small.nranks)
    small.destroy()
    return out


def test_shrink_excluding_a_rank():
    out = ranks.run(3, _exclude)
    assert out[0] == (0, 2) and out[2] == (1, 2), out
    assert out[1].startswith("left out"), out


def _bad_args(comm):
    msgs = []
    for kwargs in ({"exclude": [comm.nranks]}, {"exclude": ["x"]}):
        try:
            comm.shrink(**kwargs)
            msgs.append("%s: no error" % kwargs)
        except weft.InvalidArgumentError:
            pass
    try:
        weft.Comm.join(comm.nranks + 1, b"\0" * weft._lib.WEFT_UNIQUE_ID_BYTES, comm.nranks)
        msgs.append("join with a zero id: no error")
    except weft.InvalidArgumentError:
        pass
    return msgs


def test_refused_input():
    assert ranks.run(2, _bad_args) == [[], []]
