"""Every op x dtype x ReduceOp of backend "weft" against a reference computed
locally from every rank's inputs, on 1-4 ranks (one process group per size),
and async handles (Work.wait/is_completed/get_future, a call that returns
before its peers arrive).

Inputs are small integers, so sums and products are exact in every dtype
(float16 and bfloat16 included) whatever the reduction order; AVG of floats
is compared within one unit in the last place of the dtype, AVG of integers
exactly (weft divides with truncation)."""
import time

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

import torch_ranks  # noqa: E402

R = dist.ReduceOp
DTYPES = [torch.int8, torch.uint8, torch.int32, torch.int64, torch.float16, torch.bfloat16, torch.float32,
          torch.float64]
OPS = [R.SUM, R.PRODUCT, R.MIN, R.MAX, R.AVG]
OP_NAMES = ["SUM", "PRODUCT", "MIN", "MAX", "AVG"]
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def values(dt, op, rank, count, salt):
    """The exact values rank contributes (int64)."""
    i = torch.arange(count, dtype=torch.int64) + salt
    if op == R.PRODUCT:
        table = torch.tensor([1, 2, 3, 1] if dt == torch.uint8 else [1, 2, -1, -2])
        return table[(i * 5 + rank * 3) % 4]
    if dt == torch.uint8:
        return (i * 3 + rank * 5) % 6
    return (i * 3 + rank * 5) % 7 - 3


def reference(dt, op, per_rank):
    s = torch.stack(per_rank)
    n = len(per_rank)
    if op in (R.SUM, R.AVG):
        r = s.sum(0)
    elif op == R.PRODUCT:
        r = s.prod(0)
    elif op == R.MIN:
        r = s.min(0).values
    else:
        r = s.max(0).values
    if op == R.AVG:
        return (r.double() / n).to(dt) if dt in FLOATS else torch.div(r, n, rounding_mode="trunc").to(dt)
    return r.to(dt)


def close(dt, op, got, want):
    if op == R.AVG and dt in FLOATS:
        return torch.allclose(got.double(), want.double(), rtol=torch.finfo(dt).eps, atol=0)
    return torch.equal(got, want)


def _matrix(rank, n):
    bad = []

    def check(name, dt, op, got, want):
        if not close(dt, op, got, want):
            bad.append("%s %s %s: got %s, want %s" % (name, dt, OP_NAMES[OPS.index(op)], got.tolist()[:8], want.tolist()[:8]))

    count, salt = 5, 0
    for dt in DTYPES:
        for op in OPS:
            salt += 1
            per = [values(dt, op, r, count, salt) for r in range(n)]
            want = reference(dt, op, per)
            t = per[rank].to(dt, copy=True)
            dist.all_reduce(t, op=op)
            check("all_reduce", dt, op, t, want)
            # not contiguous: every other element of a larger tensor
            big = torch.zeros(2 * count, dtype=dt)
            big[::2] = per[rank].to(dt, copy=True)
            dist.all_reduce(big[::2], op=op)
            check("all_reduce strided", dt, op, big[::2], want)
            root = salt % n
            t = per[rank].to(dt, copy=True)
            dist.reduce(t, dst=root, op=op)
            if rank == root:
                check("reduce", dt, op, t, want)
            # reduce_scatter: rank r's input is n blocks; block j goes to rank j
            full = [values(dt, op, r, count * n, salt) for r in range(n)]
            want_rs = reference(dt, op, full).narrow(0, rank * count, count)
            out = torch.empty(count, dtype=dt)
            dist.reduce_scatter(out, list(full[rank].to(dt, copy=True).chunk(n)), op=op)
            check("reduce_scatter", dt, op, out, want_rs)
            out = torch.empty(count, dtype=dt)
            dist.reduce_scatter(out, [c.clone() for c in full[rank].to(dt, copy=True).chunk(n)], op=op)
            check("reduce_scatter (separate inputs)", dt, op, out, want_rs)
            out = torch.empty(count, dtype=dt)
            dist.reduce_scatter_tensor(out, full[rank].to(dt, copy=True), op=op)
            check("reduce_scatter_tensor", dt, op, out, want_rs)
        salt += 1
        per = [values(dt, R.SUM, r, count, salt) for r in range(n)]
        root = salt % n
        t = per[rank].to(dt, copy=True) if rank == root else torch.zeros(count, dtype=dt)
        dist.broadcast(t, src=root)
        check("broadcast", dt, R.SUM, t, per[root].to(dt, copy=True))
        want = torch.cat(per).to(dt, copy=True)
        outs = [torch.empty(count, dtype=dt) for _ in range(n)]
        dist.all_gather(outs, per[rank].to(dt, copy=True))
        check("all_gather", dt, R.SUM, torch.cat(outs), want)
        flat = torch.empty(n * count, dtype=dt)
        dist.all_gather(list(flat.chunk(n)), per[rank].to(dt, copy=True))  # in place into one buffer
        check("all_gather (chunks)", dt, R.SUM, flat, want)
        flat = torch.empty(n * count, dtype=dt)
        dist.all_gather_into_tensor(flat, per[rank].to(dt, copy=True))
        check("all_gather_into_tensor", dt, R.SUM, flat, want)
        root = (salt + 1) % n
        outs = [torch.empty(count, dtype=dt) for _ in range(n)] if rank == root else None
        dist.gather(per[rank].to(dt, copy=True), outs, dst=root)
        if rank == root:
            check("gather", dt, R.SUM, torch.cat(outs), torch.cat(per).to(dt))
        out = torch.empty(count, dtype=dt)
        dist.scatter(out, [p.to(dt, copy=True) for p in per] if rank == root else None, src=root)
        check("scatter", dt, R.SUM, out, per[rank].to(dt, copy=True))
        # all_to_all: block j of rank r's input goes to rank j
        full = [values(dt, R.SUM, r, count * n, salt) for r in range(n)]
        want = torch.cat([full[r].narrow(0, rank * count, count) for r in range(n)]).to(dt, copy=True)
        out = torch.empty(n * count, dtype=dt)
        dist.all_to_all_single(out, full[rank].to(dt, copy=True))
        check("all_to_all_single", dt, R.SUM, out, want)
        outs = [torch.empty(count, dtype=dt) for _ in range(n)]
        dist.all_to_all(outs, list(full[rank].to(dt, copy=True).chunk(n)))
        check("all_to_all", dt, R.SUM, torch.cat(outs), want)
        # uneven splits: rank r sends j+1 rows to rank j, so receives rank+1 rows from each
        rows = [values(dt, R.SUM, r, n * (n + 1) // 2 * 2, salt).view(-1, 2) for r in range(n)]
        starts = [j * (j + 1) // 2 for j in range(n)]
        want = torch.cat([rows[r][starts[rank]:starts[rank] + rank + 1] for r in range(n)]).to(dt, copy=True)
        out = torch.empty(n * (rank + 1), 2, dtype=dt)
        dist.all_to_all_single(out, rows[rank].to(dt, copy=True), output_split_sizes=[rank + 1] * n,
                               input_split_sizes=[j + 1 for j in range(n)])
        check("all_to_all_single uneven", dt, R.SUM, out, want)
        if n > 1:  # a ring; even ranks send first, odd ones receive first
            t = torch.empty(count, dtype=dt)
            nxt, prv = (rank + 1) % n, (rank - 1) % n
            if rank % 2 == 0:
                dist.send(per[rank].to(dt, copy=True), nxt)
                dist.recv(t, prv)
            else:
                dist.recv(t, prv)
                dist.send(per[rank].to(dt, copy=True), nxt)
            check("send/recv", dt, R.SUM, t, per[prv].to(dt, copy=True))
    # one larger message (several chunks, both algorithms' long path)
    x = torch.arange(70001, dtype=torch.float32) + rank
    dist.all_reduce(x)
    check("all_reduce 70001", torch.float32, R.SUM, x, (torch.arange(70001, dtype=torch.float32) * n
                                                        + n * (n - 1) / 2))
    dist.barrier()
    return bad


# inline: the default (small calls run on the caller's thread while nothing is
# pending) and 0 (every call queued on a stream)
@pytest.mark.parametrize("n,inline", [(1, None), (2, None), (2, 0), (3, None), (3, 0), (4, None), (4, 0)])
def test_every_op_dtype_reduceop(n, inline):
    import weft.torch
    opts = weft.torch.Options(inline_bytes=inline)
    assert torch_ranks.run(n, _matrix, limit=90, pg_options=opts) == [[]] * n


def _async(rank, n):
    bad = []
    # 256 KiB, above the size up to which calls on an idle group run inline
    x = torch.full((1 << 16,), float(rank + 1))
    if rank == 1:
        time.sleep(0.5)  # rank 0's call must return before this rank arrives
    stamp = time.time()  # rank 1: when it called; rank 0: when its call returned
    w = dist.all_reduce(x, async_op=True)
    if rank == 0:
        stamp = time.time()
        if w.is_completed():
            bad.append("is_completed() is True before the peer arrived")
    w.wait()
    if not w.is_completed() or not torch.equal(x, torch.full((1 << 16,), float(n * (n + 1) // 2))):
        bad.append("after wait: completed %s, x %s" % (w.is_completed(), x[:3].tolist()))
    # several in flight, waited in reverse; futures carry the results
    ts = [torch.full((10 + k,), float(k + rank)) for k in range(6)]
    works = [dist.all_reduce(t, op=dist.ReduceOp.MAX, async_op=True) for t in ts]
    fut = works[2].get_future()
    for w in reversed(works):
        w.wait()
    got = fut.wait()
    if not torch.equal(got[0], torch.full((12,), float(2 + n - 1))):
        bad.append("future value %s" % got)
    for k, t in enumerate(ts):
        if not torch.equal(t, torch.full((10 + k,), float(k + n - 1))):
            bad.append("async op %d: %s" % (k, t[:3].tolist()))
    # polling is_completed() alone finishes an op (and copies a strided result back)
    big = torch.zeros(20)
    view = big[::2]
    view.fill_(1.0)
    w = dist.all_reduce(view, async_op=True)
    deadline = time.monotonic() + 10
    while not w.is_completed() and time.monotonic() < deadline:
        time.sleep(0.001)
    if not torch.equal(big[::2], torch.full((10,), float(n))) or big[1::2].any():
        bad.append("polled strided result %s" % big.tolist())
    # the future of a list all_gather is completed by the watcher thread
    outs = [torch.empty(3) for _ in range(n)]
    fut = dist.all_gather(outs, torch.full((3,), float(rank)), async_op=True).get_future()
    fut.wait()
    if not torch.equal(torch.cat(outs), torch.arange(n).repeat_interleave(3).float()):
        bad.append("all_gather future: %s" % outs)
    # a small call on an idle group runs inline: done when it returns
    small = torch.ones(4)
    w = dist.all_reduce(small, async_op=True)
    if not w.is_completed() or not torch.equal(small, torch.full((4,), float(n))):
        bad.append("a small call on an idle group did not run inline: %s" % small.tolist())
    w.wait()
    return bad, stamp


def test_async_handles():
    (bad0, returned), (bad1, arrived) = torch_ranks.run(2, _async)
    assert bad0 == [] and bad1 == []
    assert returned < arrived, "async all_reduce blocked rank 0 until rank 1 called it"


def _sites(rank, n):
    import os
    import tempfile

    import weft.torch
    # fake hosts per site (read at init), and weft's INFO log into a file
    os.environ["WEFT_HOST_ID"] = "site%d" % rank
    log = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        g = dist.new_group(backend="weft", pg_options=weft.torch.Options(
            site=["dc-a", "dc-b"], codec="bf16", log_level=2))
        x = torch.full((1 << 15,), float(rank + 1))  # 128 KiB: above the codec's threshold
        dist.all_reduce(x, group=g)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    log.seek(0)
    text = log.read().decode(errors="replace")
    bad = []
    if not torch.equal(x, torch.full((1 << 15,), 3.0)):  # 1 + 2: exact in bf16 too
        bad.append("sum over the sites: %s" % x[:4].tolist())
    for needle in ("in 2 sites", "site dc-%s" % "ab"[rank], "WAN codec bf16"):
        if needle not in text:
            bad.append("weft's log lacks %r:\n%s" % (needle, text[-2000:]))
    return bad


def test_pg_options_set_site_and_codec():
    """weft.torch.Options reaches weftConfig_t: per-rank sites (a list) and the
    WAN codec, as weft's INFO log reports them."""
    assert torch_ranks.run(2, _sites) == [[], []]
