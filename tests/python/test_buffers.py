"""Buffer-protocol objects, explicit datatypes, and the binding's own checks:
a bad argument raises weft.InvalidArgumentError with a clear message (and
never reaches libweft, so it cannot crash the interpreter)."""
import array

import numpy as np
import pytest

import ranks
import reference as ref
import weft


def _buffer_objects(comm):
    n, r = comm.nranks, comm.rank
    got = {}
    # bytearray: uint8 sum, in place and out of place
    b = bytearray([r + 1] * 5)
    comm.allreduce(b)
    got["bytearray in place"] = list(b)
    out = bytearray(5)
    comm.allreduce(bytes([r + 1] * 5), out)  # read-only bytes as the send buffer
    got["bytes -> bytearray"] = list(out)
    # array.array: the element type comes from the typecode
    a = array.array("d", [r + 0.5, 2.0 * r])
    comm.allreduce(a, op=weft.max)
    got["array.array('d') max"] = list(a)
    ai = array.array("i", [r] * 3)
    outi = array.array("i", [0] * (3 * n))
    comm.allgather(ai, outi)
    got["array.array('i') allgather"] = list(outi)
    # memoryview over part of a numpy array
    base = np.full(8, r + 1, np.int64)
    comm.allreduce(memoryview(base)[2:6])
    got["memoryview slice"] = base.tolist()
    # explicit dtype: bfloat16 in a uint16 array, float32 over raw bytes
    bf = ref.bf16_from_f32(np.array([1.5, -2.0, 0.25], np.float32) * (r + 1))
    comm.allreduce(bf, dtype=weft.bfloat16)
    got["bfloat16 in uint16"] = ref.bf16_to_f32(bf).tolist()
    raw = bytearray(np.array([r, 1.0], np.float32).tobytes())
    comm.allreduce(raw, dtype="float")
    got["float32 over a bytearray"] = np.frombuffer(raw, np.float32).tolist()
    # ctypes array (a format numpy reads)
    import ctypes
    ca = (ctypes.c_int32 * 2)(r, 1)
    comm.broadcast(ca, root=n - 1)
    got["ctypes array broadcast"] = list(ca)
    return got


def test_buffer_protocol_objects():
    n = 2
    tri = n * (n + 1) // 2
    for r, got in enumerate(ranks.run(n, _buffer_objects)):
        assert got["bytearray in place"] == [tri] * 5
        assert got["bytes -> bytearray"] == [tri] * 5
        assert got["array.array('d') max"] == [n - 0.5, 2.0 * (n - 1)]
        assert got["array.array('i') allgather"] == [k for k in range(n) for _ in range(3)]
        assert got["memoryview slice"] == [r + 1] * 2 + [tri] * 4 + [r + 1] * 2
        assert got["bfloat16 in uint16"] == [1.5 * tri, -2.0 * tri, 0.25 * tri]
        assert got["float32 over a bytearray"] == [sum(range(n)), float(n)]
        assert got["ctypes array broadcast"] == [n - 1, 1]


def _misuse(comm):
    """Each bad call, with the message it must give; all on a live comm."""
    f4 = np.zeros(4, np.float32)
    cases = [
        (lambda: comm.allreduce(np.zeros((4, 4), np.float32)[:, 1]), "not contiguous"),
        (lambda: comm.allreduce(b"abcd"), "read-only"),
        (lambda: comm.allreduce(f4, np.zeros(4, np.float32)[:3]), "holds 4 elements but recvbuf 3"),
        (lambda: comm.allreduce(f4, np.zeros(4, np.float64)), "sendbuf is float32 but recvbuf is float64"),
        (lambda: comm.allreduce(np.zeros(3, np.complex64)), "complex64, which is not a weft datatype"),
        (lambda: comm.allreduce(np.zeros(3, np.int16)), "pass dtype=weft.bfloat16"),
        (lambda: comm.allreduce(f4, dtype=weft.float64), "4-byte elements (float32), but dtype float64"),
        (lambda: comm.allreduce(bytearray(5), dtype=weft.int32), "5 bytes, not a whole number of int32"),
        (lambda: comm.allreduce(f4, dtype="float128"), "'float128' is not a weft datatype"),
        (lambda: comm.allreduce(f4, op="mean"), "'mean' is not a weft reduction op"),
        (lambda: comm.allreduce([1.0, 2.0]), "a list, which is neither a numpy array nor"),
        (lambda: comm.allreduce(None), "sendbuf is None"),
        (lambda: comm.broadcast(f4, root=comm.nranks), "root %d is not a rank" % comm.nranks),
        (lambda: comm.send(f4, -1), "peer -1 is not a rank"),
        (lambda: comm.allgather(f4, np.zeros(5, np.float32)), "recvbuf holds 5 elements, not nranks"),
        (lambda: comm.reducescatter(np.zeros(3, np.float32)), "are not 2 equal blocks"),
        (lambda: comm.alltoall(f4, f4[:2]), "holds 4 elements but recvbuf 2"),
        (lambda: comm.allreduce(f4, stream="s"), "not a weft.Stream"),
        (lambda: comm.split(2 ** 40), "does not fit a C int"),
        (lambda: weft.Comm(2, b"short", 0), "holds 5 bytes, not 128"),
        (lambda: weft.Comm(1, weft.get_unique_id(), 0, algo=3), "must be a str"),
    ]
    out = []
    for i, (call, want) in enumerate(cases):
        try:
            call()
            out.append("case %d: no error (want %r)" % (i, want))
        except weft.InvalidArgumentError as e:
            if want not in str(e):
                out.append("case %d: %r does not say %r" % (i, str(e), want))
    # an argument error inside a group makes the whole group launch nothing
    x = np.ones(4, np.float32)
    try:
        with weft.group():
            comm.allreduce(x)
            comm.allreduce(x, np.zeros(3, np.float32))
        out.append("group with a bad call: no error")
    except weft.InvalidArgumentError as e:
        if "holds 4 elements but recvbuf 3" not in str(e):
            out.append("group: %s" % e)
    if x.tolist() != [1.0] * 4:
        out.append("group with a bad call launched its good call: %s" % x)
    # the comm is still usable, and still matched across ranks
    comm.allreduce(x)
    if x.tolist() != [comm.nranks] * 4:
        out.append("allreduce after the errors: %s" % x)
    comm.destroy()
    try:
        comm.allreduce(x)
        out.append("call on a destroyed comm: no error")
    except weft.InvalidArgumentError as e:
        if "destroyed" not in str(e):
            out.append("destroyed comm: %s" % e)
    return out


def test_misuse_raises_clear_errors():
    for r, out in enumerate(ranks.run(2, _misuse)):
        assert not out, "rank %d:\n%s" % (r, "\n".join(out))


def test_dtypes_and_ops_resolve():
    assert weft.DataType.bfloat16.itemsize == 2
    assert weft.numpy_dtype("half") == np.float16
    assert weft.numpy_dtype(weft.bfloat16) == np.uint16
    assert weft.types.resolve_dtype(np.dtype("<f8")) == weft.float64
    assert weft.types.resolve_dtype(9) == weft.bfloat16
    assert weft.types.resolve_op("AVG") == weft.avg
    with pytest.raises(ValueError):
        weft.types.resolve_dtype(np.dtype(">f4"))
