"""Turns numpy arrays and buffer-protocol objects into (address, count,
datatype), checking everything libweft cannot see: that the memory is
contiguous, writable where weft writes, and as large as the call needs."""
import numpy as np

from . import types
from .errors import InvalidArgumentError


class Buf:
    """A checked view of a user's buffer. `arr` keeps the user's object (and
    its buffer export) alive while weft may touch the memory."""
    __slots__ = ("arr", "ptr", "nbytes", "dtype", "count")

    def offset(self, elements):
        """The address `elements` elements into the buffer."""
        return self.ptr + elements * self.dtype.itemsize


def as_array(fn, name, obj):
    if isinstance(obj, np.ndarray):
        return obj
    try:
        mv = memoryview(obj)
    except TypeError:
        raise InvalidArgumentError("%s is a %s, which is neither a numpy array nor an object with the "
                                   "buffer protocol" % (name, type(obj).__name__), fn) from None
    except ValueError as e:  # a released memoryview
        raise InvalidArgumentError("%s: %s" % (name, e), fn) from None
    try:
        return np.asarray(mv)
    except (TypeError, ValueError, NotImplementedError):
        # A format numpy does not read (e.g. ctypes' structures): raw bytes,
        # usable with an explicit dtype.
        if not mv.contiguous:
            raise InvalidArgumentError("%s is not contiguous in memory" % name, fn) from None
        return np.frombuffer(mv.cast("B"), dtype=np.uint8)


def view(fn, name, obj, dtype, writable):
    """A Buf over obj. dtype: None (from obj's element type) or a DataType
    that either has obj's element size or reinterprets raw bytes (itemsize 1)."""
    if obj is None:
        raise InvalidArgumentError("%s is None" % name, fn)
    arr = as_array(fn, name, obj)
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        raise InvalidArgumentError("%s is not contiguous in memory (strides %s); pass a contiguous copy, "
                                   "e.g. numpy.ascontiguousarray" % (name, arr.strides), fn)
    if writable and not arr.flags.writeable:
        raise InvalidArgumentError("%s is read-only, but weft writes the result into it" % name, fn)
    natural = types.from_numpy(arr.dtype)
    if dtype is None:
        if natural is None:
            hint = " (for bfloat16 data in 16-bit integers pass dtype=weft.bfloat16)" if arr.dtype.itemsize == 2 else ""
            raise InvalidArgumentError("%s has element type %s, which is not a weft datatype%s"
                                       % (name, arr.dtype, hint), fn)
        dtype = natural
    elif arr.dtype.itemsize not in (1, dtype.itemsize):
        raise InvalidArgumentError("%s has %d-byte elements (%s), but dtype %s has %d-byte ones"
                                   % (name, arr.dtype.itemsize, arr.dtype, dtype.name, dtype.itemsize), fn)
    if arr.nbytes % dtype.itemsize:
        raise InvalidArgumentError("%s holds %d bytes, not a whole number of %s elements"
                                   % (name, arr.nbytes, dtype.name), fn)
    b = Buf()
    b.arr = arr
    b.ptr = arr.__array_interface__["data"][0]
    b.nbytes = arr.nbytes
    b.dtype = dtype
    b.count = arr.nbytes // dtype.itemsize
    return b


def resolve_dtype(fn, dtype):
    if dtype is None:
        return None
    try:
        return types.resolve_dtype(dtype)
    except ValueError as e:
        raise InvalidArgumentError(str(e), fn) from None


def same_dtype(fn, a, an, b, bn):
    if a.dtype != b.dtype:
        raise InvalidArgumentError("%s is %s but %s is %s; pass dtype= to say which"
                                   % (an, a.dtype.name, bn, b.dtype.name), fn)
