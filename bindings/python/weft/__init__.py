"""weft: collective communication for Python, over libweft (include/weft.h).

    import numpy as np, weft
    comm = weft.Comm.from_env()             # or weft.Comm(nranks, uid, rank)
    grad = np.ones(1024, np.float32)
    comm.allreduce(grad, op=weft.avg)       # in place, blocking
    comm.destroy()

Reference: docs/python.md.
"""
from . import _lib
from .comm import Comm, get_unique_id, unique_id_from_hex, unique_id_to_hex
from .errors import (AbortedError, Error, InProgressError, InternalError, InvalidArgumentError,
                     InvalidUsageError, RemoteError, Result, SystemError, TimeoutError,
                     UnhandledDeviceError, error_string, last_error)
from .group import group, group_end, group_start
from .stream import Stream
from .types import DataType, RedOp, numpy_dtype

int8, uint8, int32, uint32, int64, uint64 = (DataType.int8, DataType.uint8, DataType.int32,
                                             DataType.uint32, DataType.int64, DataType.uint64)
float16, float32, float64, bfloat16 = DataType.float16, DataType.float32, DataType.float64, DataType.bfloat16
sum, prod, max, min, avg = RedOp.sum, RedOp.prod, RedOp.max, RedOp.min, RedOp.avg  # noqa: A001

#: the libweft this package loaded (see docs/python.md, "Finding libweft")
library_path = _lib.library_path
SPLIT_NOCOLOR = None


def get_version():
    """weftGetVersion of the loaded libweft: MAJOR*10000 + MINOR*100 + PATCH."""
    return _lib.version_code()


def version_info():
    """The loaded libweft's version as (major, minor, patch)."""
    v = get_version()
    return (v // 10000, v // 100 % 100, v % 100)


__version__ = "%d.%d.%d" % version_info()

__all__ = ["Comm", "Stream", "DataType", "RedOp", "Result", "Error", "UnhandledDeviceError",
           "InternalError", "InvalidArgumentError", "InvalidUsageError", "RemoteError",
           "InProgressError", "AbortedError", "get_unique_id", "unique_id_to_hex",
           "unique_id_from_hex", "group", "group_start", "group_end", "get_version",
           "version_info", "error_string", "last_error", "numpy_dtype", "int8", "uint8", "int32",
           "uint32", "int64", "uint64", "float16", "float32", "float64", "bfloat16", "avg", "prod"]
