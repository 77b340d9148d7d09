"""weft.Stream: calls with stream= return once queued, complete in order, and
the stream keeps their buffers alive until it has completed them."""
import gc

import numpy as np

import ranks
import weft


def _streams(comm):
    n = comm.nranks
    out = []
    with weft.Stream() as s:
        xs = [np.full(1000, k, np.float64) for k in range(5)]
        for x in xs:
            comm.allreduce(x, stream=s)
        # buffers the caller drops stay alive on the stream (weft still writes them)
        for k in range(3):
            comm.allreduce(np.full(256, k, np.int32), stream=s)
        gc.collect()
        held = len(s._pending)
        s.synchronize()
        if held < 8:
            out.append("the stream held %d buffers, not the 8 queued ones" % held)
        if s._pending:
            out.append("synchronize left %d buffers held" % len(s._pending))
        for k, x in enumerate(xs):
            if not (x == k * n).all():
                out.append("stream allreduce %d: %s" % (k, x[:3]))
        if s.query() is not True:
            out.append("query on an idle stream is not True")
        # a group queued on the stream of its comm's first call
        a, b = np.arange(6, dtype=np.float32), np.zeros(6 * n, np.float32)
        with weft.group():
            comm.allreduce(a, stream=s)
            comm.allgather(np.full(6, comm.rank, np.float32), b)
        s.synchronize()
        if not (a == np.arange(6) * n).all() or not (b == np.repeat(np.arange(n), 6)).all():
            out.append("group on a stream: %s %s" % (a, b))
        # query while busy eventually reports completion
        big = np.ones(1 << 18, np.float32)
        comm.allreduce(big, stream=s)
        for _ in range(100000):
            if s.query():
                break
        if not (big[:4] == n).all():
            out.append("after query: %s" % big[:4])
    try:
        s.synchronize()
        out.append("synchronize on a destroyed stream: no error")
    except weft.InvalidArgumentError:
        pass
    # a stream on the host device's native queue (None)
    s2 = weft.Stream.from_native(comm, None)
    y = np.ones(3, np.uint8)
    comm.allreduce(y, stream=s2)
    s2.synchronize()
    s2.destroy()
    if y.tolist() != [n] * 3:
        out.append("from_native stream: %s" % y)
    return out


def test_streams():
    for r, out in enumerate(ranks.run(2, _streams)):
        assert not out, "rank %d:\n%s" % (r, "\n".join(out))
