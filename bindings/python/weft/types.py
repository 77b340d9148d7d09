"""weft's datatypes and reduction operations, and how Python values name them."""
import enum

import numpy as np


class DataType(enum.IntEnum):
    """weftDataType_t (NCCL numbering)."""
    int8 = 0
    uint8 = 1
    int32 = 2
    uint32 = 3
    int64 = 4
    uint64 = 5
    float16 = 6
    float32 = 7
    float64 = 8
    bfloat16 = 9

    @property
    def itemsize(self):
        return _ITEMSIZE[self]


class RedOp(enum.IntEnum):
    """weftRedOp_t."""
    sum = 0
    prod = 1
    max = 2
    min = 3
    avg = 4


_ITEMSIZE = {DataType.int8: 1, DataType.uint8: 1, DataType.int32: 4, DataType.uint32: 4,
             DataType.int64: 8, DataType.uint64: 8, DataType.float16: 2, DataType.float32: 4,
             DataType.float64: 8, DataType.bfloat16: 2}

# weft's C aliases (weftChar, weftInt, weftHalf, weftFloat, weftDouble) as names.
_ALIASES = {"char": DataType.int8, "int": DataType.int32, "half": DataType.float16,
            "float": DataType.float32, "double": DataType.float64}

# numpy (kind, itemsize) -> weft datatype; numpy has no bfloat16 (ml_dtypes'
# one is recognised by name).
_FROM_NUMPY = {("i", 1): DataType.int8, ("u", 1): DataType.uint8, ("i", 4): DataType.int32,
               ("u", 4): DataType.uint32, ("i", 8): DataType.int64, ("u", 8): DataType.uint64,
               ("f", 2): DataType.float16, ("f", 4): DataType.float32, ("f", 8): DataType.float64}

_NUMPY_OF = {DataType.int8: np.int8, DataType.uint8: np.uint8, DataType.int32: np.int32,
             DataType.uint32: np.uint32, DataType.int64: np.int64, DataType.uint64: np.uint64,
             DataType.float16: np.float16, DataType.float32: np.float32,
             DataType.float64: np.float64, DataType.bfloat16: np.uint16}


def numpy_dtype(dtype):
    """The numpy dtype that holds weft datatype `dtype` (uint16 for bfloat16)."""
    return np.dtype(_NUMPY_OF[resolve_dtype(dtype)])


_seen = {}  # numpy dtype -> DataType or None: looking at a dtype costs ~1.5 us


def from_numpy(npdtype):
    """The weft datatype of a numpy dtype, or None."""
    try:
        return _seen[npdtype]
    except KeyError:
        pass
    if npdtype.name == "bfloat16":
        dt = DataType.bfloat16
    elif not npdtype.isnative:
        dt = None
    else:
        dt = _FROM_NUMPY.get((npdtype.kind, npdtype.itemsize))
    _seen[npdtype] = dt
    return dt


def resolve_dtype(dtype):
    """A DataType from a DataType, its name or C alias, its number, or a numpy dtype."""
    if isinstance(dtype, DataType):
        return dtype
    if isinstance(dtype, str):
        name = dtype.lower()
        if name in DataType.__members__:
            return DataType[name]
        if name in _ALIASES:
            return _ALIASES[name]
    elif isinstance(dtype, int) and not isinstance(dtype, bool):
        try:
            return DataType(dtype)
        except ValueError:
            pass
    else:
        try:
            npd = np.dtype(dtype)
        except TypeError:
            npd = None
        if npd is not None and from_numpy(npd) is not None:
            return from_numpy(npd)
    raise ValueError("%r is not a weft datatype (one of %s)" % (dtype, ", ".join(DataType.__members__)))


def resolve_op(op):
    """A RedOp from a RedOp, its name (any case) or its number."""
    if isinstance(op, RedOp):
        return op
    if isinstance(op, str) and op.lower() in RedOp.__members__:
        return RedOp[op.lower()]
    if isinstance(op, int) and not isinstance(op, bool):
        try:
            return RedOp(op)
        except ValueError:
            pass
    raise ValueError("%r is not a weft reduction op (one of %s)" % (op, ", ".join(RedOp.__members__)))
