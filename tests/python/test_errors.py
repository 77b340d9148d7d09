"""Errors from libweft reach Python as weft.Error subclasses carrying weft's
own message: config errors, mismatched calls, a dead peer (within the
timeout), abort from another thread; and the version."""
import os
import re
import threading
import time

import numpy as np
import pytest

import ranks
import weft


def test_version():
    code = weft.get_version()
    here = os.path.dirname(os.path.abspath(__file__))
    header = open(os.path.join(here, "..", "..", "include", "weft.h")).read()
    parts = [int(re.search(r"#define WEFT_%s (\d+)" % p, header).group(1)) for p in ("MAJOR", "MINOR", "PATCH")]
    assert weft.version_info() == tuple(parts)
    assert code == parts[0] * 10000 + parts[1] * 100 + parts[2]
    assert weft.__version__ == "%d.%d.%d" % tuple(parts)


def test_error_classes():
    assert issubclass(weft.InvalidArgumentError, weft.Error)
    assert issubclass(weft.InvalidArgumentError, ValueError)
    for res in weft.Result:
        if res != weft.Result.Success:
            err = weft.errors.make(res, "f")
            assert isinstance(err, weft.Error) and err.result == res
    assert weft.error_string(weft.Result.Timeout) == "operation timed out"


def _bad_config(comm):
    out = []
    try:
        weft.Comm(1, weft.get_unique_id(), 0, algo="bogus")
        out.append("algo=bogus: no error")
    except weft.InvalidArgumentError as e:
        if "bogus" not in e.message:
            out.append("algo=bogus: weft's message is missing: %r" % e.message)
    try:
        weft.unique_id_from_hex("zz" * 128)
        out.append("bad hex id: no error")
    except weft.InvalidArgumentError as e:
        if not e.message:
            out.append("bad hex id: no message")
    return out


def test_config_errors_carry_weft_message():
    assert ranks.run(1, _bad_config) == [[]]


def _mismatch(comm):
    x = np.ones(100 + 50 * comm.rank, np.float32)
    try:
        comm.allreduce(x)
    except weft.InvalidUsageError as e:
        return ("InvalidUsageError", e.message)
    except weft.Error as e:  # the other rank may see the connection closed first
        return (type(e).__name__, e.message)
    return ("no error", "")


def test_mismatched_sizes_raise():
    res = ranks.run(2, _mismatch, timeout_ms=5000)
    assert all(kind != "no error" for kind, _ in res), res
    assert any(kind == "InvalidUsageError" and "count differs" in msg for kind, msg in res), res


def _dead_peer(comm):
    x = np.ones(1000, np.float32)
    comm.allreduce(x)
    if comm.rank == 1:
        os._exit(0)
    t0 = time.monotonic()
    try:
        comm.allreduce(x)
        return ("no error", 0.0, "")
    except weft.Error as e:
        return (type(e).__name__, time.monotonic() - t0, e.message)


def test_dead_peer_raises_within_timeout():
    res = ranks.run(2, _dead_peer, expect=[0], timeout_ms=3000, limit=30)
    kind, took, msg = res[0]
    assert kind in ("RemoteError", "TimeoutError"), res[0]
    assert took < 3.0 + 2.0 * ranks.SCALE, res[0]
    assert "rank 1" in msg, msg


def _abort_from_thread(comm):
    if comm.rank == 1:
        time.sleep(0.5)  # rank 0 blocks in allreduce meanwhile
        comm.abort()
        return "aborted"
    threading.Timer(0.2, comm.abort).start()
    try:
        comm.allreduce(np.ones(4, np.float32))
        return "no error"
    except weft.Error as e:
        return type(e).__name__


def test_abort_from_another_thread():
    res = ranks.run(2, _abort_from_thread, timeout_ms=10000)
    assert res[0] in ("AbortedError", "RemoteError"), res
    with pytest.raises(weft.InvalidArgumentError):
        weft.Comm(0, b"\0" * 128, 0)
