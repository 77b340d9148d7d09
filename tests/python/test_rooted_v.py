"""gather, scatter, barrier, the v-variants and stats() from Python: exact
results against a local reference on 3 ranks (ragged blocks with an empty
one, in place where the call allows), a stream, and argument errors."""
import numpy as np
import pytest

import ranks
import weft


def _calls(comm):
    n, me, out = comm.nranks, comm.rank, []
    # gather / scatter on root 1, in place on the root too
    x = np.arange(5, dtype=np.int32) + 10 * me
    g = np.zeros(5 * n, np.int32) if me == 1 else None
    comm.gather(x, g, root=1)
    want = np.concatenate([np.arange(5, dtype=np.int32) + 10 * r for r in range(n)])
    if me == 1 and not (g == want).all():
        out.append("gather: %s" % g)
    if me == 1:
        g2 = want.copy()
        g2[5 * me:5 * me + 5] = x
        comm.gather(None, g2, root=1)
        if not (g2 == want).all():
            out.append("gather in place: %s" % g2)
    else:
        comm.gather(x, None, root=1)
    src = np.arange(4 * n, dtype=np.float64) if me == 1 else None
    sc = np.zeros(4, np.float64)
    comm.scatter(src, sc, root=1)
    if not (sc == np.arange(4 * me, 4 * me + 4)).all():
        out.append("scatter: %s" % sc)
    comm.barrier()
    # allgatherv: ragged blocks, rank 1's empty, with gaps between them
    counts = [3, 0, 5][:n] + [2] * max(0, n - 3)
    displs = [sum(counts[:i]) + i for i in range(n)]
    total = displs[-1] + counts[-1] + 1
    recv = np.full(total, -1, np.int64)
    comm.allgatherv(np.full(counts[me], me + 1, np.int64), recv, counts, displs)
    ref = np.full(total, -1, np.int64)
    for r in range(n):
        ref[displs[r]:displs[r] + counts[r]] = r + 1
    if not (recv == ref).all():
        out.append("allgatherv: %s" % recv)
    # reducescatterv, out of place and in place
    send = np.arange(sum(counts), dtype=np.float32) * (me + 1)
    mine = np.zeros(counts[me], np.float32)
    comm.reducescatterv(send, mine, counts)
    lo = sum(counts[:me])
    full = np.arange(sum(counts), dtype=np.float32) * sum(range(1, n + 1))
    if not (mine == full[lo:lo + counts[me]]).all():
        out.append("reducescatterv: %s" % mine)
    send2 = np.arange(sum(counts), dtype=np.float32) * (me + 1)
    comm.reducescatterv(send2, None, counts)
    if not (send2[lo:lo + counts[me]] == full[lo:lo + counts[me]]).all():
        out.append("reducescatterv in place: %s" % send2)
    # alltoallv: rank r sends r + j + 1 elements to rank j (on a stream)
    sc_ = [me + j + 1 for j in range(n)]
    rc_ = [r + me + 1 for r in range(n)]
    sbuf = np.concatenate([np.full(c, 100 * me + j, np.int32) for j, c in enumerate(sc_)])
    rbuf = np.zeros(sum(rc_), np.int32)
    with weft.Stream() as s:
        comm.alltoallv(sbuf, sc_, None, rbuf, rc_, None, stream=s)
        s.synchronize()
    ref = np.concatenate([np.full(c, 100 * r + me, np.int32) for r, c in enumerate(rc_)])
    if not (rbuf == ref).all():
        out.append("alltoallv: %s" % rbuf)
    # errors: sizes that do not match, counts of the wrong length
    for call in (lambda: comm.allgatherv(np.zeros(99, np.int64), recv, counts, displs),
                 lambda: comm.reducescatterv(send, mine, counts[:-1]),
                 lambda: comm.alltoallv(sbuf, sc_, None, rbuf[:1], rc_, None)):
        try:
            call()
            out.append("a bad call raised nothing")
        except weft.InvalidArgumentError:
            pass
    st = comm.stats()
    if st["calls"] < 8 or not st["callsByAlgo"] or st["failedCalls"] != 0:
        out.append("stats: %s" % st)
    return out


def test_rooted_and_v():
    for r, out in enumerate(ranks.run(3, _calls)):
        assert not out, "rank %d:\n%s" % (r, "\n".join(out))
