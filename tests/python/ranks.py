"""Runs a function on n forked ranks of one weft communicator.

The ranks are forked before any weft thread exists (the pytest process never
creates a unique id or a comm); rank 0 creates the id and hands it to the
others through a pipe, as tools/launch does. Each rank returns fn's value or
the traceback of its exception; run() raises if any rank failed or did not
finish within the limit.
"""
import multiprocessing as mp
import os
import signal
import time
import traceback

import weft

# WEFT_TEST_TIME_SCALE (tests/README.md) stretches the limits on a slow machine.
SCALE = max(1.0, float(os.environ.get("WEFT_TEST_TIME_SCALE", "1") or 1))
# A comm timeout short enough that a hang fails the test quickly, long enough
# for 4 ranks on 2 busy cores.
TIMEOUT_MS = int(20000 * SCALE)
_ctx = mp.get_context("fork")


def share_uid(rank, n, uidq):
    """Rank 0 makes the job's unique id and hands it to the n - 1 others
    through uidq; every rank returns it."""
    if rank != 0:
        return uidq.get()
    uid = weft.get_unique_id()
    for _ in range(n - 1):
        uidq.put(uid)
    return uid


def _rank_main(rank, n, fn, args, uidq, resq, config):
    try:
        comm = weft.Comm(n, share_uid(rank, n, uidq), rank, **config)
        value = fn(comm, *args)
        if comm._handle is not None:
            comm.destroy()
        resq.put((rank, True, value))
    except BaseException:
        resq.put((rank, False, traceback.format_exc()))


def run(n, fn, *args, limit=60.0, expect=None, **config):
    """fn(comm, *args) on ranks 0..n-1; returns their values by rank.
    expect: the ranks that must report (default: all; a rank that exits on
    purpose leaves itself out)."""
    config.setdefault("timeout_ms", TIMEOUT_MS)
    limit *= SCALE
    expect = set(range(n)) if expect is None else set(expect)
    uidq, resq = _ctx.SimpleQueue(), _ctx.SimpleQueue()
    procs = [_ctx.Process(target=_rank_main, args=(r, n, fn, args, uidq, resq, config)) for r in range(n)]
    return collect(procs, resq, n, expect, limit)


def collect(procs, resq, n, expect, limit):
    """Starts procs, gathers (rank, ok, value) from resq until every rank of
    expect reported or limit seconds passed, kills what is left; raises
    with every failure, else returns the values by rank (None: no report)."""
    for p in procs:
        p.start()
    results, deadline = {}, time.monotonic() + limit
    try:
        while len(results) < len(expect) and time.monotonic() < deadline:
            if resq.empty():
                if all(not p.is_alive() for p in procs) and resq.empty():
                    break
                time.sleep(0.005)
                continue
            rank, ok, value = resq.get()
            results[rank] = (ok, value)
    finally:
        for p in procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join()
    failed = ["rank %d:\n%s" % (r, v) for r, (ok, v) in sorted(results.items()) if not ok]
    missing = sorted(expect - set(results))
    if missing:
        failed.append("ranks %s did not finish within %.0f s" % (missing, limit))
    if failed:
        raise AssertionError("\n".join(failed))
    return [results[r][1] if r in results else None for r in range(n)]
