"""Inputs and numpy references for the collective matrix.

Inputs are small integers (as in tests/mp/test_coll_matrix.c's exact classes),
so that every sum and product is exact in every datatype, fp16 and bf16
included, and the reference does not depend on the reduction order. bf16
values are carried as their bits in uint16 arrays.
"""
import numpy as np

import weft

DT = weft.DataType
FLOATS = (DT.float16, DT.float32, DT.float64, DT.bfloat16)
UNSIGNED = (DT.uint8, DT.uint32, DT.uint64)


def bf16_from_f32(x):
    """float32 -> bfloat16 bits, round to nearest even (finite values)."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_to_f32(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def values(dt, op, rank, count, salt):
    """The exact values (as float64 / int64) rank contributes."""
    i = np.arange(count, dtype=np.int64) + salt
    if op == weft.prod:
        pick = (i * 5 + rank * 3) % 4
        table = np.array([1, 2, 3, 1]) if dt in UNSIGNED else np.array([1, 2, -1, -2])
        return table[pick]
    if dt in UNSIGNED:
        return (i * 3 + rank * 5) % 6
    return (i * 3 + rank * 5) % 7 - 3


def encode(dt, v):
    """Values -> the array weft reads (bf16: bits)."""
    if dt == DT.bfloat16:
        return bf16_from_f32(np.asarray(v, np.float32))
    return np.asarray(v).astype(weft.numpy_dtype(dt))


def decode(dt, a):
    """An array weft wrote -> float64 or int64 values, for comparison."""
    if dt == DT.bfloat16:
        return bf16_to_f32(a).astype(np.float64)
    return a.astype(np.float64 if dt in FLOATS else np.int64) if dt != DT.uint64 else a.astype(np.uint64)


def reduce(dt, op, per_rank):
    """The reduction over ranks of exact values, as weft's dtype computes it."""
    stack = np.stack(per_rank).astype(np.int64)
    n = len(per_rank)
    if op in (weft.sum, weft.avg):
        r = stack.sum(axis=0)
    elif op == weft.prod:
        r = stack.prod(axis=0)
    elif op == weft.max:
        r = stack.max(axis=0)
    else:
        r = stack.min(axis=0)
    if dt not in FLOATS:
        wrapped = encode(dt, r)  # wraps modulo 2^bits, like weft
        if op != weft.avg:
            return wrapped
        w = wrapped.astype(np.int64) if dt != DT.uint64 else wrapped.astype(np.uint64)
        q = np.abs(w) // n * np.sign(w) if dt not in UNSIGNED else w // n  # truncates toward 0
        return encode(dt, q)
    if op != weft.avg:
        return encode(dt, r)
    if dt == DT.float64:
        return encode(dt, r.astype(np.float64) / n)
    q = np.float32(1) * r.astype(np.float32) / np.float32(n)  # fp16/bf16 average in fp32
    return encode(dt, q.astype(np.float32))
